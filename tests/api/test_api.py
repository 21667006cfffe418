"""The HTTP API through `chalice.test.Client`, on every backend (the RDS Data API's included)."""

from __future__ import annotations

import json

import pymysql
import pytest

from chalicelib import db as databases
from tests.conftest import on_every_backend

pytestmark = on_every_backend

EMPLOYEE = {"id": 1, "name": "Ana Pérez", "datetime": "2021-11-07T02:48:42Z", "department_id": 1, "job_id": 1}


def post(client, path, body, headers):
    response = client.http.post(
        path, headers=headers, body=body if isinstance(body, (str, bytes)) else json.dumps(body)
    )
    return response, json.loads(response.body)


def get(client, path, headers):
    response = client.http.get(path, headers=headers)
    return response, json.loads(response.body)


@pytest.fixture
def seeded(client, headers):
    post(client, "/departments", [{"id": 1, "department": "Engineering"}, {"id": 2, "department": "Sales"}], headers)
    post(client, "/jobs", [{"id": 1, "job": "DBA Lead"}, {"id": 2, "job": "Data Entry Clerk"}], headers)
    return client


def counts(database_url):
    return databases.for_url(database_url).counts()


def test_status_is_public_and_reports_counts_to_a_client(client, headers):
    response, body = get(client, "/status", {})
    assert response.status_code == 200
    assert set(body) == {"status", "version"} and body["status"] == "ok" and body["version"]
    response, body = get(client, "/status", headers)
    assert body["tables"] == {"departments": 0, "jobs": 0, "hired_employees": 0, "rejections": 0}


def test_status_is_503_when_the_database_is_unreachable(client, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://root@127.0.0.1:1/nowhere")
    response, body = get(client, "/status", {})
    assert response.status_code == 503
    assert body["status"] == "unavailable"


@pytest.mark.parametrize("key", [None, "", "wrong-key", "test-key "])
def test_a_missing_or_wrong_key_is_403_and_changes_nothing(client, headers, database_url, key):
    bad = {"content-type": "application/json"} | ({"x-api-key": key} if key is not None else {})
    for method, path, body in [
        ("POST", "/departments", [{"id": 1, "department": "Engineering"}]),
        ("GET", "/departments", None),
        ("GET", "/departments/1", None),
        ("DELETE", "/departments/1", None),
        ("GET", "/rejections", None),
        ("POST", "/rejections/replay", {}),
        ("DELETE", "/admin/schema?confirm=drop-all-data", None),
    ]:
        response = client.http.request(method, path, headers=bad, body=json.dumps(body) if body is not None else b"")
        assert response.status_code == 403, (method, path)
        assert json.loads(response.body)["error"] == "forbidden"
    assert counts(database_url)["departments"] == 0


def test_the_right_key_is_accepted(client, headers):
    response, body = post(client, "/departments", [{"id": 1, "department": "Engineering"}], headers)
    assert response.status_code == 201


def test_a_fully_valid_batch_is_201(seeded, headers, database_url):
    rows = [dict(EMPLOYEE, id=i) for i in range(1, 1001)]
    response, body = post(seeded, "/hired_employees", rows, headers)
    assert response.status_code == 201
    assert (body["inserted"], body["unchanged"], body["rejected"]) == (1000, 0, [])
    assert counts(database_url)["hired_employees"] == 1000


def test_the_same_batch_posted_twice_stores_each_row_once(seeded, headers, database_url):
    rows = [dict(EMPLOYEE, id=i) for i in range(1, 11)]
    post(seeded, "/hired_employees", rows, headers)
    response, body = post(seeded, "/hired_employees", rows, headers)
    assert response.status_code == 201
    assert (body["inserted"], body["unchanged"]) == (0, 10)
    assert counts(database_url)["hired_employees"] == 10


def test_a_partly_rejected_batch_is_207_and_logs_each_rejection(seeded, headers, database_url):
    rows = [EMPLOYEE, dict(EMPLOYEE, id=2, name=""), dict(EMPLOYEE, id=3, department_id=99)]
    response, body = post(seeded, "/hired_employees", rows, headers)
    assert response.status_code == 207
    assert body["inserted"] == 1
    assert [(r["index"], r["reasons"]) for r in body["rejected"]] == [
        (1, ["name: is required"]),
        (2, ["department_id: departments 99 does not exist"]),
    ]
    _, log = get(seeded, "/rejections", headers)
    assert [(e["table"], e["position"], e["row"]["id"]) for e in log["items"]] == [
        ("hired_employees", 1, 2),
        ("hired_employees", 2, 3),
    ]
    assert counts(database_url)["hired_employees"] == 1


def test_an_entirely_rejected_batch_is_422(seeded, headers, database_url):
    response, body = post(seeded, "/jobs", [{"id": "x", "job": "A"}, {"id": 5}], headers)
    assert response.status_code == 422
    assert (body["inserted"], len(body["rejected"])) == (0, 2)
    assert counts(database_url)["jobs"] == 2


@pytest.mark.parametrize(
    "body,detail",
    [
        ('[{"id": 1, ', "invalid JSON"),
        ("not json at all", "invalid JSON"),
        ('{"id": 1, "department": "Sales"}', "invalid batch"),
        ('"departments"', "invalid batch"),
        ("[]", "invalid batch"),
        ("", "invalid batch"),
        ('[{"id": 1, "department": "Sales"}, 3]', "invalid batch"),
        ('[[1, "Sales"]]', "invalid batch"),
        (b"\xff\xfe[]", "invalid body"),
    ],
)
def test_a_body_that_is_not_an_array_of_1_to_1000_objects_is_400(client, headers, database_url, body, detail):
    response = client.http.post("/departments", headers=headers, body=body)
    assert response.status_code == 400
    assert json.loads(response.body)["error"] == detail
    assert counts(database_url)["departments"] == 0


def test_a_batch_of_1001_rows_is_rejected_whole(client, headers, database_url):
    rows = [{"id": i, "department": f"D{i}"} for i in range(1, 1002)]
    response, body = post(client, "/departments", rows, headers)
    assert response.status_code == 400
    assert "1001" in body["detail"]
    assert counts(database_url)["departments"] == 0


def test_unknown_fields_wrong_types_and_long_strings_are_rejected_rows(client, headers):
    rows = [
        {"id": 1, "department": "Sales", "budget": 10},
        {"id": "two", "department": "Sales"},
        {"id": 3, "department": 3},
        {"id": 4, "department": "x" * 256},
        {"id": 5.5, "department": "Sales"},
    ]
    response, body = post(client, "/departments", rows, headers)
    assert response.status_code == 422
    assert [r["reasons"][0].split(":")[0] for r in body["rejected"]] == [
        "unknown field(s)",
        "id",
        "department",
        "department",
        "id",
    ]


def test_unicode_and_sql_looking_strings_are_stored_verbatim(client, headers):
    names = ["Zoë Ñúñez-Łukasiewicz 山田", "Robert'); DROP TABLE departments;--", "x' OR '1'='1", "emoji 🚀 team"]
    rows = [{"id": i, "department": n} for i, n in enumerate(names, 1)]
    assert post(client, "/departments", rows, headers)[0].status_code == 201
    _, listed = get(client, "/departments", headers)
    assert [r["department"] for r in listed["items"]] == names


def test_rows_are_listed_in_pages_with_a_cursor(client, headers):
    post(client, "/departments", [{"id": i, "department": f"D{i}"} for i in range(1, 8)], headers)
    _, first = get(client, "/departments?limit=3", headers)
    _, second = get(client, f"/departments?limit=3&cursor={first['next_cursor']}", headers)
    _, last = get(client, f"/departments?limit=3&cursor={second['next_cursor']}", headers)
    assert [r["id"] for r in first["items"] + second["items"] + last["items"]] == list(range(1, 8))
    assert last["next_cursor"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=abc", "cursor=-1", "cursor=x"])
def test_bad_pagination_is_400(client, headers, query):
    assert client.http.get(f"/departments?{query}", headers=headers).status_code == 400


def test_one_row_by_id_and_404s(seeded, headers):
    post(seeded, "/hired_employees", [EMPLOYEE], headers)
    response, body = get(seeded, "/hired_employees/1", headers)
    assert (response.status_code, body) == (200, EMPLOYEE)
    assert get(seeded, "/hired_employees/2", headers)[0].status_code == 404
    assert get(seeded, "/hired_employees/abc", headers)[0].status_code == 400
    assert get(seeded, "/employees/1", headers)[0].status_code == 404


def test_delete_one_row_and_a_referenced_row_is_409(seeded, headers, database_url):
    post(seeded, "/hired_employees", [EMPLOYEE], headers)
    response = seeded.http.delete("/departments/1", headers=headers)
    assert response.status_code == 409
    assert counts(database_url)["departments"] == 2
    response = seeded.http.delete("/hired_employees/1", headers=headers)
    assert (response.status_code, json.loads(response.body)["deleted"]) == (200, EMPLOYEE)
    assert seeded.http.delete("/hired_employees/1", headers=headers).status_code == 404
    assert seeded.http.delete("/departments/1", headers=headers).status_code == 200


def test_replaying_rejections_after_the_missing_department_arrives(seeded, headers, database_url):
    rows = [dict(EMPLOYEE, id=i, department_id=3) for i in (1, 2)] + [dict(EMPLOYEE, id=3, name="")]
    assert post(seeded, "/hired_employees", rows, headers)[0].status_code == 422
    post(seeded, "/departments", [{"id": 3, "department": "Legal"}], headers)
    response, job = post(seeded, "/rejections/replay", {}, headers)
    assert (response.status_code, job["kind"], job["state"]) == (202, "replay", "succeeded")  # small: done at once
    body = job["result"]
    assert (body["replayed"], body["inserted"], body["still_rejected"]) == (3, 2, 1)
    assert counts(database_url)["hired_employees"] == 2
    _, log = get(seeded, "/rejections", headers)
    assert [e["row"]["id"] for e in log["items"]] == [3]
    # Replaying again changes nothing.
    assert post(seeded, "/rejections/replay", {}, headers)[1]["result"]["inserted"] == 0


def test_the_same_rejected_batch_posted_twice_is_logged_once(client, headers, database_url):
    post(client, "/jobs", [{"id": 1, "job": ""}], headers)
    post(client, "/jobs", [{"id": 1, "job": ""}], headers)
    assert counts(database_url)["rejections"] == 1


def _break_mid_batch(database_url, monkeypatch):
    """Make the database fail after half of a batch's rows were written, as a dropped connection would."""
    database = databases.for_url(database_url)

    def half_then_fail(original):
        def write(table, rows, staged=None):
            original(table, rows[: len(rows) // 2])
            if database.dialect == "mysql":
                raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
            import sqlite3

            raise sqlite3.OperationalError("disk I/O error")

        return write

    # Both ways rows go in: one INSERT (small batches) and the bulk path (from ingest.BULK_MIN_ROWS rows).
    monkeypatch.setattr(database, "insert_rows", half_then_fail(database.insert_rows))
    monkeypatch.setattr(database, "bulk_insert", half_then_fail(database.bulk_insert))


@pytest.mark.parametrize("size", [10, 150])
def test_a_database_error_mid_batch_stores_nothing_and_is_503(seeded, headers, database_url, monkeypatch, size):
    _break_mid_batch(database_url, monkeypatch)
    rows = [dict(EMPLOYEE, id=i) for i in range(1, size + 1)] + [dict(EMPLOYEE, id=500, name="")]
    response, body = post(seeded, "/hired_employees", rows, headers)
    assert response.status_code == 503
    assert body["error"] == "database unavailable"
    monkeypatch.undo()
    assert counts(database_url)["hired_employees"] == 0
    assert counts(database_url)["rejections"] == 0


def test_schema_can_be_created_again_and_dropped_only_with_confirmation(client, headers, database_url):
    assert client.http.post("/admin/schema", headers=headers).status_code == 201
    assert client.http.delete("/admin/schema", headers=headers).status_code == 400
    assert client.http.delete("/admin/schema?confirm=drop-all-data", headers=headers).status_code == 200
    response, body = post(client, "/departments", [{"id": 1, "department": "Sales"}], headers)
    assert response.status_code == 503 and "schema" in body["detail"]
    assert client.http.post("/admin/schema", headers=headers).status_code == 201


def test_no_configured_key_refuses_everything_outside_lambda(client, headers, monkeypatch):
    import os

    # The stage sets API_KEY; simulate a misconfigured stage by blanking it during the call.
    from chalicelib.runtime import settings

    real = settings.Settings.from_env

    monkeypatch.setattr(
        settings.Settings, "from_env", classmethod(lambda cls, env=None: real(dict(os.environ, API_KEY="")))
    )
    response = client.http.get("/departments", headers=headers)
    assert response.status_code == 403
    assert json.loads(response.body)["error"] == "forbidden"  # the key belongs to no client
