"""The reports' summary table, `quarterly_hires`: its definition and its upkeep.

Derived from hired_employees: hires per (year, department, job) in each quarter (q1..q4), kept exact by
the write hooks here so the reports read one row per line of their answer, not the table. Every write
path calls them inside its transaction, so the summary is exact whenever the rows are. A path that
writes rows any other way (a bulk load, a restore, a Glue job) calls `after_insert` with its rows or
`rebuild_derived()`.

Relies on the core's `q`, `placeholder`, `column_types`, `_upsert_sql`, `_year_sql` and `_quarter_sql`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from chalicelib.db.core import DatabaseCore
from chalicelib.db.staging import StagedRows
from chalicelib.rules.dictionary import INTEGER, TABLES, Table

QUARTERLY_HIRES = "quarterly_hires"
QUARTERLY_HIRES_KEY = ("year", "department_id", "job_id")
QUARTERS = ("q1", "q2", "q3", "q4")

QuarterlyCounts = dict[tuple[int, int, int], list[int]]


class SummaryUpkeep(DatabaseCore):
    """The `quarterly_hires` table and the hooks that keep it exact."""

    summary_table_options = ""  # the backend's table options for the summary (storage engine, rowid)

    def _quarterly_hires_ddl(self) -> str:
        """The reports' summary table: one row per (year, department, job), hires per quarter."""
        integer = self.column_types[INTEGER]
        columns = ", ".join(f"{self.q(c)} {integer} NOT NULL" for c in (*QUARTERLY_HIRES_KEY, *QUARTERS))
        key = ", ".join(self.q(c) for c in QUARTERLY_HIRES_KEY)
        return (
            f"CREATE TABLE IF NOT EXISTS {self.q(QUARTERLY_HIRES)} ({columns}, PRIMARY KEY ({key})) "
            f"{self.summary_table_options}"
        )

    def after_insert(self, table: Table, rows: Sequence[Sequence[Any]], staged: StagedRows | None = None) -> None:
        """Typed rows were just inserted into `table` in the current transaction (`staged`: as for
        `bulk_insert`, whose counts are used when it holds these rows)."""
        if table.name == "hired_employees" and rows:
            staged = StagedRows.holding(staged, rows)
            if staged is not None and staged.quarterly is not None:
                self._add_quarterly_hires(staged.quarterly, sign=1)
            else:
                self._add_quarterly_hires(quarterly_counts(rows), sign=1)

    def after_delete(self, table: Table, rows: Sequence[Sequence[Any]]) -> None:
        """Typed rows were just deleted from `table` in the current transaction."""
        if table.name == "hired_employees" and rows:
            self._add_quarterly_hires(quarterly_counts(rows), sign=-1)

    def rebuild_derived(self) -> None:
        """Recompute everything derived from the tables (after writes that bypassed `after_insert`)."""
        columns = ", ".join(self.q(c) for c in (*QUARTERLY_HIRES_KEY, *QUARTERS))
        with self.transaction():
            self.execute(f"DELETE FROM {self.q(QUARTERLY_HIRES)}")
            self.execute(f"INSERT INTO {self.q(QUARTERLY_HIRES)} ({columns}) {self._quarterly_hires_of_table_sql()}")

    def _quarterly_hires_of_table_sql(self) -> str:
        """The summary's rows as the GROUP BY over hired_employees computes them, in the summary's column order."""
        when = self.q("datetime")
        quarter = self._quarter_sql(when)
        per_quarter = ", ".join(f"SUM(CASE WHEN {quarter} = {n} THEN 1 ELSE 0 END)" for n in (1, 2, 3, 4))
        return (
            f"SELECT {self._year_sql(when)}, {self.q('department_id')}, {self.q('job_id')}, {per_quarter} "
            f"FROM {self.q('hired_employees')} GROUP BY 1, 2, 3"
        )

    def _replace_quarterly_hires(self, counts: QuarterlyCounts | None) -> None:
        """Make the summary `counts` (those of every hired_employees row); None: recount from the table."""
        if counts is None:
            self.rebuild_derived()
            return
        self.execute(f"DELETE FROM {self.q(QUARTERLY_HIRES)}")
        if counts:
            self._add_quarterly_hires(counts, sign=1)

    def _add_quarterly_hires(self, counts: QuarterlyCounts, sign: int) -> None:
        # Keys in one order in every transaction, so two writers lock summary rows in the same order.
        keys = sorted(counts)
        if sign > 0:
            self._upsert_quarterly_hires([(*k, *counts[k]) for k in keys])
            return
        table = self.q(QUARTERLY_HIRES)
        match = " AND ".join(f"{self.q(c)} = {self.placeholder}" for c in QUARTERLY_HIRES_KEY)
        subtract = ", ".join(f"{self.q(q)} = {self.q(q)} - {self.placeholder}" for q in QUARTERS)
        self.executemany(f"UPDATE {table} SET {subtract} WHERE {match}", [(*counts[k], *k) for k in keys])
        # A (year, department, job) with no hire left is no row, as if it never had one.
        total = " + ".join(self.q(q) for q in QUARTERS)
        self.executemany(f"DELETE FROM {table} WHERE {match} AND {total} <= 0", [tuple(k) for k in keys])

    def _upsert_quarterly_hires(self, rows: list[tuple[int, ...]]) -> None:
        """Add (year, department_id, job_id, q1, q2, q3, q4) rows, in this order, to the summary."""
        sql = self._upsert_sql(
            QUARTERLY_HIRES,
            (*QUARTERLY_HIRES_KEY, *QUARTERS),
            QUARTERLY_HIRES_KEY,
            dict.fromkeys(QUARTERS, "{old} + {new}"),
        )
        self.executemany(sql, rows)


def add_quarterly_counts(total: QuarterlyCounts, counts: QuarterlyCounts) -> None:
    """Add `counts` into `total`, quarter by quarter."""
    for key, quarters in counts.items():
        into = total.setdefault(key, [0, 0, 0, 0])
        for q in range(4):
            into[q] += quarters[q]


def quarterly_counts(rows: Sequence[Sequence[Any]]) -> QuarterlyCounts:
    """Hires per (year, department_id, job_id) in Q1..Q4 among typed hired_employees rows (UTC datetimes)."""
    names = TABLES["hired_employees"].column_names
    at, department, job = names.index("datetime"), names.index("department_id"), names.index("job_id")
    counts: QuarterlyCounts = {}
    for row in rows:
        when = row[at]
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        key = (when.year, int(row[department]), int(row[job]))
        quarters = counts.get(key)
        if quarters is None:
            quarters = counts[key] = [0, 0, 0, 0]
        quarters[(when.month - 1) // 3] += 1
    return counts


_QUARTER_OF_MONTH = {f"{month:02d}": (month - 1) // 3 for month in range(1, 13)}


def quarterly_counts_of_lines(chunk: Any) -> QuarterlyCounts:
    """`quarterly_counts` of the valid rows of a `loading.lines.LineChunk` of hired_employees: its lines in
    the common shape counted by their text (year, month, department_id, job_id), then its other rows."""
    names = TABLES["hired_employees"].column_names
    keys = chunk.quarter_keys(names.index("datetime"), (names.index("department_id"), names.index("job_id")))
    counts: QuarterlyCounts = {}
    if keys:
        # Column by column in C (int(), the month's quarter), then one pass over the distinct keys.
        years, months, departments, jobs = zip(*keys)
        triples = zip(map(int, years), map(int, departments), map(int, jobs))
        for key, quarter, n in zip(triples, map(_QUARTER_OF_MONTH.__getitem__, months), keys.values()):
            quarters = counts.get(key)
            if quarters is None:
                quarters = counts[key] = [0, 0, 0, 0]
            quarters[quarter] += n
    add_quarterly_counts(counts, quarterly_counts([c.row for c in chunk.valid_others]))
    return counts


_DAY = 86400


def quarterly_counts_of_seconds(rows: Sequence[Sequence[Any]]) -> QuarterlyCounts:
    """`quarterly_counts` of typed hired_employees rows whose datetimes are whole seconds since 1970 UTC."""
    names = TABLES["hired_employees"].column_names
    at, department, job = names.index("datetime"), names.index("department_id"), names.index("job_id")
    epoch = datetime(1970, 1, 1)
    days: dict[int, tuple[int, int]] = {}  # day since 1970 -> (year, quarter index)
    counts: QuarterlyCounts = {}
    for row in rows:
        day = row[at] // _DAY
        year_quarter = days.get(day)
        if year_quarter is None:
            when = epoch + timedelta(days=day)
            year_quarter = days[day] = (when.year, (when.month - 1) // 3)
        key = (year_quarter[0], row[department], row[job])
        quarters = counts.get(key)
        if quarters is None:
            quarters = counts[key] = [0, 0, 0, 0]
        quarters[year_quarter[1]] += 1
    return counts
