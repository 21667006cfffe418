"""Fixtures for the Glue jobs: one local SparkSession for the whole run (pyspark 3.5.4 = Glue 5.0),
MariaDB over JDBC with Debian's MariaDB Connector/J, ``file://`` paths, and a scratch database on the
suite's TLS-only server (tests/conftest.py), which the jobs reach as the app user over verified TLS.

Java, the JDBC jar and a MySQL-compatible server are set up by `make test` (scripts/system-deps.sh,
scripts/ensure-mysql.sh). When one is missing the tests are skipped locally and fail in CI
(``REQUIRE_MYSQL=1``): CI never skips them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest

from chalicelib.db import users
from tests.conftest import APP_USER, app_login, connect_as, server_login

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "glue"))  # the job scripts and hrjobs, as --extra-py-files puts them on Glue

from glue import local  # noqa: E402  (after the path: glue.local imports the jobs' modules by name)

JDBC_JAR = local.jdbc_jar()
LOCAL_JDBC_DRIVER = local.LOCAL_JDBC_DRIVER
# A JVM zone that is not UTC and has no DST: a job that lets JDBC or Avro depend on the JVM's zone
# shifts every datetime by 5:30 here, instead of passing by luck on a UTC machine.
JVM_TIME_ZONE = "Asia/Kolkata"


def _unavailable(reason: str):
    if os.environ.get("REQUIRE_MYSQL") == "1":
        pytest.fail(f"{reason} (REQUIRE_MYSQL=1: the Glue job tests may not be skipped; run `make system-deps mysql`)")
    pytest.skip(reason)


def _admin(database: str = ""):
    return connect_as(server_login(database))


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """glue.local's local[2] SparkSession (Hive support for the local Avro path, the MariaDB JDBC driver)."""
    if shutil.which("java") is None:
        _unavailable("no `java` on PATH (Spark needs Java 17)")
    if not Path(JDBC_JAR).is_file():
        _unavailable(f"no JDBC driver at {JDBC_JAR} (Debian package libmariadb-java)")
    if importlib.util.find_spec("pyspark") is None:
        _unavailable("pyspark is not installed (pip install -r glue/requirements.txt)")

    session = local.local_session(
        "local[2]",
        tmp_path_factory.mktemp("spark"),
        java_options=f"-Duser.timezone={JVM_TIME_ZONE}",
        config={"spark.sql.shuffle.partitions": "4"},
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def glue_database(mysql_server):
    """Name of a scratch database with the service's schema (created by the admin user, the app user
    granted its rights as in AWS), dropped at the end."""
    name = f"hr_glue_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _admin()
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        users.grant(cur, users.app_grants(name), APP_USER)
    from chalicelib.db.mysql import MysqlDatabase

    service = MysqlDatabase.for_login(server_login(name))
    service.create_schema()
    service.close()
    yield name
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        users.grant(cur, users.app_revokes(name), APP_USER)
    admin.close()


@pytest.fixture
def target(glue_database):
    """The jobs' view of the scratch database (the app user, verified TLS), emptied before each test."""
    conn = _admin(glue_database)
    with conn.cursor() as cur:
        cur.execute("SET FOREIGN_KEY_CHECKS = 0")
        cur.execute("SHOW TABLES")
        for (name,) in cur.fetchall():
            cur.execute(f"DELETE FROM `{name}`")
        cur.execute("SET FOREIGN_KEY_CHECKS = 1")
    conn.close()
    return local.target_for_url(app_login(glue_database).url())


@pytest.fixture
def sql(target):
    """`sql(statement, *params)` -> all rows, on the scratch database."""
    conn = _admin(target.database)

    def run(statement: str, *params):
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return [tuple(r) for r in cur.fetchall()]

    yield run
    conn.close()


def seed(sql, departments, jobs, employees) -> None:
    """Insert (id, department), (id, job) and hired_employees rows (dictionary order) with `sql`."""
    for table, rows in (("departments", departments), ("jobs", jobs), ("hired_employees", employees)):
        for row in rows:
            sql(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(row))})", *row)
