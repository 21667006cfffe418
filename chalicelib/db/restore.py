"""The restore engine: replacing whole tables with a backup's rows in one transaction, merging over
tables that changed little, and checking references both ways before anything is committed.

Rows arrive typed, with datetimes as whole seconds since 1970-01-01 UTC: the server converts them,
which is several times cheaper than building and parsing datetime objects in the driver.
Relies on the core's `transaction`, `q`, `placeholder`, `_cols`, `_for_update`, `_from_epoch_seconds_sql`
and `_suspend/_resume_reference_checks`; on the rows' `stage_rows` and `existing_ids`; and on the
summary's `_replace_quarterly_hires`. MySQL loads the rows with LOAD DATA (`_load_restored_rows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.db.core import IN_CHUNK
from chalicelib.db.errors import IntegrityConflict, MissingReferences, ReferenceViolation, RowsRejected, TooScattered
from chalicelib.db.rows import RowSql
from chalicelib.db.staging import StagedRows
from chalicelib.db.summary import QuarterlyCounts, add_quarterly_counts
from chalicelib.rules.dictionary import DATETIME, TABLES, Column, Table, dependents, in_load_order

MAX_MERGE_RUNS = 10_000  # a merging restore deletes the rows it did not bring by id range, up to this many
MERGE_CHANGED_SHARE = 0.3  # a merging restore replaces rows while at most this share of a chunk's differ

Chunks = Iterable[Sequence[Sequence[Any]] | StagedRows]


class RestoredRows:
    """What a restore has loaded so far: rows per table, the values each referencing column names
    (so references are looked up, not scanned for) and the hires per quarter of the hired_employees
    rows (so the summary is written, not recounted; None: recount it)."""

    def __init__(self, tables: Sequence[Table]):
        self.stored: dict[str, int] = dict.fromkeys((t.name for t in tables), 0)
        self.named: dict[tuple[str, str], set[int]] = {}
        self.quarterly: QuarterlyCounts | None = {} if "hired_employees" in self.stored else None

    def add(self, table: Table, staged: StagedRows) -> None:
        self.stored[table.name] += len(staged)
        for name, values in staged.named.items():
            self.named.setdefault((table.name, name), set()).update(values)
        if table.name == "hired_employees" and self.quarterly is not None:
            if staged.quarterly is None:
                self.quarterly = None
            else:
                add_quarterly_counts(self.quarterly, staged.quarterly)


class RestoreEngine(RowSql):
    """`replace_tables` and the steps it is made of."""

    merging_restores = False  # the backend's `_load_restored_rows` can replace rows (see `replace_tables`)

    def replace_tables(self, contents: Mapping[Table, Chunks], merge: bool = True) -> dict[str, int]:
        """Replace every row of each table with the given chunks of rows, in one transaction.

        Rows are typed, in dictionary order, with datetimes as whole seconds since 1970-01-01 UTC, and
        already checked against the field rules. The tables keep their definitions, keys and foreign
        keys; references are checked once the new rows are in (both from the tables and into them),
        derived data is rebuilt, and only then is anything committed. On any failure (a repeated id:
        RowsRejected; a broken reference: ReferenceViolation; an error raised by the chunks; the
        connection) nothing changes. Returns the number of rows stored per table.

        With `merge` (where the backend can, `merging_restores`), a table that has rows is not emptied
        first: the rows are loaded over it, replacing those with the same id, and then the rows whose
        ids the chunks did not have are deleted, by id range. Restoring a backup over a table that
        changed little since then writes little. Ids in more than MAX_MERGE_RUNS runs raise TooScattered
        (nothing changed): call again without `merge`.
        """
        tables = in_load_order(list(contents))
        restored = RestoredRows(tables)
        with self.transaction():
            # Checked in bulk below: row by row, a parent table could not even be emptied.
            self._suspend_reference_checks()
            try:
                merging = self._empty_or_merge(tables, merge and self.merging_restores)
                for table in tables:
                    self._restore_table(table, contents[table], table.name in merging, restored)
                problems = self.reference_problems(tables, restored.named)
                if problems:
                    raise ReferenceViolation(problems)
                self._replace_quarterly_hires(restored.quarterly)
            finally:
                self._resume_reference_checks()
        return restored.stored

    def _empty_or_merge(self, tables: Sequence[Table], merge: bool) -> set[str]:
        """Empty each table that has rows, dependents first, or with `merge` keep it to merge over;
        returns the names of the tables kept."""
        merging = set()
        for table in reversed(tables):
            # An empty table is only locked, not emptied: the server loads faster into a table
            # this transaction found empty and did not write yet (MariaDB skips per-row undo).
            if not self.query(f"SELECT 1 FROM {self.q(table.name)} LIMIT 1{self._for_update}"):
                continue
            if merge:
                merging.add(table.name)
            else:
                self.execute(f"DELETE FROM {self.q(table.name)}")
        return merging

    def _restore_table(self, table: Table, chunks: Chunks, merging: bool, restored: RestoredRows) -> None:
        """Load every chunk into `table` (emptied, or with `merging` kept to load over)."""
        # Merging: the ids loaded so far, to delete the others after (and to catch a repeated id, which
        # would replace its first row). Otherwise the server catches repeats.
        keys = KeyRuns(table, MAX_MERGE_RUNS) if merging else None
        replacing = merging
        for rows in chunks:
            staged = rows if isinstance(rows, StagedRows) else self.stage_rows(table, rows, restored=True)
            try:
                if len(staged):
                    replacing = self._restore_chunk(table, staged, keys, replacing)
                    restored.add(table, staged)
            finally:
                staged.discard()
        if replacing:
            self._delete_ranges(table, keys.gaps())

    def _restore_chunk(self, table: Table, staged: StagedRows, keys: KeyRuns | None, replacing: bool) -> bool:
        """Load one chunk, over rows with the same ids while `replacing`; returns whether to keep replacing."""
        if keys is not None:
            keys.add(staged.key_runs)
        changed = self._load_restored_rows(table, staged, replace=replacing)
        if replacing and changed > MERGE_CHANGED_SHARE * len(staged):
            # Replacing row by row costs more than deleting and loading when most rows differ: every
            # row not loaded yet is deleted now, and the rest loaded into the gaps.
            self._delete_ranges(table, keys.gaps())
            return False
        return replacing

    def _delete_ranges(self, table: Table, ranges: Sequence[tuple[int | None, int | None]]) -> None:
        """Delete the rows whose keys fall in `ranges` ((first, last), inclusive; None: unbounded)."""
        for start in range(0, len(ranges), IN_CHUNK // 2):
            where, params = [], []
            for first, last in ranges[start : start + IN_CHUNK // 2]:
                condition, bounds = self._key_range(table, first, last)
                where.append(condition)
                params += bounds
            self.execute(f"DELETE FROM {self.q(table.name)} WHERE {' OR '.join(where)}", params)

    def _key_range(self, table: Table, first: int | None, last: int | None) -> tuple[str, list[int]]:
        """The condition and its parameters for `table`'s key in first..last (None: unbounded)."""
        key = self.q(table.key)
        if first is None and last is None:
            return "1 = 1", []
        if first is None:
            return f"{key} <= {self.placeholder}", [last]
        if last is None:
            return f"{key} >= {self.placeholder}", [first]
        return f"{key} BETWEEN {self.placeholder} AND {self.placeholder}", [first, last]

    def _load_restored_rows(
        self, table: Table, rows: Sequence[Sequence[Any]] | StagedRows, replace: bool = False
    ) -> int:
        """Insert restored rows (see `replace_tables`; `replace`: over rows with the same ids, where
        `merging_restores`); RowsRejected when one repeats an id. Returns how many rows replaced a
        stored row with different values."""
        if replace:
            raise NotImplementedError("this backend does not merge restores")
        if isinstance(rows, StagedRows):
            rows = rows.rows or []
        marks = ", ".join(
            self._from_epoch_seconds_sql(self.placeholder) if c.type == DATETIME else self.placeholder
            for c in table.columns
        )
        try:
            self.executemany(f"INSERT INTO {self.q(table.name)} ({self._cols(table)}) VALUES ({marks})", rows)
        except IntegrityConflict as exc:
            raise RowsRejected(f"{table.name}: {exc}") from exc
        return 0

    # -- references, checked once the rows are in --------------------------------------------------

    def reference_problems(
        self, tables: Sequence[Table], named: Mapping[tuple[str, str], set[int]] | None = None, limit: int = 100
    ) -> list[MissingReferences]:
        """References broken by the current contents of `tables`: from them to ids that do not exist,
        and into them from other tables to ids they no longer have. `named` may give, per (table,
        column), the values that column holds (then they are looked up rather than scanned for)."""
        names = {t.name for t in tables}
        problems = []
        for child, column, parent in _reference_checks(tables):
            values = (named or {}).get((child.name, column.name))
            if values is not None or (named is not None and child.name in names):
                values = values or set()
                ids = sorted(values - self.existing_ids(parent, values))[:limit]
            else:
                ids = self.missing_references(child, column.name, parent, limit)
            if ids:
                problems.append(MissingReferences(child.name, column.name, parent.name, ids, child.name in names))
        return problems

    def missing_references(self, child: Table, column: str, parent: Table, limit: int = 100) -> list[int]:
        """Values of `child.column` (ascending, at most `limit`) with no row of that id in `parent`."""
        pid = self.q(parent.key)
        # DISTINCT over the indexed column first: the server reads the index's distinct values only.
        sql = (
            f"SELECT x.v FROM (SELECT DISTINCT {self.q(column)} AS v FROM {self.q(child.name)}) x "
            f"LEFT JOIN {self.q(parent.name)} p ON p.{pid} = x.v WHERE p.{pid} IS NULL "
            f"ORDER BY x.v LIMIT {int(limit)}"
        )
        return [int(r[0]) for r in self.query(sql)]


def _reference_checks(tables: Sequence[Table]) -> list[tuple[Table, Column, Table]]:
    """(child, column, parent) for every reference from `tables`, and into them from other tables."""
    names = {t.name for t in tables}
    checks = [(t, c, TABLES[c.references]) for t in tables for c in t.references]
    checks += [
        (d, c, t)
        for t in tables
        for d in dependents(t.name)
        if d.name not in names
        for c in d.references
        if c.references == t.name
    ]
    return checks


class KeyRuns:
    """The keys of a table's restored rows so far, as runs of consecutive numbers (few, for the usual
    table of consecutive ids). Raises RowsRejected when a key repeats, TooScattered past `limit` runs."""

    def __init__(self, table: Table, limit: int):
        self.table, self.limit = table, limit
        self.runs: list[tuple[int, int]] = []

    def add(self, runs: list[tuple[int, int]] | None) -> None:
        if runs is None:
            raise RowsRejected(f"{self.table.name}: an id repeats")
        if not runs:
            return
        if self.runs and runs[0][0] > self.runs[-1][1]:  # the usual case: chunks in key order
            merged, incoming = self.runs, runs
        else:
            merged, incoming = [], sorted(self.runs + runs)
        for first, last in incoming:
            if merged and first <= merged[-1][1]:
                raise RowsRejected(f"{self.table.name}: id {first} repeats")
            if merged and first == merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], last)
            else:
                merged.append((first, last))
        self.runs = merged
        if len(self.runs) > self.limit:
            raise TooScattered(f"{self.table.name}: ids in more than {self.limit} runs")

    def gaps(self) -> list[tuple[int | None, int | None]]:
        """The key ranges between and around the runs ((first, last), None for unbounded): all of
        them, (None, None), when there are no keys."""
        out: list[tuple[int | None, int | None]] = []
        below = None
        for first, last in self.runs:
            out.append((below, first - 1))
            below = last + 1
        out.append((below, None))
        return out
