"""The rejection log: rows that broke a data rule, with their reasons, kept for listing and replay.

Relies on the core's `q`, `placeholder`, `_encode`, `_upsert_sql`, `_where_in`, `execute(many)` and `query`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.db.core import DatabaseCore, retried_read
from chalicelib.db.errors import DatabaseError
from chalicelib.rules.dictionary import TABLES, Table
from chalicelib.rules.fields import parse_integer
from chalicelib.rules.validation import raw_json, rejection_fingerprint

REJECTIONS = "rejections"
MAX_RAW_CHARS = 4096  # of a rejected row's JSON kept in the log: rows are personal data, kept small


def raw_sha256(raw: Any) -> str:
    """The hash of a rejected row's whole JSON: what the log lines carry instead of the row."""
    return hashlib.sha256(raw_json(raw).encode("utf-8", "surrogatepass")).hexdigest()


def stored_raw(raw: Any) -> str:
    """A rejected row as the log stores it: whole up to MAX_RAW_CHARS of JSON, else its start with the
    hash and length of the whole."""
    text = raw_json(raw)
    if len(text) <= MAX_RAW_CHARS:
        return text
    return json.dumps({"truncated": text[:MAX_RAW_CHARS], "sha256": raw_sha256(raw), "chars": len(text)})


FORGET_CHUNK = 10_000  # row ids per DELETE of `forget_rejections` (SQLite binds at most 32766 values)
UPGRADE_BATCH = 10_000  # log entries per batch when an older log gets its row ids filled in


def rejected_row_id(table: Table, raw: Any) -> int | None:
    """The id a rejected raw row names (None: it names none the rules accept), for finding its entries
    once a row with that id is stored."""
    if isinstance(raw, dict):
        value = raw.get(table.key)
    elif isinstance(raw, (list, tuple)) and raw:
        value = raw[0]
    else:
        return None
    try:
        return parse_integer(value)
    except (ValueError, TypeError, OverflowError):
        return None


@dataclass
class Rejection:
    """One entry of the rejection log."""

    id: int
    source: str
    table_name: str
    position: int
    raw: Any
    reasons: list[str]
    rejected_at: datetime

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "source": self.source,
            "table": self.table_name,
            "position": self.position,
            "row": self.raw,
            "reasons": self.reasons,
            "rejected_at": self.rejected_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


class RejectionLog(DatabaseCore):
    """Logging, listing, re-checking and forgetting rejected rows."""

    def rejections_columns(self) -> list[str]:
        return ["fingerprint", "source", "table_name", "position", "raw", "reasons", "rejected_at", "row_id"]

    def _upsert_rejections_sql(self) -> str:
        # A rejection logged again (re-delivery) refreshes its reasons and time instead of repeating.
        return self._upsert_sql(
            REJECTIONS, self.rejections_columns(), ["fingerprint"], {"reasons": "{new}", "rejected_at": "{new}"}
        )

    def _rejection_rows(self, source: str, table: Table, rejected: Iterable[tuple[int, Any, list[str]]]) -> list[tuple]:
        now = self._encode(datetime.now(UTC).replace(tzinfo=None, microsecond=0))
        return [
            (
                rejection_fingerprint(source, table.name, position, raw),
                source[:1024],
                table.name,
                position,
                stored_raw(raw),
                json.dumps(reasons, ensure_ascii=False),
                now,
                rejected_row_id(table, raw),
            )
            for position, raw, reasons in rejected
        ]

    def log_rejections(self, source: str, table: Table, rejected: Iterable[tuple[int, Any, list[str]]]) -> int:
        """Store (position, raw, reasons) entries; an entry already logged for the same source,
        position and raw row is updated, not repeated."""
        rows = self._rejection_rows(source, table, rejected)
        if rows:
            self.executemany(self._upsert_rejections_sql(), rows)
        return len(rows)

    def log_new_rejections(self, source: str, table: Table, rejected: Iterable[tuple[int, Any, list[str]]]) -> int:
        """`log_rejections` of the entries not logged yet: one already logged for the same source,
        position and raw row keeps its first reasons and time (the Glue load job's rule, so that
        running it again on the same file changes nothing). Returns how many entries were added."""
        rows = self._rejection_rows(source, table, rejected)
        fingerprints = [row[0] for row in rows]
        select = f"SELECT {self.q('fingerprint')} FROM {self.q(REJECTIONS)}"
        logged = {fingerprint for (fingerprint,) in self._where_in(select, "fingerprint", fingerprints)}
        new = [row for row in rows if row[0] not in logged]
        if new:
            self.executemany(self._upsert_rejections_sql(), new)
        return len(new)

    def forget_rejections(self, table: Table, ids: Iterable[int]) -> None:
        """Remove the log's entries for rows of `table` with these ids: those rows are stored now, in
        the caller's transaction, and the log means "not stored, and why". One indexed probe when the
        log holds no entry in the ids' range (the common case), else one DELETE per FORGET_CHUNK ids."""
        ids = ids if isinstance(ids, (list, tuple, set)) else list(ids)
        if not ids:
            return
        table_is = f"{self.q('table_name')} = {self.placeholder}"
        row_id = self.q("row_id")
        probe = (
            f"SELECT 1 FROM {self.q(REJECTIONS)} WHERE {table_is} "
            f"AND {row_id} BETWEEN {self.placeholder} AND {self.placeholder} LIMIT 1"
        )
        # The range is all the probe needs: sort and dedupe only when there is something to delete.
        if not self.query(probe, [table.name, min(ids), max(ids)]):
            return
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), FORGET_CHUNK):
            chunk = wanted[start : start + FORGET_CHUNK]
            self.execute(
                f"DELETE FROM {self.q(REJECTIONS)} WHERE {table_is} AND {row_id} IN ({self._marks(len(chunk))})",
                [table.name, *chunk],
            )

    def _upgrade_rejections(self) -> None:
        """Give a log created before entries named their row's id that column, its index and the ids
        (run before the DDL, which creates a missing log whole)."""
        try:
            self.query(f"SELECT 1 FROM {self.q(REJECTIONS)} LIMIT 1")
        except DatabaseError:
            return  # no log yet
        try:
            # Qualified: SQLite reads an unknown double-quoted name alone as a string, not an error.
            self.query(f"SELECT r.{self.q('row_id')} FROM {self.q(REJECTIONS)} r LIMIT 1")
            return
        except DatabaseError:
            pass  # an older log, without the column
        self.execute(f"ALTER TABLE {self.q(REJECTIONS)} ADD COLUMN {self.q('row_id')} BIGINT NULL")
        self.execute(
            f"CREATE INDEX {self.q('ix_rejections_row')} ON {self.q(REJECTIONS)} "
            f"({self.q('table_name')}, {self.q('row_id')})"
        )
        after = 0
        while entries := self.list_rejections(after=after, limit=UPGRADE_BATCH):
            after = entries[-1].id
            ids = [(rejected_row_id(TABLES[e.table_name], e.raw), e.id) for e in entries if e.table_name in TABLES]
            named = [pair for pair in ids if pair[0] is not None]
            if named:
                self.executemany(
                    f"UPDATE {self.q(REJECTIONS)} SET {self.q('row_id')} = {self.placeholder} "
                    f"WHERE {self.q('id')} = {self.placeholder}",
                    named,
                )

    @retried_read
    def list_rejections(
        self, table_name: str | None = None, after: int = 0, limit: int = 100, source: str | None = None
    ) -> list[Rejection]:
        """Rejection log entries with id greater than `after`, oldest first."""
        where, params = [f"{self.q('id')} > {self.placeholder}"], [after]
        if table_name is not None:
            where.append(f"{self.q('table_name')} = {self.placeholder}")
            params.append(table_name)
        if source is not None:
            where.append(f"{self.q('source')} = {self.placeholder}")
            params.append(source)
        sql = (
            f"SELECT {self.q('id')}, {self.q('source')}, {self.q('table_name')}, {self.q('position')}, "
            f"{self.q('raw')}, {self.q('reasons')}, {self.q('rejected_at')} FROM {self.q(REJECTIONS)} "
            f"WHERE {' AND '.join(where)} ORDER BY {self.q('id')} LIMIT {self.placeholder}"
        )
        params.append(limit)
        out = []
        for id_, src, tname, pos, raw, reasons, at in self.query(sql, params):
            if isinstance(at, str):
                at = datetime.fromisoformat(at)
            out.append(Rejection(id_, src, tname, pos, json.loads(raw), json.loads(reasons), at))
        return out

    def delete_rejections(self, ids: Iterable[int]) -> None:
        self._where_in(f"DELETE FROM {self.q(REJECTIONS)}", "id", list(ids))

    def update_rejection_reasons(self, reasons_by_id: dict[int, list[str]]) -> None:
        if reasons_by_id:
            self.executemany(
                f"UPDATE {self.q(REJECTIONS)} SET {self.q('reasons')} = {self.placeholder} "
                f"WHERE {self.q('id')} = {self.placeholder}",
                [(json.dumps(r, ensure_ascii=False), i) for i, r in reasons_by_id.items()],
            )
