"""The rejection log over HTTP: list it in pages, replay it."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.errors import handles_errors
from chalicelib.api.jobs import submit
from chalicelib.api.parsing import JSON_BODIES, json_object, optional_string, page, table_names
from chalicelib.api.responses import paged
from chalicelib.api.stage import database
from chalicelib.rules.dictionary import table as dictionary_table

blueprint = Blueprint(__name__)


@blueprint.route("/rejections", methods=["GET"], api_key_required=True)
@handles_errors
def list_rejections():
    after, limit = page(blueprint.current_request)
    name = (blueprint.current_request.query_params or {}).get("table")
    if name is not None:
        name = dictionary_table(name).name
    entries = database().list_rejections(name, after=after, limit=limit)
    return paged([e.to_dict() for e in entries], limit, lambda e: e["id"])


@blueprint.route("/rejections/replay", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@handles_errors
def replay_rejections():
    body = json_object(blueprint.current_request)
    table_names(body), optional_string(body, "source")  # a 400 saying what is expected, before any job
    return submit("replay", body)
