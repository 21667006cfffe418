"""Schemathesis against `chalice local` on MySQL: every operation of docs' OpenAPI document, fuzzed.

Each operation gets `EXAMPLES` generated requests, valid and invalid (Hypothesis, derandomized: the
same requests on every run). Every answer must be: no 5xx (but the documented 503 when the database is
down, which it is not here), a status, content type and body the document allows, strict JSON, and for
an error the {"error", "detail"} shape. The local stage has no S3 bucket: `POST /uploads/{table}/url`
may answer its documented 503 "uploads to S3 are not configured". `DELETE /admin/schema` is left out:
it drops every table, after which every other operation could only answer 503 (tests/api/test_api.py
covers it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import app as app_module
from chalicelib.api import openapi
from tests.api.live_server import chalice_local
from tests.hardening.responses import strict_json

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-key"  # the `test` stage's key in .chalice/config.json
EXAMPLES = 20
EXCLUDED = {"drop_schema"}

schema = schemathesis.openapi.from_dict(openapi.document(app_module.app.routes)).exclude(operation_id=sorted(EXCLUDED))
schema.config.update(request_timeout=10)
schema.config.generation.update(modes=["positive", "negative"], max_examples=EXAMPLES, deterministic=True)


@pytest.fixture(scope="module")
def live_api(mysql_url, mysql_admin_url, tmp_path_factory):
    """`chalice local --stage test` in a subprocess, on this run's MySQL database with a few rows."""
    from chalicelib import db as databases

    database = databases.connect(mysql_admin_url)
    database.drop_schema()
    database.create_schema()
    database.close()
    with chalice_local(mysql_url, mysql_admin_url, tmp_path_factory.mktemp("fuzz-backups")) as url:
        import urllib.error
        import urllib.request

        for path, body in [
            ("/departments", [{"id": 1, "department": "Staff"}]),
            ("/jobs", [{"id": 1, "job": "Recruiter"}]),
            (
                "/hired_employees",
                [{"id": 1, "name": "Ana", "datetime": "2021-01-07T02:48:42Z", "department_id": 1, "job_id": 1}],
            ),
            ("/backups", {}),
        ]:
            request = urllib.request.Request(
                url + path, data=json.dumps(body).encode(), method="POST", headers={"x-api-key": KEY}
            )
            try:
                urllib.request.urlopen(request, timeout=10).close()
            except urllib.error.HTTPError as exc:
                raise AssertionError(f"seeding {path}: {exc.code} {exc.read()[:300]!r}") from None
        yield url


def errors_are_shaped_like_every_error(ctx, response, case):
    """Every answer is strict JSON when it says JSON; every 4xx/5xx is {"error", "detail"}."""
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if "json" in content_type:
        body = strict_json(response.content)
        documented = case.operation.definition.raw["responses"].get(str(response.status_code))
        # A documented non-error body (a batch all of whose rows were rejected, /status down) is checked
        # by response_schema_conformance.
        own_shape = documented is not None and "Error" not in json.dumps(documented)
        if response.status_code >= 400 and not own_shape:
            assert isinstance(body, dict) and set(body) == {"error", "detail"}, body
    elif response.status_code >= 400:
        raise AssertionError(f"an error answered as {content_type!r}: {response.content[:200]!r}")
    return None


def no_server_error(ctx, response, case):
    """Schemathesis' own check, but for the one documented 503 of a local stage: no bucket to sign for."""
    if case.operation.definition.raw.get("operationId") == "upload_url" and response.status_code == 503:
        assert strict_json(response.content)["error"] == "uploads to S3 are not configured"
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    errors_are_shaped_like_every_error,
]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, live_api):
    case.call_and_validate(base_url=live_api, headers={"x-api-key": KEY}, checks=CHECKS)
