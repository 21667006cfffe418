"""Concurrent writers on MySQL: every write that maintains derived data takes effect once.

Each thread has its own backend (`databases.connect(url)`), as separate Lambda containers would. After
each scenario the report summary equals the straightforward GROUP BY over hired_employees, and no row
is lost or stored twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib import db as databases
from chalicelib.loading import ingest, loader
from chalicelib.rules.dictionary import DEPARTMENTS, HIRED_EMPLOYEES, JOBS
from tests.reports.workload import assert_summary_exact

WRITERS = 8
YEAR = 2021


def employee(i: int) -> dict:
    return {
        "id": i,
        "name": f"Person {i}",
        "datetime": f"2021-{(i % 12) + 1:02d}-0{(i % 9) + 1}T10:00:00Z",
        "department_id": (i % 3) + 1,
        "job_id": (i % 2) + 1,
    }


@pytest.fixture
def seeded(mysql_db):
    ingest.insert_batch(mysql_db, DEPARTMENTS, enumerate([{"id": d, "department": f"D{d}"} for d in (1, 2, 3)]), "t")
    ingest.insert_batch(mysql_db, JOBS, enumerate([{"id": j, "job": f"J{j}"} for j in (1, 2)]), "t")
    return mysql_db


def all_at_once(url: str, work: list[Callable[[databases.Database], Any]]) -> list[Any]:
    """Run each callable on its own thread and backend, released together; their results in order."""
    start = threading.Barrier(len(work))

    def run(task: Callable[[databases.Database], Any]) -> Any:
        database = databases.connect(url)
        try:
            database.ping()  # connected before the start, so the writers really overlap
            start.wait()
            return task(database)
        finally:
            database.close()

    with ThreadPoolExecutor(len(work)) as pool:
        return list(pool.map(run, work))


def stored_ids(db) -> list[int]:
    return [row[0] for row in db.iter_rows(HIRED_EMPLOYEES)]


def test_concurrent_deletes_of_one_row_delete_it_once_and_keep_the_summary_exact(seeded, mysql_url):
    ingest.insert_batch(seeded, HIRED_EMPLOYEES, enumerate(employee(i) for i in range(1, 21)), "t")
    for _ in range(3):
        key = stored_ids(seeded)[0]
        results = all_at_once(mysql_url, [lambda d, k=key: d.delete_row(HIRED_EMPLOYEES, k)] * WRITERS)
        assert sum(r is not None for r in results) == 1, results
        assert seeded.get_row(HIRED_EMPLOYEES, key) is None
        assert_summary_exact(seeded, years=(YEAR,))


def test_a_delete_racing_an_insert_of_the_same_id_leaves_the_summary_exact(seeded, mysql_url):
    ingest.insert_batch(seeded, HIRED_EMPLOYEES, enumerate(employee(i) for i in range(1, 11)), "t")
    for key in range(1, 11):
        # One delete and one insert only: two deletes racing each other is the test above.
        delete = lambda d, k=key: d.delete_row(HIRED_EMPLOYEES, k)  # noqa: E731
        insert = lambda d, k=key: ingest.insert_batch(d, HIRED_EMPLOYEES, [(0, employee(k))], "race")  # noqa: E731
        all_at_once(mysql_url, [delete, insert])
    assert_summary_exact(seeded, years=(YEAR,))
    assert len(stored_ids(seeded)) == len(set(stored_ids(seeded)))


@pytest.mark.parametrize("rows", [10, 150], ids=["one-insert", "bulk-path"])
def test_concurrent_identical_batches_store_each_row_once(seeded, mysql_url, rows):
    batch = [employee(i) for i in range(1, rows + 1)]
    results = all_at_once(
        mysql_url, [lambda d: ingest.insert_batch(d, HIRED_EMPLOYEES, enumerate(batch), "api")] * WRITERS
    )
    assert sum(r.inserted for r in results) == rows
    assert all(r.inserted + r.unchanged == rows and not r.rejected for r in results)
    assert stored_ids(seeded) == list(range(1, rows + 1))
    assert seeded.counts()["rejections"] == 0
    assert_summary_exact(seeded, years=(YEAR,))


def test_concurrent_uploads_of_one_file_store_each_row_once(seeded, mysql_url):
    rows = [employee(i) for i in range(1, 301)]
    body = "".join(f"{e['id']},{e['name']},{e['datetime']},{e['department_id']},{e['job_id']}\n" for e in rows)
    source = "upload:hired_employees:same-file"

    def upload(database):
        return loader.load(database, HIRED_EMPLOYEES, loader.open_bytes(body.encode()), source, chunk_rows=100)

    results = all_at_once(mysql_url, [upload] * 4)
    assert sum(r.inserted for r in results) == len(rows)
    assert all(r.inserted + r.unchanged == len(rows) and not r.rejected for r in results)
    assert stored_ids(seeded) == list(range(1, len(rows) + 1))
    assert_summary_exact(seeded, years=(YEAR,))


@pytest.mark.parametrize("merge", [True, False], ids=["merging", "emptying"])
def test_a_restore_while_batches_arrive_leaves_the_summary_exact(seeded, mysql_url, merge):
    ingest.insert_batch(seeded, HIRED_EMPLOYEES, enumerate(employee(i) for i in range(1, 201)), "t")
    backup = list(seeded.export_rows(HIRED_EMPLOYEES))[:150]  # as a backup taken before the last 50 rows

    def restore(database):
        return database.replace_tables({HIRED_EMPLOYEES: [backup]}, merge=merge)

    def batch(first):
        return lambda d: ingest.insert_batch(
            d, HIRED_EMPLOYEES, enumerate(employee(i) for i in range(first, first + 5)), "b"
        )

    all_at_once(mysql_url, [restore, *(batch(1000 + 10 * n) for n in range(WRITERS - 1))])
    ids = stored_ids(seeded)
    assert len(ids) == len(set(ids)) and set(range(1, 151)) <= set(ids)
    assert_summary_exact(seeded, years=(YEAR,))
