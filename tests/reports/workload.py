"""A generated hiring workload for the report tests, the brute-force reports it must equal, and the
check that the summary-backed reports equal a GROUP BY over hired_employees."""

from __future__ import annotations

import random
import unicodedata
from collections import Counter, defaultdict
from datetime import UTC, datetime
from fractions import Fraction

from chalicelib.loading import ingest
from chalicelib.reports import queries as reports
from chalicelib.rules.dictionary import DEPARTMENTS, HIRED_EMPLOYEES, JOBS

YEARS = (2019, 2020, 2021, 2022, 2023)

# Names chosen to trip the usual mistakes: case-only differences, accents, markup, a shared name,
# "Data Entry Clerk" vs "DBA Lead" (binary order puts the second first), leading lowercase.
DEPARTMENT_NAMES = [
    "Sales",
    "sales",
    "SALES",
    "Éclair Studio",
    "Eclair Studio",
    "engineering",
    "Engineering",
    "<script>alert('x')</script>",
    "Support",
    "Support",
    "Accounting",
    "Zoë's Team",
    "Human Resources",
    "Legal",
    "Training",  # the last two get no hire at all
]
JOB_NAMES = ["DBA Lead", "Data Entry Clerk", "dba lead", "Analyst", "analyst", "Ärztin", "Developer", "VP Sales"]
OFFSETS = ["Z", "+00:00", "-01:00", "+01:00", "-05:30", "+05:45", "-12:00", "+14:00", ""]

# Each moves (or not) across a quarter or year boundary once converted to UTC.
BOUNDARY_TIMES = [
    "2021-03-31T23:59:59Z",  # Q1
    "2021-04-01T00:00:00Z",  # Q2
    "2021-06-30T23:30:00-01:00",  # 2021-07-01 00:30 UTC: Q3
    "2021-07-01T00:30:00+01:00",  # 2021-06-30 23:30 UTC: Q2
    "2020-12-31T23:30:00-01:00",  # 2021-01-01 00:30 UTC: 2021 Q1
    "2021-01-01T00:30:00+01:00",  # 2020-12-31 23:30 UTC: 2020 Q4
    "2021-12-31T23:30:00-01:00",  # 2022 Q1
    "2022-01-01T00:59:59+01:00",  # 2021-12-31 23:59:59 UTC: 2021 Q4
    "2021-09-30T23:59:59Z",
    "2021-10-01T00:00:00Z",
    "2021-12-31T23:59:59Z",
    "2021-01-01T00:00:00Z",
]


def generate(seed: int, employees: int = 700):
    """Departments, jobs and hired_employees rows as the API takes them (some break a rule on purpose)."""
    rnd = random.Random(seed)
    departments = [{"id": i, "department": name} for i, name in enumerate(DEPARTMENT_NAMES, start=1)]
    jobs = [{"id": i, "job": name} for i, name in enumerate(JOB_NAMES, start=1)]
    hiring = [d["id"] for d in departments if d["department"] not in ("Legal", "Training")]
    rows = []
    for i in range(1, employees + 1):
        if i <= len(BOUNDARY_TIMES) * 3:
            when = BOUNDARY_TIMES[i % len(BOUNDARY_TIMES)]
        else:
            year = rnd.choice(YEARS)
            stamp = datetime(
                year, rnd.randint(1, 12), rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59)
            )
            if rnd.random() < 0.2:  # pile up on the first and last days of quarters
                month = rnd.choice([1, 3, 4, 6, 7, 9, 10, 12])
                stamp = stamp.replace(month=month, day=1 if month in (1, 4, 7, 10) else (30 if month in (6, 9) else 31))
            when = stamp.strftime("%Y-%m-%dT%H:%M:%S") + rnd.choice(OFFSETS)
        rows.append(
            {
                "id": i,
                "name": f"Person {i}",
                "datetime": when,
                "department_id": rnd.choice(hiring),
                "job_id": rnd.randint(1, len(jobs)),
            }
        )
    # Rows that are rejected (and must never count): unknown department, unknown job, bad date.
    rows.append(
        {"id": employees + 1, "name": "Ghost", "datetime": "2021-05-05T10:00:00Z", "department_id": 999, "job_id": 1}
    )
    rows.append(
        {"id": employees + 2, "name": "Ghost", "datetime": "2021-05-05T10:00:00Z", "department_id": 1, "job_id": 999}
    )
    rows.append(
        {"id": employees + 3, "name": "Ghost", "datetime": "2021-02-30T10:00:00Z", "department_id": 1, "job_id": 1}
    )
    return departments, jobs, rows


# -- the independent reference --------------------------------------------------------------------


def utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def reading_order(name: str):
    """A person's alphabetical order, written independently of chalicelib.reports.queries."""
    plain = "".join(c for c in unicodedata.normalize("NFD", name) if unicodedata.category(c) != "Mn").lower()
    return plain, name.lower(), name


def stored(departments, jobs, employees):
    """The employee rows the rules accept (existing department and job, a real date)."""
    dept_ids, job_ids = {d["id"] for d in departments}, {j["id"] for j in jobs}
    out = []
    for e in employees:
        try:
            when = utc(e["datetime"])
        except ValueError:
            continue
        if e["department_id"] in dept_ids and e["job_id"] in job_ids:
            out.append((e["department_id"], e["job_id"], when))
    return out


def brute_hires_by_quarter(departments, jobs, employees, year):
    dept = {d["id"]: d["department"] for d in departments}
    job = {j["id"]: j["job"] for j in jobs}
    counts = defaultdict(lambda: [0, 0, 0, 0])
    for d, j, when in stored(departments, jobs, employees):
        if when.year == year:
            counts[(d, j)][(when.month - 1) // 3] += 1
    keys = sorted(counts, key=lambda k: (reading_order(dept[k[0]]), k[0], reading_order(job[k[1]]), k[1]))
    return [
        {"department": dept[d], "job": job[j], "Q1": q[0], "Q2": q[1], "Q3": q[2], "Q4": q[3]}
        for (d, j), q in ((k, counts[k]) for k in keys)
    ]


def brute_departments_above_mean(departments, jobs, employees, year):
    hired = Counter({d["id"]: 0 for d in departments})
    for d, _, when in stored(departments, jobs, employees):
        if when.year == year:
            hired[d] += 1
    mean = Fraction(sum(hired.values()), len(departments))
    dept = {d["id"]: d["department"] for d in departments}
    above = sorted((i for i in hired if hired[i] > mean), key=lambda i: (-hired[i], i))
    return [{"id": i, "department": dept[i], "hired": hired[i]} for i in above]


def load(db, departments, jobs, employees):
    ingest.insert_batch(db, DEPARTMENTS, enumerate(departments), "test")
    ingest.insert_batch(db, JOBS, enumerate(jobs), "test")
    for start in range(0, len(employees), 250):
        ingest.insert_batch(db, HIRED_EMPLOYEES, enumerate(employees[start : start + 250], start), "test")


def assert_summary_exact(db, years=YEARS):
    """The summary-backed reports equal the straightforward GROUP BY over hired_employees."""
    for year in years:
        assert sorted(db.quarterly_hires(year)) == sorted(db.quarterly_hires(year, from_table=True)), year
        assert reports.hires_by_quarter(db, year) == reports.hires_by_quarter(db, year, from_table=True), year
        assert reports.departments_above_mean(db, year) == reports.departments_above_mean(db, year, from_table=True), (
            year
        )
