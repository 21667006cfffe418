"""Long work as jobs under `chalice local` on MySQL with 1,000,000 hired_employees rows.

- `POST /backups` and `POST /restores/hired_employees` answer 202 (target < 1 s each); polling
  `GET /background-jobs/{id}` shows progress moving and reaches `succeeded`; the table is identical
  after the restore (CHECKSUM TABLE).
- A restore whose server is stopped mid-way (the worker thread dies with it) is marked `failed` once its
  heartbeat is older than JOBS_STALE_SECONDS (5 s here), and retrying it succeeds, table identical.

``python -m bench jobs`` (``BENCH_JOBS_ROWS`` to change the size).
"""

from __future__ import annotations

import json
import os
import time
import urllib.request

from bench.bench_backup import checksum, load_tsv, write_rows
from bench.common import WORK, chalice_local, database_name, mysql_connection, report, scratch_database, verdict
from chalicelib import db as databases

ROWS = int(os.environ.get("BENCH_JOBS_ROWS", "1000000"))
KEY = "bench-key"
STALE_SECONDS = 5


def call(base: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict, float]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"x-api-key": KEY, "content-type": "application/json"}
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    return status, json.loads(payload), time.perf_counter() - started


def poll(base: str, job_id: str, until=lambda job: job["state"] not in ("queued", "running"), every: float = 0.5):
    """Poll the job until `until(job)`; (the job, the timeline of (seconds, state, rows done))."""
    started, timeline = time.perf_counter(), []
    while True:
        _, job, _ = call(base, "GET", f"/background-jobs/{job_id}")
        point = (round(time.perf_counter() - started, 1), job["state"], job["progress"]["rows_done"])
        if not timeline or point[1:] != timeline[-1][1:]:
            timeline.append(point)
        if until(job):
            return job, timeline
        time.sleep(every)


def show(timeline) -> str:
    return "; ".join(f"{t}s {state} {rows}" for t, state, rows in timeline)


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    tsv = str(WORK / "hired_employees_jobs.tsv")
    write_rows(tsv, ROWS)
    os.environ.update(JOBS_STALE_SECONDS=str(STALE_SECONDS), JOBS_HEARTBEAT_SECONDS="1")
    with scratch_database("hr_bench_jobs") as url:
        database = databases.connect(url)
        database.create_schema()
        conn = mysql_connection(database_name(url))
        with conn.cursor() as cur:
            cur.execute("INSERT INTO departments VALUES " + ", ".join(f"({i}, 'Department {i}')" for i in range(1, 13)))
            cur.execute("INSERT INTO jobs VALUES " + ", ".join(f"({i}, 'Job {i}')" for i in range(1, 184)))
            load_tsv(cur, tsv)
        database.rebuild_derived()
        database.close()
        original = checksum(conn)
        rows: list[tuple[str, str]] = []
        with chalice_local(url, KEY) as base:
            status, job, seconds = call(base, "POST", "/backups", {"tables": ["hired_employees"]})
            rows.append(("POST /backups", f"{status} in {seconds:.3f} s ({verdict(status == 202 and seconds < 1)})"))
            job, timeline = poll(base, job["id"])
            backup_id = (job["result"] or {}).get("backup")
            rows += [("backup job", f"{job['state']}, backup {backup_id}"), ("backup timeline", show(timeline))]
            with conn.cursor() as cur:
                cur.execute("DELETE FROM hired_employees WHERE id % 3 = 0")
            status, job, seconds = call(base, "POST", "/restores/hired_employees", {"backup": backup_id})
            rows.append(("POST /restores", f"{status} in {seconds:.3f} s ({verdict(status == 202 and seconds < 1)})"))
            job, timeline = poll(base, job["id"])
            same = checksum(conn) == original
            rows += [("restore job", f"{job['state']}, table identical: {same}"), ("restore timeline", show(timeline))]
            with conn.cursor() as cur:
                cur.execute("DELETE FROM hired_employees WHERE id % 2 = 0")
            _, killed, _ = call(base, "POST", "/restores/hired_employees", {"backup": backup_id})
            poll(base, killed["id"], until=lambda j: j["progress"]["rows_done"] > 0, every=0.1)
        # The server (and its worker thread) is gone, mid-restore; a new one finds the job silent.
        time.sleep(STALE_SECONDS + 1)
        with chalice_local(url, KEY) as base:
            _, job, _ = call(base, "GET", f"/background-jobs/{killed['id']}")
            rows.append(("killed restore", f"{job['state']}: {(job['error'] or {}).get('detail')}"))
            status, retry, _ = call(base, "POST", f"/background-jobs/{killed['id']}/retry")
            retry, timeline = poll(base, retry["id"])
            same = checksum(conn) == original
            rows += [("its retry", f"{retry['state']}, table identical: {same}"), ("retry timeline", show(timeline))]
        conn.close()
    report(f"jobs under chalice local, MySQL, {ROWS:,} hired_employees rows", rows)


if __name__ == "__main__":
    main()
