"""CSV files over HTTP: a body loaded like a file from S3, or a presigned URL to put a big one in S3."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.errors import handles_errors
from chalicelib.api.parsing import JSON_BODIES, json_object
from chalicelib.api.responses import batch_status, json_response
from chalicelib.api.stage import database, settings
from chalicelib.loading import uploads
from chalicelib.rules.dictionary import table as dictionary_table

blueprint = Blueprint(__name__)
CSV_CONTENT_TYPES = ["text/csv", "application/csv", "text/plain"]


@blueprint.route("/uploads/{table}", methods=["POST"], api_key_required=True, content_types=CSV_CONTENT_TYPES)
@handles_errors
def upload_csv(table):
    result = uploads.load_body(database(), dictionary_table(table), blueprint.current_request.raw_body)
    return json_response(result.to_dict(), batch_status(result.inserted, result.unchanged, result.rejected))


@blueprint.route("/uploads/{table}/url", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@handles_errors
def upload_url(table):
    body = json_object(blueprint.current_request)
    return uploads.upload_url(settings(), dictionary_table(table), body.get("filename"))
