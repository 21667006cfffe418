"""What scoped clients may do, as scenarios over any way of calling the API: `chalice.test.Client` on both
backends (test_scopes_over_http.py) and a real `chalice local` server on MySQL (test_chalice_local.py).
Each of those modules subclasses `ScopedClients` and gives it an `api` fixture.

An `Api` calls a route with a key and answers (status, parsed JSON body); clients are made and revoked
in the database the server uses, as `clients add|revoke` do.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Protocol

import pytest

from chalicelib import db as databases
from chalicelib.access import clients

BOOTSTRAP_KEY = "test-key"  # the `test` stage's API_KEY in .chalice/config.json
DEPARTMENTS = [{"id": 1, "department": "Engineering"}]
# What only `write` or `admin` may do, each refused to a `read` client.
NOT_FOR_READERS = [
    ("POST", "/departments", [{"id": 2, "department": "Sales"}], "application/json"),
    ("DELETE", "/departments/1", None, "application/json"),
    ("POST", "/uploads/departments", b"2,Sales\n", "text/csv"),
    ("POST", "/restores/departments", {"backup": "x"}, "application/json"),
    ("DELETE", "/admin/schema?confirm=drop-all-data", None, "application/json"),
    ("GET", "/audit", None, "application/json"),
]


class Api(Protocol):
    database_url: str

    def call(
        self, method: str, path: str, key: str | None, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]: ...


def headers(key: str | None, content_type: str) -> dict[str, str]:
    return {"content-type": content_type} | ({"x-api-key": key} if key is not None else {})


def encode(body: Any) -> bytes:
    return body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")


def add_client(api: Api, scopes: str) -> tuple[str, str]:
    """(name, key) of a new client with `scopes` (names are unique: the MySQL database outlives a test)."""
    name = f"{scopes.replace(',', '-')}-{uuid.uuid4().hex[:8]}"
    _, key = clients.add(databases.connect(api.database_url), name, scopes)
    return name, key


def refused(api: Api, method: str, path: str, key: str | None, body: Any = None, content_type="application/json"):
    status, answer = api.call(method, path, key, body, content_type)
    assert (status, answer["error"]) == (403, "forbidden"), (method, path, status, answer)


def seeded(api: Api) -> None:
    assert api.call("POST", "/departments", BOOTSTRAP_KEY, DEPARTMENTS)[0] == 201


def a_read_client_reads_and_may_not_write_delete_upload_or_restore(api: Api) -> None:
    _, key = add_client(api, "read")
    seeded(api)
    for path in ("/departments", "/departments/1", "/reports/hires-by-quarter", "/rejections", "/background-jobs"):
        assert api.call("GET", path, key)[0] == 200, path
    for method, path, body, content_type in NOT_FOR_READERS:
        refused(api, method, path, key, body, content_type)
    assert api.call("GET", "/departments", BOOTSTRAP_KEY)[1]["items"] == DEPARTMENTS


def a_write_client_posts_but_may_not_drop_the_schema_or_restore(api: Api) -> None:
    _, key = add_client(api, "write")
    assert api.call("POST", "/departments", key, DEPARTMENTS)[0] == 201
    refused(api, "DELETE", "/admin/schema?confirm=drop-all-data", key)
    refused(api, "POST", "/restores/departments", key, {"backup": "x"})
    refused(api, "POST", "/admin/schema", key, {})
    assert api.call("GET", "/departments", BOOTSTRAP_KEY)[1]["items"] == DEPARTMENTS


def an_admin_client_can_do_everything_and_each_action_is_in_the_audit_with_its_name(api: Api) -> None:
    name, key = add_client(api, "admin")
    assert api.call("POST", "/admin/schema", key, {})[0] == 201
    assert api.call("POST", "/departments", key, DEPARTMENTS)[0] == 201
    assert api.call("GET", "/departments/1", key)[0] == 200
    assert api.call("POST", "/uploads/departments", key, b"2,Sales\n", "text/csv")[0] == 201
    assert api.call("DELETE", "/departments/1", key)[0] == 200
    restore_status, job = api.call("POST", "/restores/departments", key, {"backup": "20260101T000000Z"})
    assert restore_status == 404, job  # allowed, and there is no such backup
    assert api.call("DELETE", "/admin/schema?confirm=drop-all-data", key)[0] == 200

    status, page = api.call("GET", f"/audit?client={name}", key)
    assert status == 200
    done = [(e["method"], e["route"], e["status"], e["table"]) for e in page["items"]]
    assert done == [
        ("POST", "/admin/schema", 201, None),
        ("POST", "/{table}", 201, "departments"),
        ("POST", "/uploads/{table}", 201, "departments"),
        ("DELETE", "/{table}/{id}", 200, "departments"),
        ("POST", "/restores/{table}", 404, "departments"),
        ("DELETE", "/admin/schema", 200, None),
    ]
    entries = page["items"]
    assert all(e["client"] == name and e["request_id"] and e["at"].endswith("Z") for e in entries)
    assert entries[1]["details"]["inserted"] == 1 and entries[3]["details"]["deleted_id"] == 1
    assert entries[4]["details"]["backup"] == "20260101T000000Z"


def a_revoked_key_is_refused_on_its_next_request(api: Api) -> None:
    name, key = add_client(api, "read")
    assert api.call("GET", "/departments", key)[0] == 200
    clients.revoke(databases.connect(api.database_url), name)
    refused(api, "GET", "/departments", key)


def an_unknown_or_missing_key_is_403(api: Api, key: str | None) -> None:
    refused(api, "GET", "/departments", key)


class ScopedClients:
    """The scenarios as tests (not collected here: a module's `Test...` subclass runs them on its `api`)."""

    def test_a_read_client_reads_and_may_not_write_delete_upload_or_restore(self, api):
        a_read_client_reads_and_may_not_write_delete_upload_or_restore(api)

    def test_a_write_client_posts_but_may_not_drop_the_schema_or_restore(self, api):
        a_write_client_posts_but_may_not_drop_the_schema_or_restore(api)

    def test_an_admin_client_can_do_everything_and_each_action_is_in_the_audit_with_its_name(self, api):
        an_admin_client_can_do_everything_and_each_action_is_in_the_audit_with_its_name(api)

    def test_a_revoked_key_is_refused_on_its_next_request(self, api):
        a_revoked_key_is_refused_on_its_next_request(api)

    @pytest.mark.parametrize("key", [None, "", "not-a-key", "test-key "])
    def test_an_unknown_or_missing_key_is_403(self, api, key):
        an_unknown_or_missing_key_is_403(api, key)
