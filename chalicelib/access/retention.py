"""How long the rejection log and the audit trail keep their entries, and the purge that enforces it
(the CLI's `purge` and the scheduled purge run the same `purge`)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

from chalicelib.db import Database
from chalicelib.db import retention as sql
from chalicelib.runtime.log import logger

DEFAULT_RETENTION = "90d"
SCHEDULE = "rate(1 day)"
_UNITS = {"d": "days", "h": "hours"}
_AGE = re.compile(r"^(\d{1,5})([dh])$")


class InvalidAge(ValueError):
    pass


def parse_age(text: str) -> timedelta:
    """``90d`` or ``12h`` -> a timedelta; InvalidAge for anything else."""
    found = _AGE.match((text or "").strip().lower())
    if not found:
        raise InvalidAge(f"an age is a whole number of days or hours like 90d or 12h, got {text!r}")
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


def purge(db: Database, older_than: timedelta, now: datetime | None = None) -> dict[str, int]:
    """Delete rejections and audit entries older than `older_than`; how many of each went."""
    cutoff = (now or datetime.now(UTC)) - older_than
    with db.transaction():
        counts = {"rejections": sql.delete_rejections_before(db, cutoff), "audit": sql.delete_audit_before(db, cutoff)}
    logger.info("purged", extra={"purge": {**counts, "before": cutoff.isoformat()}})
    return counts


def purge_scheduled(db: Database) -> dict[str, int]:
    """The scheduled purge: entries older than RETENTION (default 90d)."""
    return purge(db, parse_age(os.environ.get("RETENTION") or DEFAULT_RETENTION))
