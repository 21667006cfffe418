"""The stakeholder reports: hires per quarter, and departments hiring above the mean.

Counts come from the backend (its summary table, kept exact by the write hooks; or, for checking and
benchmarking, the straightforward GROUP BY over hired_employees). Ordering, the mean and the output
shapes are decided here, in Python, so both backends give the same answer in the same order.

Order by name is the way a person reads a list, the same on every backend whatever its collation:
1. accents and case are ignored first ("Data Entry Clerk" < "DBA Lead" < "Éclair" < "Engineering");
2. names equal that way are ordered with accents, case-insensitively ("Eclair" < "Éclair"), then by
   code point, so uppercase comes before lowercase ("DBA Lead" < "DBA lead");
3. names identical to the letter are ordered by id.
Rows are per department and job record (by id): two departments that share a name stay two rows.
Letters with no decomposition (ł, ø, æ) sort by code point after z; this is not a locale collation.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.db import Database
from chalicelib.reports.spreadsheet import safe_cell
from chalicelib.rules.fields import MAX_YEAR, MIN_YEAR  # the years a stored datetime can have

DEFAULT_YEAR = 2021
QUARTERS = ("Q1", "Q2", "Q3", "Q4")
HIRES_BY_QUARTER_COLUMNS = ("department", "job", *QUARTERS)
DEPARTMENTS_ABOVE_MEAN_COLUMNS = ("id", "department", "hired")
FORMATS = ("json", "csv", "table")


class InvalidYear(ValueError):
    """A `year` that is not a whole number between MIN_YEAR and MAX_YEAR."""


def parse_year(value: Any) -> int:
    """The report year from user input (None means the default), or InvalidYear."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_YEAR
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise InvalidYear(f"year must be a whole number like {DEFAULT_YEAR}, got {value!r}")
    # A year of thousands of digits is out of range, and past what int() will parse.
    year = int(text) if len(text.lstrip("0")) <= len(str(MAX_YEAR)) else MAX_YEAR + 1
    if not MIN_YEAR <= year <= MAX_YEAR:
        shown = text if len(text) <= 40 else f"{text[:40]}... ({len(text)} digits)"
        raise InvalidYear(f"year must be between {MIN_YEAR} and {MAX_YEAR}, got {shown}")
    return year


def name_key(name: str) -> tuple[str, str, str]:
    """Sort key for a department or job name, as a person reads a list (see the module docstring)."""
    folded = name.casefold()
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(ch))
    return bare, unicodedata.normalize("NFC", folded), name


# (department_id, department, job_id, job, Q1, Q2, Q3, Q4), as the backend's quarterly_hires gives them
QuarterlyHires = Sequence[tuple[int, str, int, str, int, int, int, int]]


def _cached(function: Callable[[str], Any]) -> Callable[[str], Any]:
    """`function` memoized for one report: a few hundred names repeat across thousands of rows."""
    memo: dict[str, Any] = {}

    def cached(name: str) -> Any:
        value = memo.get(name)
        if value is None:
            value = memo[name] = function(name)
        return value

    return cached


def hires_by_quarter(db: Database, year: int, from_table: bool = False) -> list[dict[str, Any]]:
    """Report 1: for each (department, job) with a hire in `year`: hires per calendar quarter (UTC).

    Objects with exactly the keys department, job, Q1..Q4, ordered by department then job name.
    """
    return hires_by_quarter_from(db.quarterly_hires(year, from_table=from_table))


def hires_by_quarter_from(counts: QuarterlyHires) -> list[dict[str, Any]]:
    """Report 1 from the backend's quarterly counts."""
    key = _cached(name_key)
    ordered = sorted(counts, key=lambda c: (key(c[1]), c[0], key(c[3]), c[2]))
    return [{"department": c[1], "job": c[3], "Q1": c[4], "Q2": c[5], "Q3": c[6], "Q4": c[7]} for c in ordered]


def quarters_by_department(counts: QuarterlyHires) -> list[tuple[int, str, list[int]]]:
    """(department id, department, hires in Q1..Q4) per department with hires, in report order."""
    per: dict[int, tuple[str, list[int]]] = {}
    for department_id, department, _, _, *quarters in counts:
        totals = per.setdefault(department_id, (department, [0, 0, 0, 0]))[1]
        for i, hires in enumerate(quarters):
            totals[i] += hires
    ordered = sorted(per.items(), key=lambda item: (name_key(item[1][0]), item[0]))
    return [(department_id, name, quarters) for department_id, (name, quarters) in ordered]


@dataclass(frozen=True)
class DepartmentHires:
    """Hires per department in a year, and what the mean is taken over."""

    year: int
    hired: list[tuple[int, str, int]]  # (id, department, hired) for departments with at least one hire
    departments: int  # every department, those with no hire that year included

    @property
    def total(self) -> int:
        return sum(h for _, _, h in self.hired)

    @property
    def mean(self) -> float:
        return self.total / self.departments if self.departments else 0.0

    def above_mean(self) -> list[dict[str, Any]]:
        # hired > total / n, compared as hired * n > total: exact, no float rounding at any size.
        above = [(i, name, h) for i, name, h in self.hired if h * self.departments > self.total]
        above.sort(key=lambda r: (-r[2], r[0]))
        return [{"id": i, "department": name, "hired": h} for i, name, h in above]


def department_hires(db: Database, year: int, from_table: bool = False) -> DepartmentHires:
    hired, departments = db.department_hires(year, from_table=from_table)
    return DepartmentHires(year, hired, departments)


def departments_above_mean(db: Database, year: int, from_table: bool = False) -> list[dict[str, Any]]:
    """Report 2: id, department, hired for every department hiring more than the mean in `year`.

    The mean is over all departments (no hire that year counts as 0). Ordered by hired desc, then id.
    """
    return department_hires(db, year, from_table=from_table).above_mean()


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    columns: tuple[str, ...]
    run: Callable[..., list[dict[str, Any]]]
    aliases: tuple[str, ...] = ()  # other names it answers to, e.g. the original challenge's paths


REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        Report(
            "hires-by-quarter",
            "Hires by quarter",
            HIRES_BY_QUARTER_COLUMNS,
            hires_by_quarter,
            aliases=("hired_employees_2021_quarters",),
        ),
        Report(
            "departments-above-mean",
            "Departments hiring above the mean",
            DEPARTMENTS_ABOVE_MEAN_COLUMNS,
            departments_above_mean,
            aliases=("hired_employees_2021",),
        ),
    )
}


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """RFC 4180 CSV with a header row (CRLF line ends, quoted where needed), for people: a name such as
    ``=HYPERLINK(...)`` is written as ``'=HYPERLINK(...)``, so that opening the report does not run it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([safe_cell(row[c]) for c in columns] for row in rows)
    return out.getvalue()


def to_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """An aligned text table for a terminal: text left, numbers right."""
    cells = [[str(row[c]) for c in columns] for row in rows]
    numeric = [bool(rows) and all(isinstance(row[c], int) for row in rows) for c in columns]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    lines = [line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells]
    if not rows:
        lines.append("(no rows)")
    return "\n".join(lines) + "\n"
