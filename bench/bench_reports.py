"""Both reports through `chalice local` on MySQL with 1,000,000 and 5,000,000 hired_employees rows,
beside the straightforward GROUP BY over hired_employees run in the same run.

Rows are bulk-generated into a tab-separated file and loaded with LOAD DATA LOCAL INFILE (the way a
restore or a Glue load writes rows without the per-row hooks), then `rebuild_derived()` recomputes the
summary, as those paths do. Before timing, the summary-backed reports are checked equal to the
straightforward query.

Target: p50 under 50 ms at both sizes, and at least 20x faster than the straightforward
query at 1,000,000 rows.
"""

from __future__ import annotations

import os
import random
import tempfile
import time

import requests

from bench.common import (
    WORK,
    chalice_local,
    database_name,
    mysql_connection,
    p50,
    percentile,
    report,
    scratch_database,
    verdict,
)
from chalicelib import db as databases
from chalicelib.loading import ingest, samples
from chalicelib.reports import queries as reports
from chalicelib.rules.dictionary import DEPARTMENTS, JOBS

SIZES = (1_000_000, 5_000_000)
REQUESTS = 20
WARMUP = 3
BASELINE_RUNS = {1_000_000: 5, 5_000_000: 3}
YEAR = 2021
ROUTES = {
    "hires-by-quarter": "/reports/hires-by-quarter?year=2021",
    "departments-above-mean": "/reports/departments-above-mean?year=2021",
}
TARGET_MS, TARGET_SPEEDUP = 50.0, 20.0


def seed_reference_tables(db: databases.Database) -> int:
    departments = [{"id": i, "department": name} for i, name in enumerate(samples.DEPARTMENTS, start=1)]
    jobs = [{"id": i, "job": title} for i, title in enumerate(samples.job_titles(), start=1)]
    ingest.insert_batch(db, DEPARTMENTS, enumerate(departments), "bench")
    ingest.insert_batch(db, JOBS, enumerate(jobs), "bench")
    return len(jobs)


def write_rows(path: str, first_id: int, count: int, departments: int, jobs: int, seed: int) -> None:
    """`count` employees hired 2019-2023 (about a fifth in 2021), uneven across departments."""
    rnd = random.Random(seed)
    weights = [1 + (i * 7) % 5 for i in range(departments)]
    department_ids = rnd.choices(range(1, departments + 1), weights=weights, k=count)
    job_ids = [rnd.randint(1, jobs) for _ in range(count)]
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for n in range(count):
            i = first_id + n
            stamp = rnd.getrandbits(27)  # seconds into a 5-year span starting 2019-01-01
            year = 2019 + stamp // 31_536_000
            day_of_year = (stamp % 31_536_000) // 86_400
            month, day = 1 + day_of_year // 31 % 12, 1 + day_of_year % 28
            out.write(
                f"{i}\tEmployee {i}\t{year:04d}-{month:02d}-{day:02d} "
                f"{stamp // 3600 % 24:02d}:{stamp // 60 % 60:02d}:{stamp % 60:02d}"
                f"\t{department_ids[n]}\t{job_ids[n]}\n"
            )


def bulk_load(url: str, path: str) -> None:
    conn = mysql_connection(database_name(url))
    try:
        with conn.cursor() as cur:
            # The generated rows are valid by construction; checks per row would only slow the load.
            cur.execute("SET SESSION foreign_key_checks = 0, unique_checks = 0")
            cur.execute(
                "LOAD DATA LOCAL INFILE %s INTO TABLE hired_employees (id, name, datetime, department_id, job_id)",
                (path,),
            )
    finally:
        conn.close()


def grow_to(url: str, db: databases.Database, current: int, target: int, jobs: int) -> float:
    """Add rows up to `target`, then rebuild the summary; returns the rebuild's seconds."""
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=WORK, suffix=".tsv", delete=False) as handle:
        path = handle.name
    try:
        started = time.perf_counter()
        write_rows(path, current + 1, target - current, len(samples.DEPARTMENTS), jobs, seed=target)
        generated = time.perf_counter()
        bulk_load(url, path)
        loaded = time.perf_counter()
        print(
            f"  {target:,} rows: generated in {generated - started:.1f} s, LOAD DATA in {loaded - generated:.1f} s",
            flush=True,
        )
    finally:
        os.unlink(path)
    started = time.perf_counter()
    db.rebuild_derived()
    return time.perf_counter() - started


# The reports as usually written straight in SQL: YEAR() in the WHERE, names grouped and joined. They
# also answer differently from the service on tricky data (collation-dependent grouping and order);
# here they are only timed.
TEXTBOOK_SQL = {
    "hires-by-quarter": (
        "SELECT d.department, j.job, SUM(QUARTER(h.datetime) = 1) AS Q1, SUM(QUARTER(h.datetime) = 2) AS Q2, "
        "SUM(QUARTER(h.datetime) = 3) AS Q3, SUM(QUARTER(h.datetime) = 4) AS Q4 "
        "FROM hired_employees h JOIN departments d ON d.id = h.department_id JOIN jobs j ON j.id = h.job_id "
        "WHERE YEAR(h.datetime) = %s GROUP BY d.department, j.job ORDER BY d.department, j.job"
    ),
    "departments-above-mean": (
        "SELECT d.id, d.department, COUNT(*) AS hired "
        "FROM hired_employees h JOIN departments d ON d.id = h.department_id "
        "WHERE YEAR(h.datetime) = %s GROUP BY d.id, d.department "
        "HAVING COUNT(*) > (SELECT COUNT(*) FROM hired_employees WHERE YEAR(datetime) = %s) "
        "/ (SELECT COUNT(*) FROM departments) "
        "ORDER BY hired DESC, d.id"
    ),
}


def timed_ms(run, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def baseline_ms(db: databases.Database, name: str, runs: int) -> list[float]:
    """The service's own reference path: GROUP BY over hired_employees with an index range on datetime."""
    return timed_ms(lambda: reports.REPORTS[name].run(db, YEAR, from_table=True), runs)


def textbook_ms(url: str, name: str, runs: int) -> list[float]:
    conn = mysql_connection(database_name(url))
    sql = TEXTBOOK_SQL[name]
    params = (YEAR,) * sql.count("%s")

    def run():
        with conn.cursor() as cur:
            cur.execute(sql, params)
            cur.fetchall()

    try:
        return timed_ms(run, runs)
    finally:
        conn.close()


def api_ms(base: str, path: str, expected: list) -> list[float]:
    session = requests.Session()
    headers = {"x-api-key": "bench-key"}
    times = []
    for n in range(WARMUP + REQUESTS):
        started = time.perf_counter()
        response = session.get(base + path, headers=headers, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or response.json() != expected:
            raise RuntimeError(f"{path}: {response.status_code} or an answer different from the straightforward query")
        if n >= WARMUP:
            times.append(elapsed)
    return times


def main() -> None:
    with scratch_database("hr_bench_reports") as url:
        db = databases.connect(url)
        db.create_schema()
        jobs = seed_reference_tables(db)
        current = 0
        results = {}
        with chalice_local(url) as base:
            for size in SIZES:
                rebuild_s = grow_to(url, db, current, size, jobs)
                current = size
                rows = [("rebuild_derived()", f"{rebuild_s:.1f} s")]
                for name, path in ROUTES.items():
                    expected = reports.REPORTS[name].run(db, YEAR, from_table=True)
                    if reports.REPORTS[name].run(db, YEAR) != expected:
                        raise RuntimeError(
                            f"{name}: the summary differs from the straightforward query at {size:,} rows"
                        )
                    base_ms = baseline_ms(db, name, BASELINE_RUNS[size])
                    book_ms = textbook_ms(url, name, BASELINE_RUNS[size])
                    served = api_ms(base, path, expected)
                    speedup, book_speedup = p50(base_ms) / p50(served), p50(book_ms) / p50(served)
                    results[(size, name)] = (p50(served), book_speedup, speedup)
                    rows += [
                        (
                            f"{name}: GET p50 / p95",
                            f"{p50(served):.1f} ms / {percentile(served, 95):.1f} ms  "
                            f"({REQUESTS} requests, {len(expected)} rows)",
                        ),
                        (
                            f"{name}: textbook SQL p50",
                            f"{p50(book_ms):.0f} ms  (YEAR() filter, {len(book_ms)} runs, no HTTP) "
                            f"-> {book_speedup:.0f}x",
                        ),
                        (
                            f"{name}: indexed GROUP BY p50",
                            f"{p50(base_ms):.0f} ms  (datetime range, {len(base_ms)} runs, no HTTP) -> {speedup:.0f}x",
                        ),
                    ]
                report(f"reports on MySQL, {size:,} hired_employees rows", rows)
        db.close()
    verdicts = []
    for (size, name), (served, book_speedup, speedup) in results.items():
        ok = served < TARGET_MS and (size != SIZES[0] or book_speedup >= TARGET_SPEEDUP)
        verdicts.append(
            (
                f"{name} at {size:,}",
                f"p50 {served:.1f} ms, {book_speedup:.0f}x textbook SQL: {verdict(ok)}; "
                f"{speedup:.0f}x the indexed GROUP BY"
                + (f" ({verdict(speedup >= TARGET_SPEEDUP)} there too)" if size == SIZES[0] else ""),
            )
        )
    report(
        f"targets: p50 < {TARGET_MS:.0f} ms at every size, "
        f">= {TARGET_SPEEDUP:.0f}x the straightforward query at {SIZES[0]:,}",
        verdicts,
    )


if __name__ == "__main__":
    main()
