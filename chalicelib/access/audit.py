"""The audit trail: each write and admin action, with who, what, when and the request id, stored in
the `audit` table and written to the structured log."""

from __future__ import annotations

import time
from typing import Any

from chalicelib.db import Database
from chalicelib.db import audit as table
from chalicelib.runtime.log import logger


def record(
    db: Database,
    *,
    client: str,
    method: str,
    route: str,
    status: int,
    table_name: str | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Store one entry and log it; returns the entry."""
    entry = {
        "at": int(time.time() * 1000),
        "client": client,
        "method": method,
        "route": route,
        "status": status,
        "table_name": table_name,
        "details": details or {},
        "request_id": request_id,
    }
    logger.info("audit", extra={"audit": entry})
    table.insert(db, entry)
    return entry


def entries(db: Database, after: int = 0, limit: int = 100, client: str | None = None) -> list[dict[str, Any]]:
    """Entries oldest first, for `GET /audit`: times as ISO 8601 UTC."""
    out = []
    for entry in table.listing(db, after, limit, client):
        entry["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry["at"] / 1000))
        entry["table"] = entry.pop("table_name")
        out.append(entry)
    return out
