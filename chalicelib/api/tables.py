"""The three tables over HTTP: batch insert, list in pages, get, replace (PUT), change (PATCH) and delete
one row."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.errors import ApiError, handles_errors
from chalicelib.api.parsing import JSON_BODIES, batch_rows, json_body, page, row_id
from chalicelib.api.responses import batch_status, json_response, paged
from chalicelib.api.stage import database
from chalicelib.loading import ingest, updates
from chalicelib.rules.dictionary import table as dictionary_table
from chalicelib.rules.validation import row_to_dict

blueprint = Blueprint(__name__)


@blueprint.route("/{table}", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@handles_errors
def insert_batch(table):
    tbl = dictionary_table(table)
    rows = batch_rows(blueprint.current_request)
    result = ingest.insert_batch(database(), tbl, enumerate(rows), source="api")
    body = {
        "table": tbl.name,
        "received": len(rows),
        "inserted": result.inserted,
        "unchanged": result.unchanged,
        "rejected": [{"index": c.position, "row": c.raw, "reasons": c.reasons} for c in result.rejected],
    }
    return json_response(body, batch_status(result.inserted, result.unchanged, len(result.rejected)))


@blueprint.route("/{table}", methods=["GET"], api_key_required=True)
@handles_errors
def list_rows(table):
    tbl = dictionary_table(table)
    after, limit = page(blueprint.current_request)
    rows = [row_to_dict(tbl, r) for r in database().list_rows(tbl, after, limit)]
    return paged(rows, limit, lambda r: r["id"])


@blueprint.route("/{table}/{id}", methods=["GET"], api_key_required=True)
@handles_errors
def get_row(table, id):
    tbl = dictionary_table(table)
    key = row_id(id)
    row = database().get_row(tbl, key) if key is not None else None
    if row is None:
        raise ApiError(404, "not found", f"{tbl.name} {id} does not exist")
    return row_to_dict(tbl, row)


@blueprint.route("/{table}/{id}", methods=["DELETE"], api_key_required=True)
@handles_errors
def delete_row(table, id):
    tbl = dictionary_table(table)
    key = row_id(id)
    row = database().delete_row(tbl, key) if key is not None else None
    if row is None:
        raise ApiError(404, "not found", f"{tbl.name} {id} does not exist")
    return {"deleted": row_to_dict(tbl, row)}


@blueprint.route("/{table}/{id}", methods=["PUT"], api_key_required=True, content_types=JSON_BODIES)
@handles_errors
def replace_row(table, id):
    return _update(table, id, replace=True)


@blueprint.route("/{table}/{id}", methods=["PATCH"], api_key_required=True, content_types=JSON_BODIES)
@handles_errors
def change_row(table, id):
    return _update(table, id, replace=False)


def _update(table: str, id: str, replace: bool) -> dict:
    tbl = dictionary_table(table)
    key = row_id(id)
    if key is None:
        raise ApiError(404, "not found", f"{tbl.name} {id} does not exist")
    fields = json_body(blueprint.current_request)
    if not isinstance(fields, dict):
        raise ApiError(400, "invalid body", f"the body must be a JSON object with fields of {tbl.name}")
    try:
        result = updates.update_row(database(), tbl, key, fields, replace=replace)
    except updates.UpdateRejected as exc:
        raise ApiError(422, "row rejected", {"id": key, "reasons": exc.reasons}) from None
    if result is None:
        raise ApiError(404, "not found", f"{tbl.name} {key} does not exist")
    return {"row": result.row, "changed": result.changed}
