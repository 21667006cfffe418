"""The jobs' entry points: parameters through getResolvedOptions, credentials from Secrets Manager or
a Glue connection (moto), never from the arguments."""

from __future__ import annotations

import json

import backup_avro
import boto3
import load_csv
import pytest
import restore_avro
from awsglue.utils import GlueArgumentError
from moto import mock_aws

from hrjobs import database, runtime
from tests.glue.conftest import LOCAL_JDBC_DRIVER


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def secret_arn(aws, target):
    secret = {
        "username": target.login.user,
        "password": target.login.password,
        "host": target.login.host,
        "port": target.login.port,
        "dbname": target.database,
        "engine": "mysql",
    }
    return boto3.client("secretsmanager").create_secret(Name="hr/db", SecretString=json.dumps(secret))["ARN"]


def test_jobs_run_from_their_arguments_with_credentials_from_secrets_manager(spark, target, sql, secret_arn, tmp_path):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "departments.csv").write_text("1,Sales\n2,HR\n")
    db_args = ["--DB_SECRET_ARN", secret_arn, "--JDBC_DRIVER", LOCAL_JDBC_DRIVER, "--DB_CA", target.login.ca]

    loaded = load_csv.main(
        ["load_csv.py", "--JOB_NAME", "hr-load", "--SOURCE", (incoming / "departments.csv").as_uri(), *db_args], spark
    )
    backed_up = backup_avro.main(
        [
            "backup_avro.py",
            "--BACKUP_ROOT",
            tmp_path.as_uri(),
            "--TABLES",
            "departments",
            "--BACKUP_ID",
            "m1",
            *db_args,
        ],
        spark,
    )
    sql("DELETE FROM departments WHERE id = 2")
    restored = restore_avro.main(
        ["restore_avro.py", "--TABLE", "departments", "--BACKUP", (tmp_path / "backups/m1").as_uri(), *db_args], spark
    )

    assert [(f["table"], f["inserted"], f["rejected"]) for f in loaded["files"]] == [("departments", 2, 0)]
    assert backed_up["manifest"]["tables"]["departments"]["rows"] == 2
    assert restored["rows"] == 2
    assert sql("SELECT id, department FROM departments ORDER BY id") == [(1, "Sales"), (2, "HR")]


def test_credentials_from_a_glue_connection_and_its_secret(aws, target):
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name="hr/glue", SecretString=json.dumps({"username": "app", "password": "s3cr3t"}))
    boto3.client("glue").create_connection(
        ConnectionInput={
            "Name": "hr-mysql",
            "ConnectionType": "JDBC",
            "ConnectionProperties": {"JDBC_CONNECTION_URL": "jdbc:mysql://db.internal:3307/hr", "SECRET_ID": "hr/glue"},
        }
    )

    found = database.target_from_job_arguments({"CONNECTION_NAME": "hr-mysql"})

    login = found.login
    assert (login.host, login.port, login.name, login.user, login.password) == (
        "db.internal",
        3307,
        "hr",
        "app",
        "s3cr3t",
    )
    assert login.tls and "sslMode=VERIFY_IDENTITY" in found.jdbc_url()
    assert found.driver == database.GLUE_JDBC_DRIVER
    assert "s3cr3t" not in repr(found)


def test_secret_host_and_database_can_be_overridden(aws):
    arn = boto3.client("secretsmanager").create_secret(
        Name="rds-managed", SecretString=json.dumps({"username": "u", "password": "p"})
    )["ARN"]

    found = database.target_from_job_arguments({"DB_SECRET_ARN": arn, "DB_HOST": "proxy.internal", "DB_NAME": "hr"})

    assert (found.login.host, found.login.port, found.database) == ("proxy.internal", 3306, "hr")
    with pytest.raises(database.CredentialsError, match="host, dbname"):
        database.target_from_job_arguments({"DB_SECRET_ARN": arn})


@pytest.mark.parametrize(
    "args, message",
    [
        ({}, "no database credentials"),
        ({"DB_SECRET_ARN": "arn:x", "CONNECTION_NAME": "c"}, "not both"),
        ({"DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing"}, "cannot read secret"),
        ({"CONNECTION_NAME": "missing"}, "cannot read Glue connection"),
    ],
)
def test_missing_or_ambiguous_credentials_stop_the_job(aws, args, message):
    with pytest.raises(database.CredentialsError, match=message):
        database.target_from_job_arguments(args)


def test_arguments_are_resolved_by_glue_with_defaults_for_optional_ones():
    args = runtime.job_arguments(
        ["load_csv.py", "--SOURCE", "s3://b/incoming/jobs.csv", "--WRITE_CONNECTIONS", "8"],
        load_csv.REQUIRED,
        load_csv.OPTIONAL,
    )

    assert args["SOURCE"] == "s3://b/incoming/jobs.csv"
    assert args["WRITE_CONNECTIONS"] == "8" and args["READ_PARTITIONS"] == "4" and args["TABLE"] is None
    with pytest.raises(GlueArgumentError, match="--SOURCE"):
        runtime.job_arguments(["load_csv.py"], load_csv.REQUIRED, load_csv.OPTIONAL)


def test_each_jdbc_driver_gets_its_verifying_tls_options(target):
    from dataclasses import replace

    connector_j = database.MysqlTarget(replace(target.login, ca=None), database.GLUE_JDBC_DRIVER)
    assert "sslMode=VERIFY_IDENTITY" in connector_j.jdbc_url()
    assert "sslMode=DISABLED" in database.MysqlTarget(replace(target.login, tls=False, ca=None)).jdbc_url()
    assert f"useSsl=true&serverSslCert={target.login.ca}" in target.jdbc_url()
    with pytest.raises(database.CredentialsError, match="trust store"):
        database.tls_url_options(target.login, database.GLUE_JDBC_DRIVER)
    with pytest.raises(database.CredentialsError, match="unknown JDBC driver"):
        database.tls_url_options(target.login, "org.example.Driver")


def test_jdbc_refuses_a_server_its_trust_store_cannot_verify(spark, target):
    from dataclasses import replace

    # The JVM's trust store does not hold the suite's CA: the driver must refuse, not just encrypt.
    unverified = database.MysqlTarget(replace(target.login, ca=None), target.driver)
    with pytest.raises(Exception, match="(?i)certif|SSL|PKIX"):
        database.read_query(spark, unverified, "SELECT 1 AS one").collect()
    assert database.read_query(spark, target, "SELECT 1 AS one").first()["one"] == 1
