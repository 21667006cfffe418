"""Forgetting old entries of the rejection log and the audit trail (both hold personal data or who did
what; neither is kept for ever). Written against the `Database` core only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from chalicelib.db import audit
from chalicelib.db.rejections import REJECTIONS

if TYPE_CHECKING:
    from chalicelib.db.base import Database


def delete_rejections_before(db: Database, moment: datetime) -> int:
    """Forget rejections logged before `moment` (UTC); returns how many."""
    at = db._encode(moment.astimezone(UTC).replace(tzinfo=None, microsecond=0))
    return db.execute(f"DELETE FROM {db.q(REJECTIONS)} WHERE {db.q('rejected_at')} < {db.placeholder}", [at]).rowcount


def delete_audit_before(db: Database, moment: datetime) -> int:
    """Forget audit entries older than `moment`; returns how many."""
    return audit.delete_before(db, int(moment.timestamp() * 1000))
