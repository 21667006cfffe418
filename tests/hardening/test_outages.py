"""When the database fails: dropped idle connections heal, 503s say only a short cause, and an upload
that stopped half-way says what it stored."""

from __future__ import annotations

import json
import sqlite3
import warnings
from urllib.parse import urlsplit

import pymysql
import pytest

from chalicelib import db as databases
from chalicelib.loading import loader
from tests.conftest import connect_as
from tests.hardening.responses import assert_error_body, strict_json

EMPLOYEE = {"id": 1, "name": "Ana", "datetime": "2021-11-07T02:48:42Z", "department_id": 1, "job_id": 1}
CSV = {"x-api-key": "test-key", "content-type": "text/csv"}


def post(client, path, body, headers):
    return client.http.post(path, headers=headers, body=json.dumps(body))


@pytest.fixture
def seeded(client, headers):
    assert post(client, "/departments", [{"id": 1, "department": "Engineering"}], headers).status_code == 201
    assert post(client, "/jobs", [{"id": 1, "job": "DBA Lead"}], headers).status_code == 201
    employees = [dict(EMPLOYEE, id=i) for i in range(1, 6)] + [dict(EMPLOYEE, id=9, job_id=7)]
    assert post(client, "/hired_employees", employees, headers).status_code == 207
    return client


def kill_the_apps_connection(database_url: str) -> None:
    """KILL, from an admin connection, the connection the app reuses (the test client runs the app on
    this thread, and connections are per thread), as RDS Proxy or an idle timeout would."""
    connection_id = databases.for_url(database_url).query("SELECT CONNECTION_ID()")[0][0]
    killer = connect_as(databases.login_from_url(database_url))  # a user may end its own connections
    with killer.cursor() as cur:
        cur.execute(f"KILL {int(connection_id)}")
    killer.close()


@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
def test_every_request_after_a_dropped_idle_connection_answers_as_if_nothing_happened(seeded, headers, database_url):
    problems = {}
    for method, path, expected in [
        ("GET", "/departments/1", 200),
        ("GET", "/departments/99", 404),
        ("GET", "/hired_employees", 200),
        ("GET", "/reports/hires-by-quarter", 200),
        ("GET", "/reports/departments-above-mean", 200),
        ("GET", "/rejections", 200),
        ("GET", "/status", 200),
        ("DELETE", "/hired_employees/1", 200),
        ("DELETE", "/hired_employees/1", 404),
    ]:
        assert seeded.http.get("/status").status_code == 200  # the connection is warm
        kill_the_apps_connection(database_url)
        response = seeded.http.request(method, path, headers=headers)
        if response.status_code != expected:
            problems[f"{method} {path}"] = f"{response.status_code}: {response.body[:200]!r}"
    assert not problems, problems


@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
def test_an_idle_connection_the_server_closed_is_replaced_before_its_next_statement(database_url, monkeypatch):
    """The check after an idle spell (not the retry of a read): a statement outside a transaction, whose
    connection the server ended while it sat idle, runs on a new connection, without pymysql's
    deprecated ping(reconnect=True)."""
    from chalicelib.db import mysql

    db = databases.for_url(database_url)
    before = db.execute("SELECT CONNECTION_ID()").fetchone()[0]
    kill_the_apps_connection(database_url)
    monkeypatch.setattr(mysql, "_IDLE_PING_SECONDS", -1.0)  # every statement comes after an idle spell
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        after = db.execute("SELECT CONNECTION_ID()").fetchone()[0]
    assert after != before


@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
@pytest.mark.parametrize("failure", ["unreachable", "access-denied", "schema-missing"])
def test_a_503_names_a_short_cause_not_the_host_user_or_database(
    client, headers, database_url, mysql_admin_url, mysql_server, monkeypatch, failure
):
    host, port = mysql_server.host, mysql_server.port
    if failure == "unreachable":
        url, secrets = "mysql://hr_probe_user:probe-pw@127.0.0.1:1/hr_probe_db", ["127.0.0.1", "hr_probe_user"]
    elif failure == "access-denied":
        url, secrets = f"mysql://hr_probe_user:probe-pw@{host}:{port}/hr_probe_db", [host, "hr_probe_user"]
    else:
        databases.for_url(mysql_admin_url).drop_schema()
        url, secrets = database_url, [host, urlsplit(database_url).path.lstrip("/")]
    secrets += ["hr_probe_db", "probe-pw"] if failure != "schema-missing" else []
    monkeypatch.setenv("DATABASE_URL", url)
    status = client.http.get("/status")
    assert status.status_code == 503 and strict_json(status.body)["status"] == "unavailable"
    data = client.http.get("/departments", headers=headers)
    assert_error_body(data, (503,))
    leaks = {name: [s for s in secrets if s in r.body.decode()] for name, r in (("status", status), ("data", data))}
    assert not any(leaks.values()), leaks


def test_an_upload_that_fails_on_its_second_chunk_says_what_was_stored(client, database_url, monkeypatch):
    assert client.http.post("/uploads/departments", headers=CSV, body=b"1,Engineering\n").status_code == 201
    assert client.http.post("/uploads/jobs", headers=CSV, body=b"1,DBA Lead\n").status_code == 201
    body = "".join(f"{i},Person {i},2021-11-07T02:48:42Z,1,1\n" for i in range(1, 26)).encode()
    database = databases.for_url(database_url)
    real_load, writes = loader.load, []

    def small_chunks(*args, **kwargs):
        return real_load(*args, **{**kwargs, "chunk_rows": 10})

    def fail_on_second_chunk(original):
        def write(table, rows, staged=None):
            writes.append(len(rows))
            if len(writes) == 1:
                return original(table, rows, staged)
            # From the second chunk on the database is gone, retries included.
            if database.dialect == "mysql":
                raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
            raise sqlite3.OperationalError("disk I/O error")

        return write

    with monkeypatch.context() as patch:
        patch.setattr(loader, "load", small_chunks)
        patch.setattr(database, "insert_rows", fail_on_second_chunk(database.insert_rows))
        patch.setattr(database, "bulk_insert", fail_on_second_chunk(database.bulk_insert))
        response = client.http.post("/uploads/hired_employees", headers=CSV, body=body)
    answer = assert_error_body(response, (503,))
    assert database.counts()["hired_employees"] == 10  # the first chunk committed
    detail = json.dumps(answer["detail"])
    assert "10" in detail and "line" in detail.lower(), answer
    # Uploading the same file again completes it: the committed rows are identical no-ops.
    again = strict_json(client.http.post("/uploads/hired_employees", headers=CSV, body=body).body)
    assert (again["inserted"], again["unchanged"]) == (15, 10)
