"""The CDK custom resource's handler (`chalicelib.db.users.bootstrap`), run against the suite's TLS-only
server with `hr_master` in the role of the RDS master user and the secrets in Secrets Manager (moto)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace

import boto3
import pymysql
import pytest
from moto import mock_aws

from chalicelib import db as databases
from chalicelib.db import users
from chalicelib.rules.dictionary import TABLES
from chalicelib.runtime import settings
from tests.conftest import TEST_CA, connect_as, server_login

MASTER_PASSWORD = "hr-master-test"  # scripts/tls-mysql.sh


@pytest.fixture
def deployment(mysql_server, monkeypatch):
    """The bootstrap function's environment: a database name, the master's and two fresh users' secrets."""
    suffix = uuid.uuid4().hex[:6]
    name, app_user, admin_user = f"hr_boot_{suffix}", f"hr_app_{suffix}", f"hr_admin_{suffix}"
    master = replace(server_login(), user="hr_master", password=MASTER_PASSWORD)
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(variable, value)
    with mock_aws():
        client = boto3.client("secretsmanager")

        def secret(key: str, body: dict) -> str:
            arn = client.create_secret(Name=f"{key}-{suffix}", SecretString=json.dumps(body))["ARN"]
            monkeypatch.setenv(f"{key}_SECRET_ARN", arn)
            return arn

        secret(
            "MASTER", {"username": "hr_master", "password": MASTER_PASSWORD, "host": master.host, "port": master.port}
        )
        secret("APP", {"username": app_user, "password": "app-pw-1"})
        admin_arn = secret("ADMIN", {"username": admin_user, "password": "admin-pw-1"})
        monkeypatch.setenv("DB_NAME", name)
        monkeypatch.setenv("DB_CA", TEST_CA)
        yield {"client": client, "name": name, "app": app_user, "admin": admin_user, "admin_arn": admin_arn}
    root = connect_as(master)
    with root.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        for user in (app_user, admin_user):
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))
    root.close()
    settings.forget_secrets()


def login(deployment, who: str, password: str):
    return replace(server_login(deployment["name"]), user=deployment[who], password=password)


def test_the_bootstrap_creates_both_users_with_their_rights_and_re_running_it_is_harmless(deployment):
    assert users.bootstrap({"RequestType": "Create"}) == {"PhysicalResourceId": "database-users"}
    deployment["client"].put_secret_value(
        SecretId=deployment["admin_arn"], SecretString=json.dumps({"username": deployment["admin"], "password": "pw-2"})
    )
    users.bootstrap({"RequestType": "Update"})  # e.g. a deploy after a rotation: same users, current passwords

    admin = databases.connect(login(deployment, "admin", "pw-2").url())
    admin.create_schema()
    app = databases.connect(login(deployment, "app", "app-pw-1").url())
    try:
        app.execute("INSERT INTO `departments` VALUES (1, 'Sales')")
        staging = app.create_staging(TABLES["departments"])
        app.execute(f"DROP TABLE `{staging}`")
        with pytest.raises(databases.DatabaseError, match="denied"):
            app.execute("DROP TABLE `departments`")
        assert app.query("SELECT department FROM `departments`") == [("Sales",)]
    finally:
        app.close()
        admin.close()
    with pytest.raises(pymysql.err.OperationalError):  # REQUIRE SSL: no plain login even with the password
        pymysql.connect(
            host=server_login().host,
            port=server_login().port,
            user=deployment["app"],
            password="app-pw-1",
            ssl_disabled=True,
        )


def test_a_delete_leaves_the_users_and_their_rights_in_place(deployment):
    users.bootstrap({"RequestType": "Create"})

    users.bootstrap({"RequestType": "Delete"})

    app = connect_as(login(deployment, "app", "app-pw-1"))
    with app.cursor() as cursor:
        cursor.execute("SHOW GRANTS")
        grants = " ".join(row[0] for row in cursor.fetchall())
    app.close()
    granted = re.search(r"GRANT ([A-Z ,]*) ON `[^`]*`\.\* TO", grants).group(1).split(", ")
    assert set(granted) == set(users.APP_PRIVILEGES)
    assert re.search(r"GRANT (ALTER, CREATE|CREATE, ALTER) ON `[^`]*`\.`hired_employees` TO", grants)


def test_the_bootstrap_creates_the_tables_so_the_first_request_after_a_deploy_finds_them(deployment):
    users.bootstrap({"RequestType": "Create"})
    users.bootstrap({"RequestType": "Update"})  # the tables exist now: creating them again changes nothing

    app = databases.connect(login(deployment, "app", "app-pw-1").url())
    try:
        app.execute("INSERT INTO `departments` VALUES (1, 'Sales')")
        for name in TABLES:
            assert app.query(f"SELECT COUNT(*) FROM `{name}`") == [(1 if name == "departments" else 0,)]
        assert app.query("SELECT COUNT(*) FROM `quarterly_hires`") == [(0,)]  # derived data too
    finally:
        app.close()
