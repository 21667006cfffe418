"""PUT and PATCH /{table}/{id} and POST /admin/tables/{table}/truncate through `chalice.test.Client`, on
both backends: status codes, error bodies, idempotence, the reports after a move."""

from __future__ import annotations

import json

import pytest

from chalicelib import db as databases
from chalicelib.reports import queries as reports
from chalicelib.rules.dictionary import HIRED_EMPLOYEES

EMPLOYEE = {"id": 1, "name": "Ana Pérez", "datetime": "2021-11-07T02:48:42Z", "department_id": 1, "job_id": 1}


def call(client, method, path, headers, body=None):
    raw = body if isinstance(body, (str, bytes)) else (json.dumps(body) if body is not None else b"")
    response = client.http.request(method, path, headers=headers, body=raw)
    return response.status_code, json.loads(response.body)


@pytest.fixture
def seeded(client, headers):
    call(
        client,
        "POST",
        "/departments",
        headers,
        [{"id": 1, "department": "Engineering"}, {"id": 2, "department": "Sales"}],
    )
    call(client, "POST", "/jobs", headers, [{"id": 1, "job": "DBA Lead"}, {"id": 2, "job": "Data Entry Clerk"}])
    status, _ = call(client, "POST", "/hired_employees", headers, [EMPLOYEE, dict(EMPLOYEE, id=2, name="Bo")])
    assert status == 201
    return client


def hires_2021(database_url):
    return reports.hires_by_quarter(databases.for_url(database_url), 2021)


def test_put_replaces_a_row_and_the_same_put_twice_is_one_change(seeded, headers, database_url):
    new = {"name": "Ana P.", "datetime": "2021-02-01T09:00:00Z", "department_id": 2, "job_id": 2}
    status, body = call(seeded, "PUT", "/hired_employees/1", headers, new)
    assert (status, body) == (200, {"row": dict(new, id=1), "changed": True})
    status, body = call(seeded, "PUT", "/hired_employees/1", headers, dict(new, id=1))
    assert (status, body["changed"]) == (200, False)
    status, body = call(seeded, "GET", "/hired_employees/1", headers)
    assert body == dict(new, id=1)
    assert hires_2021(database_url) == [
        {"department": "Engineering", "job": "DBA Lead", "Q1": 0, "Q2": 0, "Q3": 0, "Q4": 1},
        {"department": "Sales", "job": "Data Entry Clerk", "Q1": 1, "Q2": 0, "Q3": 0, "Q4": 0},
    ]


def test_patch_changes_only_the_fields_given(seeded, headers, database_url):
    status, body = call(seeded, "PATCH", "/hired_employees/2", headers, {"datetime": "2021-05-05T00:00:00+02:00"})
    assert status == 200 and body["changed"] is True
    assert body["row"] == dict(EMPLOYEE, id=2, name="Bo", datetime="2021-05-04T22:00:00Z")
    assert hires_2021(database_url) == [
        {"department": "Engineering", "job": "DBA Lead", "Q1": 0, "Q2": 1, "Q3": 0, "Q4": 1}
    ]
    status, body = call(seeded, "PATCH", "/departments/1", headers, {"department": "Platform"})
    assert (status, body["row"]) == (200, {"id": 1, "department": "Platform"})


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_an_update_of_a_missing_row_is_404(seeded, headers, method):
    status, body = call(seeded, method, "/hired_employees/99", headers, dict(EMPLOYEE, id=99))
    assert (status, body["error"]) == (404, "not found")
    status, body = call(seeded, method, "/nonsense/1", headers, {"name": "x"})
    assert (status, body["error"]) == (404, "unknown table")


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_changing_an_id_is_409_and_changes_nothing(seeded, headers, method, database_url):
    status, body = call(seeded, method, "/departments/1", headers, {"id": 3, "department": "Moved"})
    assert (status, body["error"]) == (409, "id cannot change")
    assert databases.for_url(database_url).get_row(HIRED_EMPLOYEES, 1)[3] == 1
    status, body = call(seeded, "GET", "/departments/1", headers)
    assert body == {"id": 1, "department": "Engineering"}


def test_an_update_breaking_the_rules_is_422_with_reasons_and_not_logged(seeded, headers, database_url):
    status, body = call(seeded, "PATCH", "/hired_employees/1", headers, {"department_id": 7, "name": ""})
    assert status == 422
    assert body == {
        "error": "row rejected",
        "detail": {"id": 1, "reasons": ["name: is required"]},
    }
    status, body = call(seeded, "PATCH", "/hired_employees/1", headers, {"department_id": 7})
    assert (status, body["detail"]["reasons"]) == (422, ["department_id: departments 7 does not exist"])
    status, body = call(seeded, "PUT", "/hired_employees/1", headers, {"name": "Only"})
    assert status == 422 and len(body["detail"]["reasons"]) == 3
    assert databases.for_url(database_url).counts()["rejections"] == 0
    assert call(seeded, "GET", "/hired_employees/1", headers)[1] == EMPLOYEE


@pytest.mark.parametrize(
    "path, body",
    [
        ("/hired_employees/1", "[1, 2]"),
        ("/hired_employees/1", "{not json"),
        ("/hired_employees/abc", {"name": "x"}),
        ("/hired_employees/0", {"name": "x"}),
    ],
)
def test_a_bad_body_or_id_is_400(seeded, headers, path, body):
    for method in ("PUT", "PATCH"):
        status, answer = call(seeded, method, path, headers, body)
        assert status == 400 and set(answer) == {"error", "detail"}, (method, answer)


def test_a_patch_naming_no_field_is_400(seeded, headers):
    for body in ({}, {"id": 1}, None):
        status, answer = call(seeded, "PATCH", "/departments/1", headers, body)
        assert (status, answer["error"]) == (400, "invalid body")


def test_updates_need_the_key(seeded):
    for method in ("PUT", "PATCH"):
        status, _ = call(seeded, method, "/departments/1", {"content-type": "application/json"}, {"department": "X"})
        assert status == 403
    status, _ = call(seeded, "POST", "/admin/tables/departments/truncate", {"content-type": "application/json"})
    assert status == 403


# -- truncate -------------------------------------------------------------------------------------


def test_truncating_a_referenced_table_is_409_unless_cascading(seeded, headers, database_url):
    status, body = call(seeded, "POST", "/admin/tables/departments/truncate", headers)
    assert (status, body["error"]) == (409, "table is referenced")
    assert "hired_employees (2 rows)" in body["detail"]
    status, body = call(seeded, "POST", "/admin/tables/departments/truncate", headers, {"cascade": False})
    assert status == 409
    status, body = call(seeded, "POST", "/admin/tables/departments/truncate", headers, {"cascade": True})
    assert (status, body) == (200, {"truncated": {"hired_employees": 2, "departments": 2}})
    counts = databases.for_url(database_url).counts()
    assert (counts["departments"], counts["jobs"], counts["hired_employees"]) == (0, 2, 0)
    assert hires_2021(database_url) == []


def test_truncating_an_unreferenced_table_needs_no_cascade_and_is_idempotent(seeded, headers):
    for deleted in (2, 0):
        status, body = call(seeded, "POST", "/admin/tables/hired_employees/truncate", headers, {})
        assert (status, body) == (200, {"truncated": {"hired_employees": deleted}})


@pytest.mark.parametrize("body", [{"cascade": "yes"}, {"cascade": 1}, {"everything": True}, [True]])
def test_a_bad_truncate_body_is_400_and_deletes_nothing(seeded, headers, body, database_url):
    status, answer = call(seeded, "POST", "/admin/tables/hired_employees/truncate", headers, body)
    assert status == 400 and set(answer) == {"error", "detail"}
    assert databases.for_url(database_url).counts()["hired_employees"] == 2


def test_truncating_an_unknown_table_is_404(seeded, headers):
    status, body = call(seeded, "POST", "/admin/tables/rejections/truncate", headers, {"cascade": True})
    assert (status, body["error"]) == (404, "unknown table")
