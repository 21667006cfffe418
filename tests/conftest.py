"""Shared fixtures: the two database backends, the Chalice test client.

MySQL tests run against a server configured like the one in AWS (scripts/tls-mysql.sh, started by
`make test`): it refuses plain connections, its certificate is verified against the CA the script
generated, and the suite logs in as the service's users. The admin user (``TEST_MYSQL_URL``, default
``hr_admin`` on 127.0.0.1:3307) creates each test run's database and its schema and grants the app user
(``TEST_MYSQL_APP_USER`` / ``TEST_MYSQL_APP_PASSWORD``) its data rights there (chalicelib.db.users);
every test then runs as the app user unless it asks for `mysql_admin_url`. When the server cannot be
reached the MySQL tests are skipped locally, and fail when ``REQUIRE_MYSQL=1`` (as CI sets it).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pymysql
import pytest

from chalicelib import db as databases
from chalicelib.db import users
from chalicelib.runtime.settings import DatabaseLogin

ROOT = Path(__file__).resolve().parent.parent
TLS_DIR = Path(os.environ.get("HR_TEST_MYSQL_DIR", "/var/tmp/hr-test-mysql"))
TEST_CA = str(TLS_DIR / "tls" / "ca.pem")
MYSQL_SERVER = os.environ.get("TEST_MYSQL_URL", f"mysql://hr_admin:hr-admin-test@127.0.0.1:3307/?ca={TEST_CA}")
APP_USER = os.environ.get("TEST_MYSQL_APP_USER", "hr_app")
APP_PASSWORD = os.environ.get("TEST_MYSQL_APP_PASSWORD", "hr-app-test")
BACKENDS = ["sqlite", "mysql"]
# The API's behavioural tests also run on the RDS Data API backend (through a local emulator of the API).
EVERY_BACKEND = [*BACKENDS, "data_api"]
on_every_backend = pytest.mark.parametrize("database_url", EVERY_BACKEND, indirect=True)


def server_login(database: str = "") -> DatabaseLogin:
    """The admin user's login on the test server (on `database`, or none)."""
    parts = urlsplit(MYSQL_SERVER)
    ca = parse_qs(parts.query).get("ca", [None])[-1]
    return DatabaseLogin(
        parts.hostname or "127.0.0.1",
        parts.port or 3307,
        database,
        parts.username or "",
        parts.password or "",
        True,
        ca,
    )


def app_login(database: str) -> DatabaseLogin:
    return replace(server_login(database), user=APP_USER, password=APP_PASSWORD)


def connect_as(login: DatabaseLogin, **options) -> pymysql.connections.Connection:
    """A plain pymysql connection for `login`, over verified TLS as every connection of the suite."""
    return pymysql.connect(
        host=login.host,
        port=login.port,
        user=login.user,
        password=login.password,
        database=login.name or None,
        ssl=login.ssl_context(),
        autocommit=True,
        charset="utf8mb4",
        connect_timeout=5,
        **options,
    )


def _mysql_admin():
    return connect_as(server_login())


@pytest.fixture(scope="session")
def mysql_server():
    """The admin login on the test server, or a skip / failure when it is unreachable."""
    try:
        _mysql_admin().close()
    except pymysql.err.MySQLError:
        # Not started yet (pytest run without `make test`): the setup is idempotent and quick.
        subprocess.run([str(ROOT / "scripts" / "tls-mysql.sh")], check=False, capture_output=True)
    try:
        _mysql_admin().close()
    except (pymysql.err.MySQLError, OSError) as exc:
        message = f"MySQL test server {server_login().host}:{server_login().port} unreachable: {exc}"
        if os.environ.get("REQUIRE_MYSQL") == "1":
            pytest.fail(message + " (REQUIRE_MYSQL=1: MySQL tests may not be skipped)")
        pytest.skip(message)
    return server_login()


@pytest.fixture(scope="session")
def mysql_database(mysql_server):
    """A fresh database for this test run (and this xdist worker), the app user granted its rights on
    it; dropped and the grants revoked afterwards."""
    name = f"hr_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _mysql_admin()
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        users.grant(cur, users.app_grants(name), APP_USER)
    yield name
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        users.grant(cur, users.app_revokes(name), APP_USER)
    admin.close()


@pytest.fixture(scope="session")
def mysql_url(mysql_database):
    """The app user's URL of this run's database (verified TLS, the form the README documents)."""
    return app_login(mysql_database).url()


@pytest.fixture(scope="session")
def mysql_admin_url(mysql_database):
    """The admin user's URL of this run's database: for schema changes only."""
    return server_login(mysql_database).url()


def _reset(url: str) -> None:
    """Drop and create the schema (as the admin user: the app user may not)."""
    database = databases.connect(url)
    try:
        database.drop_schema()
        database.create_schema()
    finally:
        database.close()


@pytest.fixture(scope="session")
def data_api_emulator(mysql_server):
    """A local RDS Data API endpoint over the test server as the app user, the user its secret names (see
    tests/db/data_api_emulator.py)."""
    from tests.db.data_api_emulator import DataApiEmulator

    emulator = DataApiEmulator(app_login(""))
    emulator.endpoint = emulator.start()
    yield emulator
    emulator.stop()
    assert emulator.violations == [], "requests or responses outside botocore's rds-data model"


@pytest.fixture
def data_api_url(data_api_emulator, mysql_database, monkeypatch):
    """An ``rds-data://`` URL for this run's database, boto3 pointed at the emulator (fake credentials)."""
    from urllib.parse import quote

    from tests.db.data_api_emulator import CLUSTER_ARN, SECRET_ARN

    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", data_api_emulator.endpoint)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    return f"rds-data://{CLUSTER_ARN}/{mysql_database}?secret={quote(SECRET_ARN, safe=':')}"


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A URL for an empty, freshly created schema on each backend in turn (`on_every_backend`: the RDS
    Data API backend too)."""
    if request.param == "sqlite":
        url = admin_url = f"sqlite:///{tmp_path / 'hr.db'}"
    elif request.param == "data_api":
        # The Data API backend's schema is the MySQL backend's: reset it directly, as fast as the mysql runs.
        url, admin_url = request.getfixturevalue("data_api_url"), request.getfixturevalue("mysql_admin_url")
    else:
        url, admin_url = request.getfixturevalue("mysql_url"), request.getfixturevalue("mysql_admin_url")
    _reset(admin_url)
    yield url
    databases.forget(url)


@pytest.fixture
def db(database_url):
    """A backend on an empty schema (both backends, one after the other)."""
    database = databases.connect(database_url)
    yield database
    database.close()


@pytest.fixture
def admin_db(admin_database_url):
    """The same database as `db`, as the admin user: for tests of schema changes."""
    database = databases.connect(admin_database_url)
    yield database
    database.close()


@pytest.fixture
def mysql_db(mysql_url, mysql_admin_url):
    """The MySQL backend on an empty schema, for behaviour only MySQL has (server modes, concurrent writers)."""
    _reset(mysql_admin_url)
    database = databases.connect(mysql_url)
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
def admin_database_url(request, database_url):
    """The admin user's URL of the database `database_url` names (the same URL for SQLite)."""
    return database_url if database_url.startswith("sqlite") else request.getfixturevalue("mysql_admin_url")


@pytest.fixture
def client(database_url, admin_database_url, monkeypatch):
    """`chalice.test.Client` on the `test` stage, whose database is this test's `database_url` (the
    app user), with the admin user's URL for the schema routes."""
    from chalice.test import Client

    import app as app_module

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ADMIN_DATABASE_URL", admin_database_url)
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
