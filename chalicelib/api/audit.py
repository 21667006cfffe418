"""`GET /audit`: the audit trail in pages, oldest first (admins only, by the route table)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.access import audit
from chalicelib.api.errors import handles_errors
from chalicelib.api.parsing import page
from chalicelib.api.responses import paged
from chalicelib.api.stage import database

blueprint = Blueprint(__name__)


@blueprint.route("/audit", methods=["GET"], api_key_required=True)
@handles_errors
def list_audit():
    after, limit = page(blueprint.current_request)
    client = (blueprint.current_request.query_params or {}).get("client")
    return paged(audit.entries(database(), after, limit, client), limit, lambda e: e["id"])
