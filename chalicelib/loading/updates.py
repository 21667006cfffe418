"""Changing rows that are already stored: replacing one (PUT), changing some of its fields (PATCH), and
emptying a table. The one path the API and the CLI share.

An update meets the same data rules as an insert (`validation.check_fields` for fields, types and
lengths, `validation.classify` for references), applied to the row as it would be after the change,
read and written under the row's lock in one transaction. An update the rules refuse changes nothing
and is answered to its caller with the reasons; it is not written to the rejection log, which holds
rows that arrived to be inserted and can be replayed later, and a refused update has nothing to replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.db import Database
from chalicelib.rules import fields as field_rules
from chalicelib.rules import validation
from chalicelib.rules.dictionary import TABLES, Table
from chalicelib.runtime.log import logger


class IdChangeRefused(Exception):
    """An update named another id than the row's: ids are never changed, since other rows may name them."""


class UpdateRejected(Exception):
    """The row as it would be after the update breaks the data rules; nothing was changed."""

    def __init__(self, table: str, key: int, reasons: list[str]):
        super().__init__(f"{table} {key}: {'; '.join(reasons)}")
        self.reasons = reasons


class EmptyUpdate(Exception):
    """A change of some fields that names none."""


@dataclass(frozen=True)
class Updated:
    """The row after the update, and whether it differs from the row before (False: a repeated update)."""

    row: dict[str, Any]
    changed: bool


def update_row(
    db: Database, table: Table, key: int, fields: Mapping[str, Any], replace: bool, source: str = "api"
) -> Updated | None:
    """Replace row `key` of `table` with `fields` (`replace`: every field must be given) or change the
    fields given; None when there is no such row.

    The id may be given only as `key`. Raises IdChangeRefused, UpdateRejected or EmptyUpdate. The same
    update twice is one change: the second finds the row as asked and writes nothing.
    """
    _refuse_another_id(table, key, fields)
    if not replace and not any(name != table.key for name in fields):
        raise EmptyUpdate(f"name at least one field of {table.name} to change")

    def unit() -> Updated | None:
        stored = db.lock_row(table, key)
        if stored is None:
            return None
        base = {} if replace else validation.row_to_dict(table, stored)
        candidate = validation.Candidate(0, {**base, table.key: key, **fields})
        candidate.row, candidate.reasons = validation.check_fields(table, candidate.raw)
        existing = {
            column.references: db.existing_ids(TABLES[column.references], [candidate.row[i]])
            for i, column in enumerate(table.columns)
            if column.references and candidate.row is not None
        }
        # No stored rows given: the row's own id is the one being updated, not a duplicate.
        classified = validation.classify(table, [candidate], {}, existing)
        if classified.rejected:
            raise UpdateRejected(table.name, key, classified.rejected[0].reasons)
        row = classified.to_insert[0].row
        if row != stored:
            db.replace_row(table, stored, row)
        return Updated(validation.row_to_dict(table, row), changed=row != stored)

    try:
        result = db.run(unit)
    except UpdateRejected as exc:
        logger.warning(
            "update refused", extra={"table": table.name, "id": key, "source": source, "reasons": exc.reasons}
        )
        raise
    if result is not None and result.changed:
        logger.info("row updated", extra={"table": table.name, "id": key, "source": source})
    return result


def _refuse_another_id(table: Table, key: int, fields: Mapping[str, Any]) -> None:
    if fields.get(table.key) is None:
        return
    try:
        given = field_rules.parse_integer(fields[table.key])
    except ValueError:
        return  # check_fields names the problem
    if given != key:
        raise IdChangeRefused(
            f"{table.name} {key}: the id in the body ({given}) must be {key} or absent; ids never change"
        )


def truncate_table(db: Database, table: Table, cascade: bool = False) -> dict[str, int]:
    """Delete every row of `table` (and, `cascade`, first of the tables referencing it); rows deleted
    per table. Raises ReferencedTable when other tables' rows reference it and `cascade` is False."""
    deleted = db.truncate_table(table, cascade=cascade)
    logger.info("table truncated", extra={"table": table.name, "cascade": cascade, "deleted": deleted})
    return deleted
