"""Changing stored rows in place and emptying tables: a locking read of one row, rewriting its values,
and deleting every row of a table (its dependents' first, when asked).

Every write keeps the reports' summary exact in the same transaction: moving a hire to another quarter,
department or job shifts its count from one summary cell to the other.

Relies on the core's `q`, `placeholder`, `_cols`, `_for_update`, `_decode`, `encode_rows`, `execute`,
`query` and `transaction`, and on the summary's `_upsert_quarterly_hires` and `_replace_quarterly_hires`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.db.errors import ReferencedRow
from chalicelib.db.rows import RowSql
from chalicelib.db.summary import QUARTERLY_HIRES, QUARTERLY_HIRES_KEY, QUARTERS, quarterly_counts
from chalicelib.rules.dictionary import Table, dependents


class ReferencedTable(ReferencedRow):
    """A table cannot be emptied while rows of other tables reference it (and no cascade was asked)."""

    def __init__(self, message: str, referencing: dict[str, int] | None = None):
        super().__init__(message)
        self.referencing = referencing or {}  # rows per referencing table

    @classmethod
    def by(cls, table: str, referencing: dict[str, int]) -> ReferencedTable:
        named = ", ".join(f"{name} ({count} rows)" for name, count in referencing.items())
        return cls(f"{table} is referenced by {named}; truncate those first or ask to cascade", referencing)


class RowUpdates(RowSql):
    """Updating one row under its lock; emptying a table."""

    def lock_row(self, table: Table, key: int) -> tuple | None:
        """The stored row `key`, locked against other writers until the transaction ends (None: no row).
        Call it inside `transaction()`."""
        rows = self.query(
            f"SELECT {self._cols(table)} FROM {self.q(table.name)} "
            f"WHERE {self.q(table.key)} = {self.placeholder}{self._for_update}",
            [key],
        )
        return self._decode(table, rows[0]) if rows else None

    def replace_row(self, table: Table, stored: Sequence[Any], row: Sequence[Any]) -> None:
        """Write typed `row` (dictionary order, same id) over `stored`, the row as read under
        `lock_row` in the current transaction; the summary moves with it."""
        if row[0] != stored[0]:
            raise ValueError("an update cannot change a row's id")
        names = table.column_names[1:]
        assignments = ", ".join(f"{self.q(name)} = {self.placeholder}" for name in names)
        (values,) = self.encode_rows(table, [row])
        self.execute(
            f"UPDATE {self.q(table.name)} SET {assignments} WHERE {self.q(table.key)} = {self.placeholder}",
            [*values[1:], row[0]],
        )
        if table.name == "hired_employees":
            self._move_quarterly_hires(stored, row)

    def _move_quarterly_hires(self, before: Sequence[Any], after: Sequence[Any]) -> None:
        """Shift one hire's count from its old summary cell to its new one (nothing when both agree)."""
        delta: dict[tuple[int, int, int], list[int]] = {}
        for sign, counts in ((-1, quarterly_counts([before])), (1, quarterly_counts([after]))):
            for key, quarters in counts.items():
                into = delta.setdefault(key, [0, 0, 0, 0])
                for q in range(4):
                    into[q] += sign * quarters[q]
        changed = sorted(key for key, quarters in delta.items() if any(quarters))
        if not changed:
            return
        # One upsert of signed deltas, keys in order: concurrent moves lock summary rows in one order.
        self._upsert_quarterly_hires([(*key, *delta[key]) for key in changed])
        match = " AND ".join(f"{self.q(c)} = {self.placeholder}" for c in QUARTERLY_HIRES_KEY)
        total = " + ".join(self.q(q) for q in QUARTERS)
        # A (year, department, job) with no hire left is no row, as if it never had one.
        self.executemany(
            f"DELETE FROM {self.q(QUARTERLY_HIRES)} WHERE {match} AND {total} <= 0", [tuple(k) for k in changed]
        )

    def truncate_table(self, table: Table, cascade: bool = False) -> dict[str, int]:
        """Delete every row of `table` in one transaction; returns the rows deleted per table.

        Raises ReferencedTable when rows of other tables reference it, unless `cascade`: then those
        tables are emptied first (theirs before them). A DELETE rather than TRUNCATE TABLE: MySQL's
        TRUNCATE commits on its own and refuses any table a foreign key names.
        """
        order = _dependents_first(table)
        deleted: dict[str, int] = {}
        with self.transaction():
            counts = {
                t.name: self.query(f"SELECT COUNT(*) FROM {self.q(t.name)}{self._for_update}")[0][0] for t in order
            }
            referencing = {t.name: counts[t.name] for t in order[:-1] if counts[t.name]}
            if referencing and not cascade:
                raise ReferencedTable.by(table.name, referencing)
            for each in order:
                self.execute(f"DELETE FROM {self.q(each.name)}")
                deleted[each.name] = counts[each.name]
                if each.name == "hired_employees":
                    self._replace_quarterly_hires({})
        return deleted


def _dependents_first(table: Table) -> list[Table]:
    """`table` and every table that references it, directly or not, referencing tables first."""
    order: list[Table] = []
    for dependent in dependents(table.name):
        for each in _dependents_first(dependent):
            if each not in order:
                order.append(each)
    order.append(table)
    return order
