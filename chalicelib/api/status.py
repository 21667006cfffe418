"""`GET /status`: the public health check. Anonymous callers learn only ok/unavailable and the version;
a caller whose key belongs to a client also sees the database's dialect and the tables' row counts."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import __version__
from chalicelib.access import clients
from chalicelib.api.errors import handles_errors
from chalicelib.api.responses import json_response
from chalicelib.api.stage import database, settings
from chalicelib.runtime.log import logger

blueprint = Blueprint(__name__)


@blueprint.route("/status", methods=["GET"])
@handles_errors
def status():
    try:
        db = database()
        counts = db.counts()
    except Exception as exc:  # a health check reports; it does not fail, nor say why to anyone who asks
        logger.error("status: database unavailable", extra={"detail": str(exc)})
        return json_response({"status": "unavailable", "version": __version__}, 503)
    key = (blueprint.current_request.headers or {}).get("x-api-key") or ""
    if clients.resolve(db, settings(), key) is None:
        return {"status": "ok", "version": __version__}
    return {"status": "ok", "version": __version__, "database": db.dialect, "tables": counts}
