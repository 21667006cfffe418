"""The database backends: schema, keys, transactions, reconnects, credentials."""

from __future__ import annotations

import json
from datetime import datetime

import boto3
import pytest
from moto import mock_aws

from chalicelib import db as databases
from chalicelib.loading import ingest
from chalicelib.rules.dictionary import DEPARTMENTS, HIRED_EMPLOYEES, JOBS
from chalicelib.runtime import settings
from tests.conftest import connect_as, server_login


def seed(db):
    with db.transaction():
        db.insert_rows(DEPARTMENTS, [(1, "Engineering")])
        db.insert_rows(JOBS, [(1, "DBA Lead")])


def test_schema_creation_is_idempotent_and_keeps_data(db, admin_db):
    seed(db)
    admin_db.create_schema()
    admin_db.create_schema()
    assert db.counts()["departments"] == 1


def test_primary_keys_are_enforced_by_the_database(db):
    seed(db)
    with pytest.raises(databases.IntegrityConflict), db.transaction():
        db.insert_rows(DEPARTMENTS, [(1, "Again")])


def test_foreign_keys_are_enforced_by_the_database(db):
    seed(db)
    with pytest.raises(databases.IntegrityConflict), db.transaction():
        db.insert_rows(HIRED_EMPLOYEES, [(1, "Ana", datetime(2021, 1, 1), 99, 1)])
    assert db.counts()["hired_employees"] == 0


def test_a_failed_transaction_leaves_nothing_behind(db):
    with pytest.raises(RuntimeError), db.transaction():
        db.insert_rows(DEPARTMENTS, [(1, "Engineering")])
        with db.transaction():  # nested blocks join the outer transaction
            db.insert_rows(JOBS, [(1, "DBA Lead")])
        raise RuntimeError("boom")
    assert db.counts() == {"departments": 0, "jobs": 0, "hired_employees": 0, "rejections": 0}


def test_datetimes_round_trip_as_utc_with_seconds(db):
    seed(db)
    with db.transaction():
        db.insert_rows(HIRED_EMPLOYEES, [(1, "Ana", datetime(2021, 12, 31, 23, 59, 59), 1, 1)])
    assert db.get_row(HIRED_EMPLOYEES, 1) == (1, "Ana", datetime(2021, 12, 31, 23, 59, 59), 1, 1)


def test_iter_rows_pages_through_a_table_in_id_order(db):
    with db.transaction():
        db.insert_rows(DEPARTMENTS, [(i, f"D{i}") for i in range(1, 26)])
    assert [r[0] for r in db.iter_rows(DEPARTMENTS, batch=7)] == list(range(1, 26))


def test_stored_rows_are_exactly_the_wanted_ones_whether_read_by_range_or_by_id_lists(db):
    with db.transaction():
        db.insert_rows(DEPARTMENTS, [(i, f"D{i}") for i in range(1, 3001)])
    # Over a thousand ids spanning less than four times their number: read by one range scan.
    dense = set(range(1, 2001, 2)) | set(range(2001, 2600)) | {5000}
    stored = db.stored_rows(DEPARTMENTS, dense)
    assert set(stored) == dense - {5000}
    assert stored[7] == (7, "D7")
    assert set(db.stored_rows(DEPARTMENTS, [1, 1500, 2999, 4000])) == {1, 1500, 2999}
    assert db.stored_rows(DEPARTMENTS, []) == {}


def test_a_restore_without_rows_empties_the_table_and_its_summary(db):
    seed(db)
    with db.transaction():
        db.insert_rows(HIRED_EMPLOYEES, [(1, "Ana", datetime(2021, 2, 1), 1, 1), (2, "Bo", datetime(2021, 8, 1), 1, 1)])
    assert db.quarterly_hires(2021) == [(1, "Engineering", 1, "DBA Lead", 1, 0, 1, 0)]
    # On MySQL the table is merged over, and the ids the restore did not bring (all) are deleted by range.
    assert db.replace_tables({HIRED_EMPLOYEES: [[]]}) == {"hired_employees": 0}
    assert db.counts()["hired_employees"] == 0
    assert db.counts()["departments"] == 1
    assert db.quarterly_hires(2021) == []


def test_mysql_schema_has_keys_and_foreign_keys(mysql_admin_url):
    database = databases.connect(mysql_admin_url)
    database.drop_schema()
    database.create_schema()
    rows = database.query(
        "SELECT TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME FROM information_schema.KEY_COLUMN_USAGE "
        "WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY COLUMN_NAME"
    )
    assert rows == [("hired_employees", "department_id", "departments"), ("hired_employees", "job_id", "jobs")]
    types = dict(
        database.query(
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'hired_employees'"
        )
    )
    assert types["datetime"] == "datetime" and types["id"] == "int"


def test_mysql_create_schema_creates_a_missing_database(mysql_database):
    fresh = server_login(mysql_database + "_fresh")
    database = databases.connect(fresh.url())
    try:
        database.create_schema()
        assert database.counts()["departments"] == 0
    finally:
        database.execute(f"DROP DATABASE IF EXISTS `{fresh.name}`")
        database.close()


def test_mysql_reconnects_after_the_server_closed_the_connection(mysql_db, mysql_url):
    database = databases.for_url(mysql_url)
    connection_id = database.query("SELECT CONNECTION_ID()")[0][0]
    killer = connect_as(databases.login_from_url(mysql_url))  # a user may end its own connections
    with killer.cursor() as cur:
        cur.execute(f"KILL {int(connection_id)}")
    killer.close()
    # The next unit of work hits "server has gone away", reconnects and succeeds.
    result = ingest.insert_batch(database, DEPARTMENTS, [(0, ["1", "Engineering"])], source="test")
    assert result.inserted == 1
    assert database.query("SELECT CONNECTION_ID()")[0][0] != connection_id
    databases.forget(mysql_url)


def test_an_unreachable_mysql_is_database_unavailable():
    database = databases.connect("mysql://root@127.0.0.1:1/nowhere")
    with pytest.raises(databases.DatabaseUnavailable):
        database.counts()


@pytest.mark.parametrize("url", ["postgres://x/y", "sqlite:///", "mysql://host-without-db", "nonsense"])
def test_unsupported_urls_are_refused_clearly(url):
    with pytest.raises(databases.InvalidDatabaseUrl):
        databases.connect(url)


@mock_aws
def test_aws_credentials_come_from_secrets_manager_and_are_cached(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arn = client.create_secret(
        Name="hr/db",
        SecretString=json.dumps(
            {"username": "hr_app", "password": "p@ss/word:1", "host": "db.internal", "port": 3307, "dbname": "hr"}
        ),
    )["ARN"]
    settings.forget_secrets()
    env = {"DB_SECRET_ARN": arn, "DB_HOST": "proxy.internal", "DATABASE_URL": "sqlite:///ignored.db"}
    url = settings.Settings.from_env(env).database_url
    assert url == "mysql://hr_app:p%40ss%2Fword%3A1@proxy.internal:3307/hr?tls=true"
    database = databases.connect(url)
    assert (database.user, database._password, database.host, database.port, database.tls) == (
        "hr_app",
        "p@ss/word:1",
        "proxy.internal",
        3307,
        True,
    )
    client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert settings.Settings.from_env(env).database_url == url  # cached per container
    settings.forget_secrets()


def test_the_database_login_comes_from_the_secret_with_overrides_and_names_what_is_missing():
    secret = {"username": "hr_app", "password": "pw", "host": "db.internal", "port": "3307", "dbname": "hr_prod"}
    assert settings.database_login(secret) == settings.DatabaseLogin("db.internal", 3307, "hr_prod", "hr_app", "pw")
    assert settings.database_login(secret, "proxy", "other").host == "proxy"
    assert settings.database_login({"username": "u", "password": "p"}, "proxy", default_name="hr").name == "hr"
    with pytest.raises(settings.ConfigurationError, match="lacks password, host, dbname"):
        settings.database_login({"username": "u"})
    assert "pw" not in repr(settings.database_login(secret))


def test_tls_is_off_only_when_asked_and_a_bad_flag_is_refused():
    assert databases.connect("mysql://u@h:3306/db").tls is False
    assert databases.connect("mysql://u@h:3306/db?tls=true").tls is True
    with pytest.raises(databases.InvalidDatabaseUrl):
        databases.connect("mysql://u@h:3306/db?tls=maybe")


def test_without_a_secret_the_local_database_url_is_used():
    assert settings.Settings.from_env({"DATABASE_URL": "sqlite:///x.db"}).database_url == "sqlite:///x.db"
    assert settings.Settings.from_env({}).database_url == settings.DEFAULT_LOCAL_DATABASE


def test_key_runs_merge_chunks_in_any_order_and_catch_a_repeated_id():
    from chalicelib.db.errors import RowsRejected, TooScattered
    from chalicelib.db.restore import KeyRuns
    from chalicelib.db.staging import id_runs

    assert id_runs([3, 1, 2, 2, 7, 9, 8, 12]) == [(1, 3), (7, 9), (12, 12)]
    keys = KeyRuns(HIRED_EMPLOYEES, limit=3)
    keys.add(id_runs([5, 6, 7]))
    keys.add([])  # a chunk without rows
    keys.add(id_runs([8, 9, 20]))
    keys.add(id_runs([1, 2]))
    assert keys.runs == [(1, 2), (5, 9), (20, 20)]
    assert keys.gaps() == [(None, 0), (3, 4), (10, 19), (21, None)]
    with pytest.raises(RowsRejected):
        keys.add(id_runs([19, 20]))
    with pytest.raises(RowsRejected):
        keys.add(None)  # a chunk repeating an id within itself
    with pytest.raises(TooScattered):
        keys.add(id_runs([30]))
    assert KeyRuns(HIRED_EMPLOYEES, limit=3).gaps() == [(None, None)]
