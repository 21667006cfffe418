"""Shared fixtures: the two database backends, the Chalice test client.

MySQL tests run against a real MySQL-compatible server (``TEST_MYSQL_URL``, default
``mysql://root@127.0.0.1:3306``; `make test` starts or installs MariaDB first). Each test run gets
its own database, dropped at the end. When the server cannot be reached the MySQL tests are skipped
locally, and fail when ``REQUIRE_MYSQL=1`` (as CI sets it): CI never skips them.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pymysql
import pytest

from chalicelib import db as databases

ROOT = Path(__file__).resolve().parent.parent
MYSQL_SERVER = os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
BACKENDS = ["sqlite", "mysql"]
# The API's behavioural tests also run on the RDS Data API backend (through a local emulator of the API).
EVERY_BACKEND = [*BACKENDS, "data_api"]
on_every_backend = pytest.mark.parametrize("database_url", EVERY_BACKEND, indirect=True)


def _server_parts():
    from urllib.parse import urlsplit

    parts = urlsplit(MYSQL_SERVER)
    return parts.hostname or "127.0.0.1", parts.port or 3306, parts.username or "root", parts.password or ""


def _mysql_admin():
    host, port, user, password = _server_parts()
    return pymysql.connect(host=host, port=port, user=user, password=password, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def mysql_server():
    """(host, port, user, password) of the test server, or a skip / failure when it is unreachable."""
    try:
        _mysql_admin().close()
    except pymysql.err.MySQLError as exc:
        message = f"MySQL test server {MYSQL_SERVER} unreachable: {exc}"
        if os.environ.get("REQUIRE_MYSQL") == "1":
            pytest.fail(message + " (REQUIRE_MYSQL=1: MySQL tests may not be skipped)")
        pytest.skip(message)
    return _server_parts()


@pytest.fixture(scope="session")
def mysql_url(mysql_server):
    """URL of a fresh database for this test run (and this xdist worker), dropped afterwards."""
    host, port, user, password = mysql_server
    name = f"hr_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _mysql_admin()
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    auth = f"{user}:{password}@" if password else f"{user}@"
    yield f"mysql://{auth}{host}:{port}/{name}"
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    admin.close()


def _reset(database: databases.Database) -> None:
    database.drop_schema()
    database.create_schema()


@pytest.fixture(scope="session")
def data_api_emulator(mysql_server):
    """A local RDS Data API endpoint over the test server (see tests/db/data_api_emulator.py)."""
    from tests.db.data_api_emulator import DataApiEmulator

    emulator = DataApiEmulator(*mysql_server)
    emulator.endpoint = emulator.start()
    yield emulator
    emulator.stop()
    assert emulator.violations == [], "requests or responses outside botocore's rds-data model"


@pytest.fixture
def data_api_url(data_api_emulator, mysql_url, monkeypatch):
    """An ``rds-data://`` URL for this run's database, boto3 pointed at the emulator (fake credentials)."""
    from urllib.parse import quote

    from tests.db.data_api_emulator import CLUSTER_ARN, SECRET_ARN

    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", data_api_emulator.endpoint)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    return f"rds-data://{CLUSTER_ARN}/{mysql_url.rsplit('/', 1)[1]}?secret={quote(SECRET_ARN, safe=':')}"


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A URL for an empty, freshly created schema on each backend in turn (`on_every_backend`: the RDS
    Data API backend too)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hr.db'}"
    elif request.param == "data_api":
        url = request.getfixturevalue("data_api_url")
    else:
        url = request.getfixturevalue("mysql_url")
    # The Data API backend's schema is the MySQL backend's: reset it directly, as fast as the mysql runs.
    database = databases.connect(request.getfixturevalue("mysql_url") if request.param == "data_api" else url)
    _reset(database)
    database.close()
    yield url
    databases.forget(url)


@pytest.fixture
def db(database_url):
    """A backend on an empty schema (both backends, one after the other)."""
    database = databases.connect(database_url)
    yield database
    database.close()


@pytest.fixture
def mysql_db(mysql_url):
    """The MySQL backend on an empty schema, for behaviour only MySQL has (server modes, concurrent writers)."""
    database = databases.connect(mysql_url)
    _reset(database)
    yield database
    database.close()


TEST_BUCKET = "hr-data-test"


@pytest.fixture
def s3_bucket(monkeypatch):
    """An S3 client on moto with the bucket `TEST_BUCKET` created (and fake credentials in the env)."""
    import boto3
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=TEST_BUCKET)
        yield client


API_KEY = "test-key"  # the `test` stage's key in .chalice/config.json


@pytest.fixture
def client(database_url, monkeypatch):
    """`chalice.test.Client` on the `test` stage, whose database is this test's `database_url`."""
    from chalice.test import Client

    import app as app_module

    monkeypatch.setenv("DATABASE_URL", database_url)
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as test_client:
        yield test_client


@pytest.fixture
def headers():
    return {"x-api-key": API_KEY, "content-type": "application/json"}


@pytest.fixture(autouse=True)
def jobs_wait_for_drain(monkeypatch):
    """Queued jobs run only when a test drains the local queue (`chalicelib.jobs.queue.LOCAL.drain()`),
    on the test's thread: no worker thread outlives a test or races its assertions."""
    from chalicelib.jobs import queue

    monkeypatch.setattr(queue.LOCAL, "autostart", False)
    yield
    queue.LOCAL.forget()
