"""Backups and restores over HTTP: create and list backups, restore a table from one."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.errors import handles_errors
from chalicelib.api.jobs import submit
from chalicelib.api.parsing import JSON_BODIES, json_object, positive_int, table_names
from chalicelib.api.stage import backup_store
from chalicelib.backups import service as backups

blueprint = Blueprint(__name__)


@blueprint.route("/backups", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@handles_errors
def create_backup():
    body = json_object(blueprint.current_request)
    table_names(body)  # a 400 saying what is expected, before any job
    return submit("backup", body)


@blueprint.route("/backups", methods=["GET"], api_key_required=True)
@handles_errors
def list_backups():
    limit = (blueprint.current_request.query_params or {}).get("limit")
    limit = positive_int(limit, "limit") if limit is not None else None
    return {"items": backups.list_backups(backup_store(), limit)}


@blueprint.route("/restores/{table}", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@handles_errors
def restore_table(table):
    return submit("restore", {**json_object(blueprint.current_request), "table": table})
