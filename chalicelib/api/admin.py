"""`/admin/schema`: create the tables, or drop them all with an explicit confirmation.
`/admin/tables/{table}/truncate`: empty one table (and, asked to cascade, the tables referencing it)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.errors import ApiError, handles_errors
from chalicelib.api.parsing import JSON_BODIES, json_object
from chalicelib.api.responses import json_response
from chalicelib.api.stage import admin_database, database
from chalicelib.loading import updates
from chalicelib.rules.dictionary import table as dictionary_table

blueprint = Blueprint(__name__)
DROP_CONFIRMATION = "drop-all-data"


@blueprint.route("/admin/schema", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@handles_errors
def create_schema():
    json_object(blueprint.current_request)  # no fields yet; a body that is not strict JSON is refused alike
    admin_database().create_schema()
    return json_response({"schema": "created"}, 201)


@blueprint.route("/admin/schema", methods=["DELETE"], api_key_required=True)
@handles_errors
def drop_schema():
    if (blueprint.current_request.query_params or {}).get("confirm") != DROP_CONFIRMATION:
        raise ApiError(400, "confirmation required", f"pass ?confirm={DROP_CONFIRMATION} to drop every table")
    admin_database().drop_schema()
    return {"schema": "dropped"}


@blueprint.route("/admin/tables/{table}/truncate", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@handles_errors
def truncate_table(table):
    tbl = dictionary_table(table)
    body = json_object(blueprint.current_request)
    unknown = sorted(set(body) - {"cascade"})
    if unknown:
        raise ApiError(400, "invalid body", f"unknown field(s): {', '.join(unknown)}; the body may hold only cascade")
    cascade = body.get("cascade", False)
    if not isinstance(cascade, bool):
        raise ApiError(400, "invalid body", f"cascade must be true or false, got {cascade!r}")
    return {"truncated": updates.truncate_table(database(), tbl, cascade=cascade)}
