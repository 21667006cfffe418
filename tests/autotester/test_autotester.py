"""The auto-tester against real HTTP servers: the real app under `chalice local`, and small faulty ones."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from bench.common import free_port, serving
from chalicelib.autotester import checks as autotester
from chalicelib.runtime.log import logger

ROOT = Path(__file__).resolve().parents[2]
TEST_STAGE_KEY = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["test"]["environment_variables"][
    "API_KEY"
]
REPORTS = ("hired_employees_2021", "hired_employees_2021_quarters")


@pytest.fixture(scope="module")
def live_api(tmp_path_factory) -> str:
    """`chalice local --stage test` in a subprocess, on an SQLite database with a few 2021 hires."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('autotester') / 'hr.db'}"
    aws_stage_variables = ("DB_SECRET_ARN", "DB_HOST", "DB_NAME", "DATA_BUCKET", "GLUE_LOAD_JOB", "API_URL")
    env = {k: v for k, v in os.environ.items() if k not in aws_stage_variables}
    env.update(DATABASE_URL=database_url, LOG_LEVEL="ERROR", AWS_DEFAULT_REGION="us-east-1")
    port = free_port()
    chalice = Path(sys.executable).with_name("chalice")
    # No autoreload: other work in the tree must not restart the server under the tests. /status says
    # 503 until the schema exists: any answer means it is up.
    command = [str(chalice), "local", "--stage", "test", "--host", "127.0.0.1", "--port", str(port), "--no-autoreload"]
    with serving(command, port, env, any_answer=True) as url:
        base = url + "/"
        post(base + "admin/schema", {})
        post(base + "departments", [{"id": 1, "department": "Staff"}, {"id": 2, "department": "Supply Chain"}])
        post(base + "jobs", [{"id": 1, "job": "Recruiter"}])
        post(
            base + "hired_employees",
            [
                {
                    "id": n,
                    "name": f"Person {n}",
                    "datetime": f"2021-{month:02d}-07T02:48:42Z",
                    "department_id": 1 + n % 2,
                    "job_id": 1,
                }
                for n, month in enumerate((1, 2, 5, 8, 11, 12), start=1)
            ],
        )
        yield base


def post(url: str, body) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "x-api-key": TEST_STAGE_KEY},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 201), response.read()


class FaultyApi(BaseHTTPRequestHandler):
    """Answers each path as `behaviour` says: (status, body bytes, delay seconds)."""

    behaviour: dict[str, tuple[int, bytes, float]] = {}

    def do_GET(self):
        status, body, delay = self.behaviour.get(self.path.lstrip("/"), (404, b'{"error": "not found"}', 0))
        time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def faulty_api():
    """A real HTTP server in a thread; the test sets what each endpoint answers."""
    behaviour: dict[str, tuple[int, bytes, float]] = {
        "status": (200, b'{"status": "ok"}', 0),
        **dict.fromkeys(REPORTS, (200, b'[{"id": 1}]', 0)),
    }
    handler = type("Handler", (FaultyApi,), {"behaviour": behaviour})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", behaviour
    server.shutdown()
    server.server_close()


@pytest.fixture
def log_lines():
    """The auto-tester's structured log lines, as parsed JSON."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def emf_documents(captured: str) -> list[dict]:
    """The EMF documents printed to stdout, with each metric's value list ([v]) unwrapped."""
    documents = []
    for doc in map(json.loads, filter(None, captured.splitlines())):
        if "_aws" in doc:
            for metric in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = doc[metric["Name"]]
                doc[metric["Name"]] = value[0] if isinstance(value, list) and len(value) == 1 else value
            documents.append(doc)
    return documents


def by_endpoint(report: autotester.Report) -> dict[str, autotester.Result]:
    return {r.endpoint: r for r in report.results}


# -- the healthy case, against the real app --------------------------------------------------------


def test_healthy_live_api_passes_every_check(live_api, capsys, log_lines):
    report = autotester.run(live_api, TEST_STAGE_KEY)

    assert report.ok, report.to_dict()
    results = by_endpoint(report)
    assert sorted(results) == sorted(["status", *REPORTS])
    assert {r.status_code for r in report.results} == {200}
    import requests

    quarters = requests.get(
        live_api + "hired_employees_2021_quarters", headers={"x-api-key": TEST_STAGE_KEY}, timeout=10
    )
    assert len(quarters.json()) == 2  # the checks ran against real data
    assert all(r.latency_ms > 0 for r in report.results)

    documents = emf_documents(capsys.readouterr().out)
    per_endpoint = {d["endpoint"]: d for d in documents if "endpoint" in d}
    assert sorted(per_endpoint) == sorted(results)
    for name, doc in per_endpoint.items():
        metrics = doc["_aws"]["CloudWatchMetrics"][0]
        assert metrics["Namespace"] == autotester.DEFAULT_NAMESPACE
        assert ["endpoint", "service"] in [sorted(d) for d in metrics["Dimensions"]]
        assert doc["Success"] == 1.0 and doc["LatencyMs"] == results[name].latency_ms
        assert {m["Name"]: m["Unit"] for m in metrics["Metrics"]} == {"Success": "Count", "LatencyMs": "Milliseconds"}
    [total] = [d for d in documents if "Failures" in d]
    assert total["Failures"] == 0 and total["service"] == autotester.DEFAULT_SERVICE
    assert total["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]

    lines = [line for line in log_lines() if "auto_test" in line]
    assert [line["auto_test"]["endpoint"] for line in lines] == ["status", *REPORTS]
    assert all(line["level"] == "INFO" and line["auto_test"]["ok"] for line in lines)


def test_wrong_key_fails_the_protected_endpoints(live_api, capsys, log_lines):
    report = autotester.run(live_api, "not-the-key")

    results = by_endpoint(report)
    assert results["status"].ok  # the health route is public
    for name in REPORTS:
        assert results[name].ok is False
        assert results[name].status_code == 403
        assert "API key was refused" in results[name].error
    assert report.failures == 2 and report.to_dict()["ok"] is False
    [total] = [d for d in emf_documents(capsys.readouterr().out) if "Failures" in d]
    assert total["Failures"] == 2
    errors = [line for line in log_lines() if line["level"] == "ERROR"]
    assert sorted(line["auto_test"]["endpoint"] for line in errors) == sorted(REPORTS)


# -- failures, against a small faulty server -------------------------------------------------------


def test_server_error_is_a_failure(faulty_api, capsys):
    url, behaviour = faulty_api
    behaviour["hired_employees_2021"] = (500, b'{"error": "internal"}', 0)

    report = autotester.run(url, "key")

    result = by_endpoint(report)["hired_employees_2021"]
    assert (result.ok, result.status_code) == (False, 500)
    assert result.error.startswith("HTTP 500")
    assert report.failures == 1
    docs = {d.get("endpoint"): d for d in emf_documents(capsys.readouterr().out)}
    assert docs["hired_employees_2021"]["Success"] == 0.0
    assert docs["status"]["Success"] == 1.0


def test_slow_endpoint_times_out(faulty_api):
    url, behaviour = faulty_api
    behaviour["hired_employees_2021_quarters"] = (200, b"[]", 2.0)

    started = time.monotonic()
    report = autotester.run(url, "key", timeout=(1.0, 0.3))

    result = by_endpoint(report)["hired_employees_2021_quarters"]
    assert result.ok is False and result.status_code is None
    assert result.error.startswith("timed out")
    assert result.latency_ms < 1500
    assert time.monotonic() - started < 5
    assert by_endpoint(report)["status"].ok


def test_refused_connection_fails_every_endpoint():
    url = f"http://127.0.0.1:{free_port()}/"  # nothing listens there

    report = autotester.run(url, "key")

    assert report.failures == 3
    assert all(r.status_code is None and r.error.startswith("connection failed") for r in report.results)


@pytest.mark.parametrize(
    ("endpoint", "body", "error"),
    [
        ("hired_employees_2021", b'{"rows": []}', "expected a JSON array of objects"),
        ("hired_employees_2021_quarters", b"[1, 2, 3]", "expected a JSON array of objects"),
        ("status", b'{"healthy": true}', 'expected a JSON object with "status"'),
        ("status", b"[]", 'expected a JSON object with "status"'),
        ("hired_employees_2021", b"<html>gateway</html>", "body is not JSON"),
    ],
)
def test_body_of_the_wrong_shape_is_a_failure(faulty_api, endpoint, body, error):
    url, behaviour = faulty_api
    behaviour[endpoint] = (200, body, 0)

    report = autotester.run(url, "key")

    result = by_endpoint(report)[endpoint]
    assert (result.ok, result.status_code) == (False, 200)
    assert result.error.startswith(error)
    assert report.failures == 1


def test_empty_reports_are_healthy(faulty_api):
    url, behaviour = faulty_api
    for name in REPORTS:
        behaviour[name] = (200, b"[]", 0)

    assert autotester.run(url, "key").ok


# -- the scheduled entry point, with the key in Secrets Manager (moto) ------------------------------


@pytest.fixture
def secrets(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    autotester.api_key.cache_clear()
    with mock_aws():
        yield boto3.client("secretsmanager")
    autotester.api_key.cache_clear()


def test_scheduled_run_reads_the_key_from_secrets_manager_and_caches_it(live_api, secrets, capsys):
    arn = secrets.create_secret(Name="hr-api-key", SecretString=TEST_STAGE_KEY)["ARN"]
    env = {"API_URL": live_api, "API_KEY_SECRET_ARN": arn}

    result = autotester.run_scheduled(env)

    assert result["ok"] is True and result["failures"] == 0
    assert [r["endpoint"] for r in result["results"]] == ["status", *REPORTS]
    secrets.put_secret_value(SecretId=arn, SecretString="changed-but-cached")
    assert autotester.api_key(arn) == TEST_STAGE_KEY  # one Secrets Manager call per container


def test_scheduled_run_fetches_a_rotated_key_once_when_refused(live_api, secrets, capsys):
    arn = secrets.create_secret(Name="hr-api-key", SecretString="old-key")["ARN"]
    assert autotester.api_key(arn) == "old-key"  # a container cached the old key
    secrets.put_secret_value(SecretId=arn, SecretString=TEST_STAGE_KEY)  # then the key was rotated

    result = autotester.run_scheduled({"API_URL": live_api, "API_KEY_SECRET_ARN": arn})

    assert result["ok"] is True
    [total] = [d for d in emf_documents(capsys.readouterr().out) if "Failures" in d]
    assert total["Failures"] == 0  # only the run with the current key is reported


def test_scheduled_run_with_a_wrong_stored_key_reports_the_refusal(live_api, secrets):
    arn = secrets.create_secret(Name="hr-api-key", SecretString="wrong-key")["ARN"]

    result = autotester.run_scheduled({"API_URL": live_api, "API_KEY_SECRET_ARN": arn})

    assert result["ok"] is False and result["failures"] == 2
    refused = [r for r in result["results"] if r["status_code"] == 403]
    assert sorted(r["endpoint"] for r in refused) == sorted(REPORTS)


def test_scheduled_run_without_configuration_raises():
    with pytest.raises(autotester.ConfigurationError):
        autotester.run_scheduled({"API_URL": "https://example.invalid/api/"})
    with pytest.raises(autotester.ConfigurationError):
        autotester.run_scheduled({"API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123:secret:x"})
