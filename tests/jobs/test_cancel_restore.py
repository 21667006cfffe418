"""Cancelling a restore while it runs leaves the table as it was (MySQL: the cancel is written beside
the restore's open transaction; the embedded SQLite holds one writer at a time)."""

from __future__ import annotations

import time

import pytest

from chalicelib import db as databases
from chalicelib.backups import restore as restores
from chalicelib.jobs import service as jobs
from chalicelib.jobs import work
from chalicelib.jobs.store import JobStore
from tests.backups.sample_data import checksums, seed
from tests.conftest import ROOT
from tests.jobs.conftest import send


@pytest.fixture
def mysql_client(mysql_db, mysql_url, monkeypatch):
    from chalice.test import Client

    import app as app_module

    monkeypatch.setenv("DATABASE_URL", mysql_url)
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as test_client:
        yield test_client


def test_a_restore_cancelled_mid_way_leaves_the_table_as_it_was(
    mysql_client, headers, mysql_db, mysql_url, queued, monkeypatch
):
    seed(mysql_db, employees=2000)
    _, backup = send(mysql_client, "POST", "/backups", headers, {})
    queued.drain()
    backup_id = jobs.store().get(backup["id"]).result["backup"]
    mysql_db.execute("DELETE FROM hired_employees WHERE id > 500")
    mysql_db.execute("UPDATE departments SET department = 'Renamed' WHERE id = 1")
    before = checksums(mysql_db)
    monkeypatch.setattr(restores, "RESTORE_CHUNK_ROWS", 100)
    _, job = send(
        mysql_client, "POST", "/restores/departments", headers, {"backup": backup_id, "with_dependents": True}
    )
    other = JobStore(databases.connect(mysql_url))  # another client of the service, on its own connection
    advance = work.Progress.advance
    seen = []

    def cancel_after_some_rows(progress, n):
        seen.append(n)
        if len(seen) == 3:
            assert other.cancel(job["id"]).cancel_requested
            deadline = time.monotonic() + 10
            while not progress.stopping and time.monotonic() < deadline:
                time.sleep(0.01)  # the heartbeat passes the cancel on
        advance(progress, n)

    monkeypatch.setattr(work.Progress, "advance", cancel_after_some_rows)
    queued.drain()
    done = jobs.store().get(job["id"])
    assert done.state == "cancelled" and "rolled back" in done.error["detail"]
    assert 0 < done.rows_done < 2004
    assert checksums(mysql_db) == before
