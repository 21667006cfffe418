"""The auto-tester: calls the live API's health and report endpoints and reports what it saw.

Run on a schedule in AWS (`auto_tester` in app.py). Each endpoint is called with the API key and a
connect and read timeout; the status code and the shape of the body are checked. Every result is
logged as one structured JSON line and published as CloudWatch metrics in embedded metric format
(per endpoint: `Success` 0/1 and `LatencyMs`; per run: `Failures`, which the CDK app alarms on).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

import requests
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib.runtime.log import logger
from chalicelib.runtime.settings import ConfigurationError, Settings, read_secret_text

DEFAULT_NAMESPACE = "HrMigration/AutoTester"  # the CDK app alarms on this namespace (cdk/hr_infra/monitoring.py)
DEFAULT_SERVICE = "hr-migration"
FAILURES_METRIC = "Failures"
SUCCESS_METRIC = "Success"
LATENCY_METRIC = "LatencyMs"
# How often it runs under `chalice deploy` (AUTO_TESTER_RATE when deploying); the CDK app sets the rate
# from cdk.json's `autoTesterRate` instead.
SCHEDULE = os.environ.get("AUTO_TESTER_RATE") or "rate(15 minutes)"
# (connect, read) seconds: a Lambda cold start behind API Gateway answers well within these.
DEFAULT_TIMEOUT = (3.05, 10.0)


def _status_body(body: Any) -> str | None:
    if not isinstance(body, dict) or "status" not in body:
        return 'expected a JSON object with "status"'
    return None


def _array_of_objects(body: Any) -> str | None:
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        return "expected a JSON array of objects"
    return None


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    check_body: Callable[[Any], str | None]  # None when the body has the expected shape, else why not


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("status", "status", _status_body),
    Endpoint("hired_employees_2021", "hired_employees_2021", _array_of_objects),
    Endpoint("hired_employees_2021_quarters", "hired_employees_2021_quarters", _array_of_objects),
)


@dataclass(frozen=True)
class Result:
    endpoint: str
    url: str
    ok: bool
    status_code: int | None
    latency_ms: float
    error: str | None = None


@dataclass
class Report:
    api_url: str
    results: list[Result] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(not r.ok for r in self.results)

    @property
    def ok(self) -> bool:
        return self.failures == 0

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "api_url": self.api_url,
            "failures": self.failures,
            "results": [asdict(r) for r in self.results],
        }


def check_endpoint(
    session: requests.Session,
    api_url: str,
    endpoint: Endpoint,
    api_key: str,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
) -> Result:
    """GET one endpoint and judge it: HTTP 200, a JSON body, the expected shape. Never raises."""
    url = urljoin(api_url if api_url.endswith("/") else api_url + "/", endpoint.path)
    started = time.perf_counter()
    status_code = None
    try:
        response = session.get(url, headers={"x-api-key": api_key, "Accept": "application/json"}, timeout=timeout)
        status_code = response.status_code
        if status_code == 403:
            error = "HTTP 403: the API key was refused"
        elif status_code != 200:
            error = f"HTTP {status_code}: {response.text[:200]}"
        else:
            try:
                error = endpoint.check_body(response.json())
            except ValueError:
                error = f"body is not JSON: {response.text[:200]!r}"
    except requests.Timeout as exc:
        error = f"timed out ({type(exc).__name__}, limits {timeout[0]}s connect / {timeout[1]}s read)"
    except requests.ConnectionError as exc:
        error = f"connection failed: {exc}"
    except requests.RequestException as exc:
        error = f"request failed: {exc}"
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return Result(endpoint.name, url, error is None, status_code, latency_ms, error)


def check_all(
    api_url: str,
    api_key: str,
    *,
    endpoints: tuple[Endpoint, ...] = ENDPOINTS,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
) -> Report:
    """Check every endpoint; no logging, no metrics."""
    report = Report(api_url)
    with session or requests.Session() as http:
        for endpoint in endpoints:
            report.results.append(check_endpoint(http, api_url, endpoint, api_key, timeout))
    return report


def run(api_url: str, api_key: str, **options: Any) -> Report:
    """Check every endpoint, log each result and publish the metrics; return the aggregate."""
    report = check_all(api_url, api_key, **options)
    publish(report)
    return report


def run_scheduled(env: dict | None = None) -> dict:
    """The scheduled entry point: configuration from the environment, the key from Secrets Manager.

    A refused key is fetched again once before anything is reported: it may have been rotated since
    this container cached it.
    """
    settings = Settings.from_env(env)
    api_url, secret_arn = settings.api_url, settings.api_key_secret_arn
    if not api_url or not secret_arn:
        raise ConfigurationError("the auto-tester needs API_URL and API_KEY_SECRET_ARN")
    key = api_key(secret_arn)
    report = check_all(api_url, key)
    if any(r.status_code == 403 for r in report.results):
        api_key.cache_clear()
        if api_key(secret_arn) != key:
            logger.info("the API key changed since it was cached; checking again", extra={"api_url": api_url})
            report = check_all(api_url, api_key(secret_arn))
    publish(report)
    return report.to_dict()


@lru_cache(maxsize=4)
def api_key(secret_arn: str) -> str:
    """The API key's value, cached for the life of the container."""
    return read_secret_text(secret_arn)


def publish(report: Report) -> None:
    """Log each result as one structured line; publish the metrics (EMF, on stdout).

    One EMF document per endpoint (dimension `endpoint`), and one with the run's failure count.
    """
    for result in report.results:
        fields = {"auto_test": asdict(result)}
        if result.ok:
            logger.info(f"auto-test {result.endpoint}: ok", extra=fields)
        else:
            logger.error(f"auto-test {result.endpoint}: FAILED: {result.error}", extra=fields)
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    service = os.environ.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE
    for result in report.results:
        metrics = EphemeralMetrics(namespace=namespace, service=service)
        metrics.add_dimension(name="endpoint", value=result.endpoint)
        metrics.add_metric(name=SUCCESS_METRIC, unit=MetricUnit.Count, value=1 if result.ok else 0)
        metrics.add_metric(name=LATENCY_METRIC, unit=MetricUnit.Milliseconds, value=result.latency_ms)
        metrics.flush_metrics()
    metrics = EphemeralMetrics(namespace=namespace, service=service)
    metrics.add_metric(name=FAILURES_METRIC, unit=MetricUnit.Count, value=report.failures)
    metrics.flush_metrics()
