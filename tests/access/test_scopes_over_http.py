"""Scoped clients over HTTP (the test client runs the authorizer through Chalice's local gateway)."""

from __future__ import annotations

import json
import uuid

import pytest

from chalicelib import db as databases
from chalicelib.access import clients

DEPARTMENTS = [{"id": 1, "department": "Engineering"}]


def make_client(database_url: str, scopes: str) -> tuple[str, str]:
    """(name, key) of a new client with `scopes` (names are unique: the MySQL database outlives a test)."""
    name = f"{scopes.replace(',', '-')}-{uuid.uuid4().hex[:8]}"
    _, key = clients.add(databases.connect(database_url), name, scopes)
    return name, key


def call(client, method: str, path: str, key: str | None, body=None, content_type="application/json"):
    headers = {"content-type": content_type} | ({"x-api-key": key} if key is not None else {})
    raw = body if isinstance(body, bytes) else (json.dumps(body) if body is not None else b"")
    response = client.http.request(method, path, headers=headers, body=raw)
    return response.status_code, json.loads(response.body) if response.body else None


def seeded(client, key: str) -> None:
    assert call(client, "POST", "/departments", key, DEPARTMENTS)[0] == 201


def test_a_read_client_reads_and_may_not_write_delete_upload_or_restore(client, database_url):
    _, key = make_client(database_url, "read")
    seeded(client, "test-key")
    for path in ("/departments", "/departments/1", "/reports/hires-by-quarter", "/rejections", "/background-jobs"):
        assert call(client, "GET", path, key)[0] == 200, path
    refused = [
        ("POST", "/departments", [{"id": 2, "department": "Sales"}], "application/json"),
        ("DELETE", "/departments/1", None, "application/json"),
        ("POST", "/uploads/departments", b"2,Sales\n", "text/csv"),
        ("POST", "/restores/departments", {"backup": "x"}, "application/json"),
        ("DELETE", "/admin/schema?confirm=drop-all-data", None, "application/json"),
        ("GET", "/audit", None, "application/json"),
    ]
    for method, path, body, content_type in refused:
        status, answer = call(client, method, path, key, body, content_type)
        assert (status, answer["error"]) == (403, "forbidden"), (method, path)
    assert call(client, "GET", "/departments", "test-key")[1]["items"] == DEPARTMENTS


def test_a_write_client_posts_but_may_not_drop_the_schema_or_restore(client, database_url):
    _, key = make_client(database_url, "write")
    assert call(client, "POST", "/departments", key, DEPARTMENTS)[0] == 201
    assert call(client, "DELETE", "/admin/schema?confirm=drop-all-data", key)[0] == 403
    assert call(client, "POST", "/restores/departments", key, {"backup": "x"})[0] == 403
    assert call(client, "POST", "/admin/schema", key, {})[0] == 403
    assert call(client, "GET", "/departments", "test-key")[1]["items"] == DEPARTMENTS


def test_an_admin_client_can_do_everything_and_each_action_is_in_the_audit_with_its_name(client, database_url):
    name, key = make_client(database_url, "admin")
    assert call(client, "POST", "/admin/schema", key, {})[0] == 201
    assert call(client, "POST", "/departments", key, DEPARTMENTS)[0] == 201
    assert call(client, "GET", "/departments/1", key)[0] == 200
    assert call(client, "DELETE", "/departments/1", key)[0] == 200
    restore_status, job = call(client, "POST", "/restores/departments", key, {"backup": "20260101T000000Z"})
    assert restore_status == 404, job  # allowed, and there is no such backup
    assert call(client, "DELETE", "/admin/schema?confirm=drop-all-data", key)[0] == 200

    status, page = call(client, "GET", f"/audit?client={name}", key)
    assert status == 200
    done = [(e["method"], e["route"], e["status"], e["table"]) for e in page["items"]]
    assert done == [
        ("POST", "/admin/schema", 201, None),
        ("POST", "/{table}", 201, "departments"),
        ("DELETE", "/{table}/{id}", 200, "departments"),
        ("POST", "/restores/{table}", 404, "departments"),
        ("DELETE", "/admin/schema", 200, None),
    ]
    entries = page["items"]
    assert all(e["client"] == name and e["request_id"] and e["at"].endswith("Z") for e in entries)
    assert entries[1]["details"]["inserted"] == 1 and entries[2]["details"]["deleted_id"] == 1
    assert entries[3]["details"]["backup"] == "20260101T000000Z"


def test_a_revoked_key_is_refused_on_its_next_request(client, database_url):
    name, key = make_client(database_url, "read")
    assert call(client, "GET", "/departments", key)[0] == 200
    clients.revoke(databases.connect(database_url), name)
    status, answer = call(client, "GET", "/departments", key)
    assert (status, answer["error"]) == (403, "forbidden")


@pytest.mark.parametrize("key", [None, "", "not-a-key", "test-key "])
def test_an_unknown_or_missing_key_is_403(client, key):
    status, answer = call(client, "GET", "/departments", key)
    assert (status, answer["error"]) == (403, "forbidden")


def test_a_rotated_key_works_and_the_old_one_until_its_grace_ends(client, database_url):
    name, old = make_client(database_url, "read")
    new = clients.rotate(databases.connect(database_url), name)
    assert call(client, "GET", "/departments", new)[0] == 200
    assert call(client, "GET", "/departments", old)[0] == 200
    clients.rotate(databases.connect(database_url), name, grace_seconds=0)
    assert call(client, "GET", "/departments", old)[0] == 403
    assert call(client, "GET", "/departments", new)[0] == 403  # a grace of 0 ends every older key now


def test_admin_posts_a_write_client_tries_are_refused_by_the_route_table_and_audited(client, database_url):
    # Its policy allows POST /* (path parameters are wildcards); the app refuses the exact admin routes.
    name, key = make_client(database_url, "write")
    assert call(client, "POST", "/admin/schema", key, {})[0] == 403
    assert call(client, "POST", "/backups", key, {})[0] == 403
    _, page = call(client, "GET", f"/audit?client={name}", "test-key")
    assert [(e["method"], e["route"], e["status"]) for e in page["items"]] == [
        ("POST", "/admin/schema", 403),
        ("POST", "/backups", 403),
    ]


def test_status_needs_no_key(client):
    assert call(client, "GET", "/status", None)[0] == 200
