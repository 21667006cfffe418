"""The reports' SQL: hires per quarter by department and job, and hires by department, for a year.

Both read the summary (summary.py) by default; `from_table=True` runs the straightforward GROUP BY over
hired_employees instead (the reference the summary is checked against, and the benchmark's baseline).
Relies on the core's `q`, `placeholder`, `_encode`, `_quarter_sql`, `_where_in`, `query` and
`_query_many_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.db.core import DatabaseCore, retried_read
from chalicelib.db.summary import QUARTERLY_HIRES, QUARTERS
from chalicelib.rules.dictionary import TABLES, Table


class ReportSql(DatabaseCore):
    """The two reports' queries."""

    @retried_read
    def quarterly_hires(
        self, year: int, from_table: bool = False
    ) -> list[tuple[int, str, int, str, int, int, int, int]]:
        """(department_id, department, job_id, job, Q1, Q2, Q3, Q4) for every department and job with
        hires in `year`. Unordered: the caller orders by name the same way on every backend."""
        columns = ("department_id", "job_id", *QUARTERS)
        sql, params = self._quarterly_hires_sql(year, columns, from_table)
        # int(): MySQL's SUM is a DECIMAL.
        counts = [
            (int(d), int(j), int(a), int(b), int(c), int(e))
            for d, j, a, b, c, e in self._query_many_rows(sql, params, columns)
        ]
        # Names after counts: a department or job named by a count existed when it was read, and a
        # referenced row cannot be deleted, so every name is found.
        departments = self._names(TABLES["departments"], {c[0] for c in counts})
        jobs = self._names(TABLES["jobs"], {c[1] for c in counts})
        return [(d, departments[d], j, jobs[j], q1, q2, q3, q4) for d, j, q1, q2, q3, q4 in counts]

    def _quarterly_hires_sql(self, year: int, columns: Sequence[str], from_table: bool) -> tuple[str, list[Any]]:
        """The statement and parameters for `quarterly_hires`, result columns named `columns`."""
        if not from_table:
            sql = (
                f"SELECT {', '.join(self.q(c) for c in columns)} FROM {self.q(QUARTERLY_HIRES)} "
                f"WHERE {self.q('year')} = {self.placeholder} AND {' + '.join(self.q(q) for q in QUARTERS)} > 0"
            )
            return sql, [year]
        when = self.q("datetime")
        quarter = self._quarter_sql(when)
        per_quarter = ", ".join(
            f"SUM(CASE WHEN {quarter} = {n} THEN 1 ELSE 0 END) AS {self.q(f'q{n}')}" for n in (1, 2, 3, 4)
        )
        sql = (
            f"SELECT {self.q('department_id')}, {self.q('job_id')}, {per_quarter} FROM {self.q('hired_employees')} "
            f"WHERE {when} >= {self.placeholder} AND {when} <= {self.placeholder} GROUP BY 1, 2"
        )
        return sql, self._year_range(year)

    @retried_read
    def department_hires(self, year: int, from_table: bool = False) -> tuple[list[tuple[int, str, int]], int]:
        """((id, department, hired) for each department with hires in `year`, number of departments)."""
        if from_table:
            when = self.q("datetime")
            counts = (
                f"SELECT {self.q('department_id')}, COUNT(*) AS {self.q('hired')} FROM {self.q('hired_employees')} "
                f"WHERE {when} >= {self.placeholder} AND {when} <= {self.placeholder} GROUP BY 1"
            )
            params = self._year_range(year)
        else:
            hired = " + ".join(self.q(q) for q in QUARTERS)
            counts = (
                f"SELECT {self.q('department_id')}, SUM({hired}) AS {self.q('hired')} "
                f"FROM {self.q(QUARTERLY_HIRES)} WHERE {self.q('year')} = {self.placeholder} GROUP BY 1"
            )
            params = [year]
        # One statement, so the counts and the number of departments come from the same snapshot.
        sql = (
            f"SELECT d.{self.q('id')}, d.{self.q('department')}, c.{self.q('hired')}, "
            f"(SELECT COUNT(*) FROM {self.q('departments')}) "
            f"FROM ({counts}) c JOIN {self.q('departments')} d ON d.{self.q('id')} = c.{self.q('department_id')} "
            f"WHERE c.{self.q('hired')} > 0"
        )
        rows = self.query(sql, params)
        if not rows:
            n_departments = self.query(f"SELECT COUNT(*) FROM {self.q('departments')}")[0][0]
            return [], int(n_departments)
        return [(int(i), name, int(hired)) for i, name, hired, _ in rows], int(rows[0][3])

    def _year_range(self, year: int) -> list[Any]:
        # A range on the indexed column rather than YEAR(datetime) = ?, so the index can serve it.
        return [self._encode(datetime(year, 1, 1)), self._encode(datetime(year, 12, 31, 23, 59, 59))]

    def _names(self, table: Table, ids: set[int]) -> dict[int, str]:
        """id -> name (the table's second column) for `ids`."""
        columns = f"{self.q(table.key)}, {self.q(table.columns[1].name)}"
        rows = self._where_in(f"SELECT {columns} FROM {self.q(table.name)}", table.key, sorted(ids))
        return {int(i): n for i, n in rows}
