"""Writing rows: the one path every way of adding data goes through (API batches, file loads, replays).

Field rules run first (pure); then, in one transaction, the batch's stored rows and referenced ids
are read, the batch is classified, valid rows inserted and rejections logged. Either all of that is
stored or none of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.db import Database
from chalicelib.db.base import StagedRows
from chalicelib.db.rejections import raw_sha256
from chalicelib.rules import validation
from chalicelib.rules.dictionary import LOAD_ORDER, MAX_BATCH_ROWS, TABLES, Table
from chalicelib.runtime.log import logger

# From this many valid rows on, a batch goes in through the backend's bulk path (MySQL: LOAD DATA of a
# temporary file, cheaper than a multi-row INSERT whose values pymysql escapes one by one in Python);
# below it, one INSERT statement (docs/loading.md has the figures).
BULK_MIN_ROWS = 100


@dataclass
class BatchResult:
    table: str
    inserted: int = 0
    unchanged: int = 0
    rejected: list[validation.Candidate] = field(default_factory=list)


@dataclass
class Prepared:
    """What a file chunk's transaction needs, worked out beforehand on another thread (the loader's
    parsing thread): `validation.lookups` of the batch, and its field-valid rows, as a list and staged
    for the bulk insert (`Database.stage_rows`)."""

    lookups: validation.Lookups
    rows: Sequence[tuple]
    staged: StagedRows

    @classmethod
    def of(cls, db: Database, table: Table, batch: list[validation.Candidate]) -> Prepared:
        found = validation.lookups(table, batch)
        rows = [c.row for c in found.valid]
        return cls(found, rows, db.stage_rows(table, rows))

    def discard(self) -> None:
        self.staged.discard()


def classify_and_insert(
    db: Database, table: Table, batch: list[validation.Candidate], prepared: Prepared | None = None
) -> validation.Classified:
    """Within the caller's transaction: look up what the rules need, classify, insert the valid rows
    (from BULK_MIN_ROWS rows on through the backend's bulk path: LOAD DATA on MySQL), and remove the
    rejection log's earlier entries for every row now stored."""
    found = prepared.lookups if prepared is not None else validation.lookups(table, batch)
    stored = db.stored_rows(table, found.ids) if found.ids else {}
    existing = {name: db.existing_ids(TABLES[name], wanted) for name, wanted in found.refs.items()}
    classified = validation.classify(table, batch, stored, existing, found)
    if prepared is not None and classified.to_insert is found.valid:
        # Every field-valid row goes in (classify's common case), and nothing was already stored.
        rows, stored_now = prepared.rows, found.ids
    else:
        rows = [c.row for c in classified.to_insert]
        stored_now = [c.row[0] for c in (*classified.to_insert, *classified.unchanged)]
    staged = prepared.staged if prepared is not None else None
    (db.bulk_insert if len(rows) >= BULK_MIN_ROWS else db.insert_rows)(table, rows, staged)
    # The log means "not stored, and why": a row stored now (or already) clears its earlier entries.
    db.forget_rejections(table, stored_now)
    return classified


def insert_batch(
    db: Database,
    table: Table,
    raws: Iterable[tuple[int, Any]],
    source: str,
    log_rejections: bool = True,
) -> BatchResult:
    """Insert a batch of (position, raw row) pairs into `table`, atomically.

    Returns what was inserted, what was an identical re-delivery, and what was rejected with reasons.
    Rejected rows are written to the rejection log (and the structured log) in the same transaction.
    """
    return insert_candidates(db, table, validation.candidates(table, raws), source, log_rejections)


def insert_candidates(
    db: Database,
    table: Table,
    batch: list[validation.Candidate],
    source: str,
    log_rejections: bool = True,
    prepared: Prepared | None = None,
) -> BatchResult:
    """`insert_batch` for rows the field rules have already been applied to (`validation.candidates`).

    The file loader checks fields and prepares the chunk (`Prepared.of`) on one thread while this runs
    the previous chunk's transaction.
    """

    def unit() -> validation.Classified:
        classified = classify_and_insert(db, table, batch, prepared=prepared)
        if log_rejections and classified.rejected:
            db.log_rejections(source, table, ((c.position, c.raw, c.reasons) for c in classified.rejected))
        return classified

    classified = db.run(unit)
    # One structured line per rejected row, when warnings are logged at all (the CLI logs errors only).
    for cand in classified.rejected if log_rejections and logger.isEnabledFor(logging.WARNING) else ():
        logger.warning(
            "row rejected",
            extra={
                "table": table.name,
                "source": source,
                "position": cand.position,
                "row_sha256": raw_sha256(cand.raw),  # the row itself is personal data: in the log table only
                "reasons": cand.reasons,
            },
        )
    return BatchResult(
        table=table.name,
        inserted=len(classified.to_insert),
        unchanged=len(classified.unchanged),
        rejected=classified.rejected,
    )


_REPLAY_COUNTS = ("replayed", "inserted", "unchanged", "still_rejected")


@dataclass
class ReplayResult:
    by_table: dict[str, dict[str, int]] = field(default_factory=dict)

    def total(self, count: str) -> int:
        return sum(counts[count] for counts in self.by_table.values())

    replayed = property(lambda self: self.total("replayed"))
    inserted = property(lambda self: self.total("inserted"))
    unchanged = property(lambda self: self.total("unchanged"))
    still_rejected = property(lambda self: self.total("still_rejected"))

    def to_dict(self) -> dict:
        return {**{count: self.total(count) for count in _REPLAY_COUNTS}, "tables": self.by_table}


def replay_rejections(
    db: Database, table_names: Iterable[str] | None = None, source: str | None = None
) -> ReplayResult:
    """Retry logged rejections (e.g. employees whose department arrived later), referenced tables first.

    Rows now accepted (inserted, or identical to a stored row) leave the log; the others stay with
    their reasons brought up to date.
    """
    wanted = [name for name in LOAD_ORDER if table_names is None or name in set(table_names)]
    result = ReplayResult()
    for name in wanted:
        table = TABLES[name]
        counts = dict.fromkeys(_REPLAY_COUNTS, 0)
        after = 0
        while True:
            entries = db.list_rejections(name, after=after, limit=MAX_BATCH_ROWS, source=source)
            if not entries:
                break
            after = entries[-1].id
            outcome = _replay_chunk(db, table, entries)
            for key, value in outcome.items():
                counts[key] += value
        result.by_table[name] = counts
    return result


def _replay_chunk(db: Database, table: Table, entries: list) -> dict[str, int]:
    # Positions in a replay chunk are indexes into `entries`, so outcomes map back to log ids.
    batch = validation.candidates(table, ((i, e.raw) for i, e in enumerate(entries)))

    def unit() -> validation.Classified:
        classified = classify_and_insert(db, table, batch)
        accepted = [entries[c.position].id for c in classified.to_insert + classified.unchanged]
        db.delete_rejections(accepted)
        db.update_rejection_reasons({entries[c.position].id: c.reasons for c in classified.rejected})
        return classified

    classified = db.run(unit)
    return {
        "replayed": len(entries),
        "inserted": len(classified.to_insert),
        "unchanged": len(classified.unchanged),
        "still_rejected": len(classified.rejected),
    }
