"""Scoped clients under a real `chalice local` on MySQL (TLS, the app user), as a developer runs it: the
same scenarios as the in-process test client (scenarios.py), over HTTP through the dev server and its local
gateway. One server for the module; each test starts from an empty schema."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from tests.access import scenarios
from tests.access.scenarios import encode, headers
from tests.api.live_server import chalice_local
from tests.conftest import _reset


@dataclass
class HttpApi:
    base_url: str
    database_url: str

    def call(self, method, path, key, body=None, content_type="application/json"):
        data = encode(body) if method in ("POST", "PUT", "PATCH") else None
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers(key, content_type)
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        return status, json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def server(mysql_url, mysql_admin_url, tmp_path_factory):
    _reset(mysql_admin_url)
    with chalice_local(mysql_url, mysql_admin_url, tmp_path_factory.mktemp("local-backups")) as url:
        yield url


@pytest.fixture
def api(server, mysql_url, mysql_admin_url) -> HttpApi:
    _reset(mysql_admin_url)
    return HttpApi(server, mysql_url)


class TestUnderChaliceLocal(scenarios.ScopedClients):
    pass
