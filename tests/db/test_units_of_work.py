"""Units of work: which failures are retried (a lost connection before anything changed), which are not
(a commit whose outcome is unknown, bad input), and the rejection log's upkeep by the write path."""

from __future__ import annotations

import pymysql
import pytest

from chalicelib import db as databases
from chalicelib.loading import ingest
from chalicelib.rules.dictionary import DEPARTMENTS, HIRED_EMPLOYEES, JOBS
from tests.conftest import connect_as

EMPLOYEE = {"id": 5, "name": "Ana", "datetime": "2021-11-07T02:48:42Z", "department_id": 1, "job_id": 1}


def kill(database, mysql_url: str) -> None:
    """KILL the backend's connection on this thread from an admin connection, as an idle timeout would."""
    connection_id = database.query("SELECT CONNECTION_ID()")[0][0]
    killer = connect_as(databases.login_from_url(mysql_url))  # a user may end its own connections
    with killer.cursor() as cur:
        cur.execute(f"KILL {int(connection_id)}")
    killer.close()


def seed(db) -> None:
    ingest.insert_batch(db, DEPARTMENTS, [(0, {"id": 1, "department": "Engineering"})], "t")
    ingest.insert_batch(db, JOBS, [(0, {"id": 1, "job": "DBA Lead"})], "t")


def test_every_read_after_a_killed_connection_reconnects_and_answers(mysql_db, mysql_url):
    seed(mysql_db)
    reads = {
        "get_row": lambda: mysql_db.get_row(DEPARTMENTS, 1)[1],
        "list_rows": lambda: len(mysql_db.list_rows(JOBS)),
        "counts": lambda: mysql_db.counts()["departments"],
        "list_rejections": lambda: mysql_db.list_rejections(),
        "quarterly_hires": lambda: mysql_db.quarterly_hires(2021),
        "department_hires": lambda: mysql_db.department_hires(2021),
    }
    answers = {}
    for name, read in reads.items():
        kill(mysql_db, mysql_url)
        answers[name] = read()
    assert answers == {
        "get_row": "Engineering",
        "list_rows": 1,
        "counts": 1,
        "list_rejections": [],
        "quarterly_hires": [],
        "department_hires": ([], 1),
    }


def test_a_delete_after_a_killed_connection_reconnects_and_deletes_once(mysql_db, mysql_url):
    seed(mysql_db)
    ingest.insert_batch(mysql_db, HIRED_EMPLOYEES, [(0, EMPLOYEE)], "t")
    kill(mysql_db, mysql_url)
    assert mysql_db.delete_row(HIRED_EMPLOYEES, 5)[0] == 5
    assert mysql_db.delete_row(HIRED_EMPLOYEES, 5) is None
    assert mysql_db.quarterly_hires(2021) == []


def test_a_read_is_not_retried_for_an_error_that_is_not_a_lost_connection(db):
    calls = []

    def unit():
        calls.append(1)
        return db.query("SELECT no_such_column FROM departments")

    with pytest.raises(databases.DatabaseError):
        db.read(unit)
    assert len(calls) == 1


def test_a_read_is_retried_at_most_a_few_times_when_the_connection_keeps_dropping(db):
    calls = []

    def unit():
        calls.append(1)
        raise databases.DatabaseUnavailable("connection lost", retryable=True)

    with pytest.raises(databases.DatabaseUnavailable):
        db.read(unit, attempts=3)
    assert len(calls) == 3


def test_a_commit_that_lost_its_connection_is_not_run_again(mysql_db, monkeypatch):
    """The server may have committed before the connection went: running the unit again could apply it twice."""
    seed(mysql_db)
    calls = []
    conn = mysql_db._conn()

    def lost(*args):
        monkeypatch.undo()
        raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")

    def unit():
        calls.append(1)
        monkeypatch.setattr(conn, "commit", lost)
        mysql_db.execute("UPDATE departments SET department = 'Renamed' WHERE id = 1")

    with pytest.raises(databases.DatabaseUnavailable) as raised:
        mysql_db.run(unit)
    assert len(calls) == 1 and not raised.value.retryable


def test_concurrent_deletes_on_sqlite_delete_once(db, database_url):
    """Each caller has its own backend; SQLite's write lock serializes them, the row is deleted once."""
    from concurrent.futures import ThreadPoolExecutor

    seed(db)
    ingest.insert_batch(db, HIRED_EMPLOYEES, [(0, EMPLOYEE)], "t")

    def delete(_):
        other = databases.connect(database_url)
        try:
            return other.delete_row(HIRED_EMPLOYEES, 5)
        finally:
            other.close()

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(delete, range(6)))
    assert sum(r is not None for r in results) == 1
    assert db.quarterly_hires(2021) == []


# -- the rejection log means "not stored, and why" ------------------------------------------------


def test_a_stored_row_clears_only_its_own_table_and_ids_entries(db):
    seed(db)
    orphans = [dict(EMPLOYEE, id=i, department_id=9) for i in (5, 6)]
    ingest.insert_batch(db, HIRED_EMPLOYEES, enumerate(orphans), "t")
    ingest.insert_batch(db, DEPARTMENTS, [(0, {"id": 5, "department": ""})], "t")  # a department 5, rejected
    assert len(db.list_rejections()) == 3
    ingest.insert_batch(db, HIRED_EMPLOYEES, [(0, dict(EMPLOYEE, id=5))], "t")
    left = sorted((e.table_name, e.raw["id"]) for e in db.list_rejections())
    assert left == [("departments", 5), ("hired_employees", 6)]


def test_a_row_found_already_stored_clears_its_entries_too(db):
    seed(db)
    ingest.insert_batch(db, HIRED_EMPLOYEES, [(0, EMPLOYEE)], "t")
    # Logged by hand, as an older release could leave it: the row was rejected, then stored.
    db.log_rejections("old", HIRED_EMPLOYEES, [(0, EMPLOYEE, ["department_id: departments 1 does not exist"])])
    result = ingest.insert_batch(db, HIRED_EMPLOYEES, [(0, EMPLOYEE)], "t")
    assert result.unchanged == 1 and db.list_rejections() == []


def test_a_file_chunk_on_the_bulk_path_clears_the_entries_of_its_rows(db):
    seed(db)
    rows = [dict(EMPLOYEE, id=i) for i in range(1, 301)]
    ingest.insert_batch(db, HIRED_EMPLOYEES, enumerate(dict(r, job_id=2) for r in rows[:150]), "t")
    assert db.counts()["rejections"] == 150
    assert ingest.insert_batch(db, HIRED_EMPLOYEES, enumerate(rows), "t").inserted == 300
    assert db.counts()["rejections"] == 0


def test_an_older_rejection_log_gets_its_row_ids_when_the_schema_is_created_again(db, admin_db):
    seed(db)
    ingest.insert_batch(db, HIRED_EMPLOYEES, [(0, dict(EMPLOYEE, job_id=2)), (1, ["7", "x", "bad", "1", "1"])], "t")
    if db.dialect == "mysql":
        admin_db.execute("ALTER TABLE rejections DROP INDEX ix_rejections_row, DROP COLUMN row_id")
    else:
        admin_db.execute("DROP INDEX ix_rejections_row")
        admin_db.execute("ALTER TABLE rejections DROP COLUMN row_id")
    admin_db.create_schema()
    assert sorted(db.query("SELECT row_id FROM rejections ORDER BY id")) == [(5,), (7,)]
    db.execute("INSERT INTO jobs (id, job) VALUES (2, 'Analyst')")
    ingest.insert_batch(db, HIRED_EMPLOYEES, [(0, dict(EMPLOYEE, job_id=2))], "t")
    assert [e.raw[0] for e in db.list_rejections()] == ["7"]


@pytest.mark.parametrize("key", [2**63, 2**70, 10**400])
def test_ids_and_cursors_past_64_bits_find_no_row_on_either_backend(db, key):
    seed(db)
    assert db.get_row(DEPARTMENTS, key) is None
    assert db.delete_row(DEPARTMENTS, key) is None
    assert db.list_rows(DEPARTMENTS, after=key) == []
    assert db.list_rejections(after=key) == []
    assert [r[0] for r in db.list_rows(DEPARTMENTS, after=-key)] == [1]


def test_logging_only_new_rejections_keeps_the_first_entry_of_each(db):
    first = [(1, ["1", "", "x", "1", "1"], ["name: is required"]), (2, ["2", "B", "bad", "1", "1"], ["datetime: bad"])]
    assert db.run(lambda: db.log_new_rejections("s3://b/x.csv", HIRED_EMPLOYEES, first)) == 2
    before = [(r.position, r.reasons, r.rejected_at) for r in db.list_rejections()]
    again = [(1, first[0][1], ["other words"]), (3, ["3", "C", "bad", "9", "1"], ["datetime: bad"])]

    assert db.run(lambda: db.log_new_rejections("s3://b/x.csv", HIRED_EMPLOYEES, again)) == 1

    after = [(r.position, r.reasons, r.rejected_at) for r in db.list_rejections()]
    assert after[:2] == before and [entry[:2] for entry in after[2:]] == [(3, ["datetime: bad"])]
    assert db.run(lambda: db.log_new_rejections("s3://b/other.csv", HIRED_EMPLOYEES, first[:1])) == 1
