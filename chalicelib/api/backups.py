"""Backups and restores over HTTP: create and list backups, restore a table from one."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.errors import ApiError, handles_errors
from chalicelib.api.parsing import JSON_BODIES, json_object, positive_int, table_names
from chalicelib.api.responses import json_response
from chalicelib.api.stage import backup_store, database
from chalicelib.backups import service as backups
from chalicelib.rules.dictionary import table as dictionary_table

blueprint = Blueprint(__name__)


@blueprint.route("/backups", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@handles_errors
def create_backup():
    body = json_object(blueprint.current_request)
    tables = backups.tables_named(table_names(body))
    manifest = backups.create_backup(database(), backup_store(), tables, source="api")
    return json_response(backups.summary(manifest), 201)


@blueprint.route("/backups", methods=["GET"], api_key_required=True)
@handles_errors
def list_backups():
    limit = (blueprint.current_request.query_params or {}).get("limit")
    limit = positive_int(limit, "limit") if limit is not None else None
    return {"items": backups.list_backups(backup_store(), limit)}


@blueprint.route("/restores/{table}", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@handles_errors
def restore_table(table):
    tbl = dictionary_table(table)
    body = json_object(blueprint.current_request)
    with_dependents = body.get("with_dependents", False)
    if not isinstance(with_dependents, bool):
        raise ApiError(400, "invalid request", "with_dependents must be true or false")
    store = backup_store()
    return backups.restore(database(), store, body.get("backup"), tbl, with_dependents=with_dependents)
