"""The data rules over batches of rows: no database, no AWS, no HTTP.

`candidates` applies the field rules (`rules.rows`, from the per-type rules in `rules.fields`) to each
incoming row, taking the generated fast path when the row is in the common shape. `classify` then
applies the rules that need stored state (references, duplicates) given what the database said about
the batch. The rejection log's identity of a row is here too.

Standard library only: the Glue jobs import this module too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.rules.dictionary import Table
from chalicelib.rules.rows import Row, check_fields, fast_csv_row, fast_json_row

__all__ = [
    "Candidate",
    "Classified",
    "Lookups",
    "Row",
    "candidates",
    "check_fields",
    "classify",
    "fast_csv_row",
    "fast_json_row",
    "lookups",
    "raw_json",
    "rejection_fingerprint",
    "row_to_dict",
    "to_json_value",
]


@dataclass(slots=True)
class Candidate:
    """One incoming row: where it came from, what it said, and what the field rules made of it."""

    position: int  # index in the batch, or line number in the file
    raw: Any
    row: Row | None = None
    reasons: list[str] = field(default_factory=list)


def candidates(table: Table, raws: Iterable[tuple[int, Any]]) -> list[Candidate]:
    """Apply the field rules to (position, raw) pairs."""
    fast_csv, fast_json = fast_csv_row(table), fast_json_row(table)
    out = []
    append = out.append
    for position, raw in raws:
        kind = raw.__class__
        row = fast_csv(raw) if kind is list else fast_json(raw) if kind is dict else None
        if row is not None:
            append(Candidate(position, raw, row, []))
        else:
            row, reasons = check_fields(table, raw)
            append(Candidate(position, raw, row, reasons))
    return out


@dataclass
class Lookups:
    """What `classify` needs to look up for a batch (the ids of its field-valid rows, and per referenced
    table the ids they name), and the batch split by the field rules. Pure: the file loader works it
    out on its parsing thread, ahead of the chunk's transaction."""

    ids: set[int]
    refs: dict[str, set[int]]
    valid: list[Candidate]  # rows that passed the field rules, in batch order
    invalid: list[Candidate]  # the others


def lookups(table: Table, batch: Sequence[Candidate]) -> Lookups:
    valid = [c for c in batch if c.row is not None]
    invalid = [c for c in batch if c.row is None] if len(valid) < len(batch) else []
    refs = {col.references: {c.row[i] for c in valid} for i, col in enumerate(table.columns) if col.references}
    return Lookups({c.row[0] for c in valid}, refs, valid, invalid)


@dataclass
class Classified:
    to_insert: list[Candidate] = field(default_factory=list)
    unchanged: list[Candidate] = field(default_factory=list)
    rejected: list[Candidate] = field(default_factory=list)


def classify(
    table: Table,
    batch: Sequence[Candidate],
    stored: Mapping[int, Row],
    existing_refs: Mapping[str, set[int]],
    lookups: Lookups | None = None,
) -> Classified:
    """Sort a batch into rows to insert, identical re-deliveries and rejections.

    `stored` maps the batch's ids that already exist to their stored rows; `existing_refs` maps each
    referenced table to the referenced ids that exist. Within the batch, an id is kept at its first
    occurrence and rejected after it. `batch` is not modified, so a retried transaction can classify again.
    Given `lookups(table, batch)`, the common case of a new file's chunk (no id stored or repeated, every
    reference there) is sorted without looking at each row again: `to_insert` is then `lookups.valid`.
    """
    if (
        lookups is not None
        and not stored
        and len(lookups.valid) == len(lookups.ids)
        and all(wanted <= existing_refs.get(name, set()) for name, wanted in lookups.refs.items())
    ):
        return Classified(to_insert=lookups.valid, rejected=lookups.invalid)
    result = Classified()
    seen: dict[int, int] = {}
    ref_columns = [(i, col) for i, col in enumerate(table.columns) if col.references]
    for cand in batch:
        if cand.row is None:
            result.rejected.append(cand)
            continue
        reasons: list[str] = []
        key = cand.row[0]
        if key in seen:
            reasons.append(f"id: {key} is repeated in this batch (first at {seen[key]})")
            result.rejected.append(Candidate(cand.position, cand.raw, cand.row, reasons))
            continue
        seen[key] = cand.position
        for i, col in ref_columns:
            if cand.row[i] not in existing_refs.get(col.references, ()):
                reasons.append(f"{col.name}: {col.references} {cand.row[i]} does not exist")
        if key in stored:
            if stored[key] == cand.row and not reasons:
                result.unchanged.append(cand)
                continue
            if stored[key] != cand.row:
                reasons.append(f"id: {key} already exists with different values")
        if reasons:
            result.rejected.append(Candidate(cand.position, cand.raw, cand.row, reasons))
        else:
            result.to_insert.append(cand)
    return result


def to_json_value(value: Any) -> Any:
    """A stored value as it appears in JSON: datetimes as ISO 8601 UTC with a Z."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def row_to_dict(table: Table, row: Sequence[Any]) -> dict[str, Any]:
    return {name: to_json_value(value) for name, value in zip(table.column_names, row)}


def raw_json(raw: Any) -> str:
    """The raw row as stored in the rejection log: JSON, keys sorted, non-ASCII kept."""
    return json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str)


def rejection_fingerprint(source: str, table_name: str, position: int, raw: Any) -> str:
    """Identity of a rejection: the same row of the same source re-delivered is logged once."""
    text = "\x1f".join((source, table_name, str(position), raw_json(raw)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
