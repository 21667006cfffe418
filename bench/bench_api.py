"""1000-row `hired_employees` batch POSTs through `chalice local` on MySQL, beside the raw time to
insert the same 1000 rows with one multi-row pymysql INSERT, measured in the same run.

Target: p50 at most 2.5x the raw insert, and under 50 ms.
"""

from __future__ import annotations

import json
import time

import requests

from bench.common import (
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
from chalicelib.rules.dictionary import DEPARTMENTS, JOBS

REQUESTS = 60
WARMUP = 5
ROWS = 1000


def batch(start: int) -> list[dict]:
    return [
        {
            "id": i,
            "name": f"Employee {i}",
            "datetime": f"2021-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:15:00Z",
            "department_id": 1 + i % 12,
            "job_id": 1 + i % 100,
        }
        for i in range(start, start + ROWS)
    ]


def raw_insert_ms(url: str) -> list[float]:
    """One multi-row INSERT of 1000 rows into the same table (same keys and foreign keys), per iteration,
    from already-typed values, in its own transaction; ids are in a range the API run does not use."""
    conn = mysql_connection(database_name(url))
    times = []
    for n in range(WARMUP + REQUESTS):
        rows = [
            (r["id"], r["name"], r["datetime"][:19].replace("T", " "), r["department_id"], r["job_id"])
            for r in batch(10_000_000 + n * ROWS)
        ]
        sql = "INSERT INTO hired_employees (id, name, datetime, department_id, job_id) VALUES " + ", ".join(
            ["(%s, %s, %s, %s, %s)"] * len(rows)
        )
        params = [v for row in rows for v in row]
        started = time.perf_counter()
        conn.begin()
        with conn.cursor() as cur:
            cur.execute(sql, params)
        conn.commit()
        if n >= WARMUP:
            times.append((time.perf_counter() - started) * 1000)
    conn.close()
    return times


def api_ms(base: str) -> list[float]:
    session = requests.Session()
    headers = {"x-api-key": "bench-key", "content-type": "application/json"}
    times = []
    for n in range(WARMUP + REQUESTS):
        body = json.dumps(batch(1 + n * ROWS)).encode()  # bytes: headers and body leave in one send()
        started = time.perf_counter()
        response = session.post(base + "/hired_employees", data=body, headers=headers, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 201:
            raise RuntimeError(f"batch {n}: {response.status_code} {response.text[:300]}")
        if n >= WARMUP:
            times.append(elapsed)
    return times


def main() -> None:
    with scratch_database() as url:
        database = databases.connect(url)
        database.create_schema()
        with database.transaction():
            database.insert_rows(DEPARTMENTS, [(i, f"Department {i}") for i in range(1, 13)])
            database.insert_rows(JOBS, [(i, f"Job {i}") for i in range(1, 101)])
        database.close()
        raw = raw_insert_ms(url)
        with chalice_local(url) as base:
            api = api_ms(base)
        stored = databases.connect(url).counts()["hired_employees"]
    assert stored == 2 * (WARMUP + REQUESTS) * ROWS, stored
    ratio = p50(api) / p50(raw)
    report(
        f"POST /hired_employees, {ROWS} rows per batch, {REQUESTS} requests, chalice local -> MariaDB",
        [
            ("raw multi-row INSERT p50", f"{p50(raw):7.1f} ms   p95 {percentile(raw, 95):7.1f} ms"),
            ("API batch insert p50", f"{p50(api):7.1f} ms   p95 {percentile(api, 95):7.1f} ms"),
            ("ratio API / raw (p50)", f"{ratio:7.2f}x  (target <= 2.5x: {verdict(ratio <= 2.5)})"),
            ("API p50 under 50 ms", verdict(p50(api) < 50)),
            ("rows stored", f"{stored}"),
        ],
    )


if __name__ == "__main__":
    main()
