"""`GET /status`: the public health check."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import __version__
from chalicelib.api.errors import handles_errors, public_detail
from chalicelib.api.responses import json_response
from chalicelib.api.stage import database
from chalicelib.runtime.log import logger

blueprint = Blueprint(__name__)


@blueprint.route("/status", methods=["GET"])
@handles_errors
def status():
    try:
        db = database()
        counts = db.counts()
    except Exception as exc:  # a health check reports; it does not fail
        # Public: the cause in a few words; the database's own message (host, user, names) only in the log.
        logger.error("status: database unavailable", extra={"detail": str(exc)})
        return json_response({"status": "unavailable", "database": public_detail(exc), "version": __version__}, 503)
    return {"status": "ok", "version": __version__, "database": db.dialect, "tables": counts}
