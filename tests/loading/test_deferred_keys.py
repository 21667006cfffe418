"""A large first load into an empty MySQL table goes into the primary key alone and builds the secondary
keys once at the end; a load killed in between leaves them to the next load or `schema create`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chalicelib import db as databases
from chalicelib.loading import ingest, loader, samples
from chalicelib.rules.dictionary import DEPARTMENTS, HIRED_EMPLOYEES, JOBS
from tests.loading.outages import lose_the_database_on_the_second_chunk

ROOT = Path(__file__).resolve().parents[2]
ROWS = 3000
CHUNK = 1000
SECONDARY = {
    "ix_department_id",
    "ix_job_id",
    "ix_datetime",
    "fk_hired_employees_department_id",
    "fk_hired_employees_job_id",
}


def keys(db) -> set[str]:
    return db._present_keys(HIRED_EMPLOYEES) & SECONDARY


def write_files(folder: Path, start_id: int = 1) -> Path:
    samples.write_samples(str(folder), employees=0)
    path = folder / "hired_employees.csv"
    rows = samples.employee_rows(ROWS, len(samples.DEPARTMENTS), len(samples.job_titles()), start_id=start_id)
    samples._write(str(path), rows)
    return path


@pytest.fixture
def files(mysql_db, tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "DEFER_KEYS_MIN_ROWS", ROWS // 2)
    path = write_files(tmp_path)
    for table in (DEPARTMENTS, JOBS):
        loader.load(mysql_db, table, loader.open_file(str(tmp_path / f"{table.name}.csv")), table.name)
    return path


def test_a_large_first_load_goes_into_the_primary_key_then_builds_every_key(mysql_db, files, monkeypatch):
    seen = []
    real = ingest.insert_candidates

    def watching(db, *args, **kwargs):
        seen.append(keys(db))
        return real(db, *args, **kwargs)

    monkeypatch.setattr(ingest, "insert_candidates", watching)
    result = loader.load(mysql_db, HIRED_EMPLOYEES, loader.open_file(str(files)), "he.csv", chunk_rows=CHUNK)
    assert seen == [set()] * 3  # every chunk went into the primary key alone
    assert keys(mysql_db) == SECONDARY
    assert mysql_db.query("SELECT COUNT(*) FROM keys_deferred") == [(0,)]
    assert result.inserted + result.rejected == ROWS and result.inserted > ROWS * 0.95
    assert mysql_db.counts()["hired_employees"] == result.inserted
    assert mysql_db.check_consistency().ok


def test_a_load_into_a_table_with_rows_keeps_its_keys(mysql_db, files, monkeypatch, tmp_path):
    loader.load(mysql_db, HIRED_EMPLOYEES, loader.open_file(str(files)), "he.csv", chunk_rows=CHUNK)
    seen = []
    real = ingest.insert_candidates
    monkeypatch.setattr(ingest, "insert_candidates", lambda db, *a, **k: (seen.append(keys(db)), real(db, *a, **k))[1])
    more = write_files(tmp_path / "more", start_id=ROWS + 1)
    loader.load(mysql_db, HIRED_EMPLOYEES, loader.open_file(str(more)), "more.csv", chunk_rows=CHUNK)
    assert seen == [SECONDARY] * 3


def test_a_second_loader_does_not_defer_while_one_is(mysql_db, files, mysql_url):
    other = databases.connect(mysql_url)
    try:
        with other.keys_deferred(HIRED_EMPLOYEES) as deferred:
            assert deferred and keys(mysql_db) == set()
            with mysql_db.keys_deferred(HIRED_EMPLOYEES) as second:
                assert not second
            assert mysql_db.restore_deferred_keys() == []  # in progress, not abandoned
        assert keys(mysql_db) == SECONDARY
    finally:
        other.close()


KILLED_LOAD = """
import os, signal, sys
from chalicelib import db as databases
from chalicelib.loading import ingest, loader
from chalicelib.rules.dictionary import HIRED_EMPLOYEES

loader.DEFER_KEYS_MIN_ROWS = 1
real = ingest.insert_candidates
calls = []

def insert_then_die(*args, **kwargs):
    if len(calls) == 2:  # two chunks committed with the keys dropped: the process dies here
        os.kill(os.getpid(), signal.SIGKILL)
    calls.append(1)
    return real(*args, **kwargs)

ingest.insert_candidates = insert_then_die
database = databases.connect(sys.argv[1])
loader.load(database, HIRED_EMPLOYEES, loader.open_file(sys.argv[2]), sys.argv[2], chunk_rows=int(sys.argv[3]))
"""


def test_a_load_killed_between_dropping_and_building_the_keys_leaves_them_to_the_next_load(mysql_db, files, mysql_url):
    killed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_LOAD), mysql_url, str(files), str(CHUNK)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # The keys are gone and the deferral is on record; the two committed chunks are there.
    assert keys(mysql_db) == set()
    assert mysql_db.query("SELECT table_name FROM keys_deferred") == [("hired_employees",)]
    committed = mysql_db.counts()["hired_employees"]
    assert 0 < committed <= 2 * CHUNK
    # The next load builds them before it starts, then finishes the file (stored rows are no-ops).
    result = loader.load(mysql_db, HIRED_EMPLOYEES, loader.open_file(str(files)), str(files), chunk_rows=CHUNK)
    assert keys(mysql_db) == SECONDARY
    assert result.unchanged == committed and mysql_db.counts()["hired_employees"] == committed + result.inserted
    assert mysql_db.query("SELECT COUNT(*) FROM keys_deferred") == [(0,)]
    assert mysql_db.check_consistency().ok


def test_schema_create_rebuilds_the_keys_of_an_abandoned_deferral(mysql_db, files, mysql_admin_url):
    with pytest.raises(KeyboardInterrupt), mysql_db.keys_deferred(HIRED_EMPLOYEES):
        mysql_db._restore = lambda table, beside=False: False  # the process "dies" before its rebuild
        raise KeyboardInterrupt
    del mysql_db._restore
    mysql_db.close()  # its connection, and the lock with it, goes
    assert keys(mysql_db) == set()
    admin = databases.connect(mysql_admin_url)
    try:
        admin.create_schema()
    finally:
        admin.close()
    assert keys(mysql_db) == SECONDARY
    assert mysql_db.query("SELECT COUNT(*) FROM keys_deferred") == [(0,)]


def test_a_deferred_load_that_fails_part_way_builds_the_keys_and_recounts_the_summary(mysql_db, files, monkeypatch):
    lose_the_database_on_the_second_chunk(monkeypatch)
    with pytest.raises(loader.LoadStopped):
        loader.load(mysql_db, HIRED_EMPLOYEES, loader.open_file(str(files)), "he.csv", chunk_rows=CHUNK)
    assert keys(mysql_db) == SECONDARY
    assert 0 < mysql_db.counts()["hired_employees"] <= CHUNK
    assert mysql_db.check_consistency().ok  # the summary counts the committed chunk exactly
