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
from tests.access.scenarios import encode
from tests.api.live_server import chalice_local
from tests.conftest import _reset


@dataclass
class HttpApi:
    base_url: str
    database_url: str

    def call(self, method, path, key, body=None, content_type="application/json"):
        headers = {"content-type": content_type} | ({"x-api-key": key} if key is not None else {})
        data = encode(body) if method in ("POST", "PUT", "PATCH") else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
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


def test_a_read_client_reads_and_may_not_write_delete_upload_or_restore(api):
    scenarios.a_read_client_reads_and_may_not_write_delete_upload_or_restore(api)


def test_a_write_client_posts_but_may_not_drop_the_schema_or_restore(api):
    scenarios.a_write_client_posts_but_may_not_drop_the_schema_or_restore(api)


def test_an_admin_client_can_do_everything_and_each_action_is_in_the_audit_with_its_name(api):
    scenarios.an_admin_client_can_do_everything_and_each_action_is_in_the_audit_with_its_name(api)


def test_a_revoked_key_is_refused_on_its_next_request(api):
    scenarios.a_revoked_key_is_refused_on_its_next_request(api)


@pytest.mark.parametrize("key", scenarios.UNKNOWN_KEYS)
def test_an_unknown_or_missing_key_is_403(api, key):
    scenarios.an_unknown_or_missing_key_is_403(api, key)
