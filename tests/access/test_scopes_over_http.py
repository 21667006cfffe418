"""Scoped clients over HTTP (the test client runs the authorizer through Chalice's local gateway), on both
backends. The scenarios are shared with the `chalice local` run (test_chalice_local.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib import db as databases
from chalicelib.access import clients
from tests.access import scenarios
from tests.access.scenarios import add_client, encode, headers


@dataclass
class InProcessApi:
    client: Any
    database_url: str

    def call(self, method, path, key, body=None, content_type="application/json"):
        response = self.client.http.request(method, path, headers=headers(key, content_type), body=encode(body))
        return response.status_code, json.loads(response.body) if response.body else None


@pytest.fixture
def api(client, database_url) -> InProcessApi:
    return InProcessApi(client, database_url)


class TestInProcess(scenarios.ScopedClients):
    pass


def test_a_rotated_key_works_and_the_old_one_until_its_grace_ends(api, database_url):
    name, old = add_client(api, "read")
    new = clients.rotate(databases.connect(database_url), name)
    assert api.call("GET", "/departments", new)[0] == 200
    assert api.call("GET", "/departments", old)[0] == 200
    clients.rotate(databases.connect(database_url), name, grace_seconds=0)
    assert api.call("GET", "/departments", old)[0] == 403
    assert api.call("GET", "/departments", new)[0] == 403  # a grace of 0 ends every older key now


def test_admin_posts_a_write_client_tries_are_refused_by_the_route_table_and_audited(api):
    # Its policy allows POST /* (path parameters are wildcards); the app refuses the exact admin routes.
    name, key = add_client(api, "write")
    assert api.call("POST", "/admin/schema", key, {})[0] == 403
    assert api.call("POST", "/backups", key, {})[0] == 403
    _, page = api.call("GET", f"/audit?client={name}", scenarios.BOOTSTRAP_KEY)
    assert [(e["method"], e["route"], e["status"]) for e in page["items"]] == [
        ("POST", "/admin/schema", 403),
        ("POST", "/backups", 403),
    ]


def test_status_needs_no_key(api):
    assert api.call("GET", "/status", None)[0] == 200
