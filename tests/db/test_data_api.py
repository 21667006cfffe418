"""The RDS Data API backend against the local emulator: URLs, wire values, transactions, errors, refusals."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib import db as databases
from chalicelib.db.data_api import BulkLoadRefused, DataApiDatabase, named
from chalicelib.rules.dictionary import TABLES
from tests.db.data_api_emulator import CLUSTER_ARN, SECRET_ARN

EMPLOYEES = TABLES["hired_employees"]


@pytest.fixture
def data_api_db(data_api_url, mysql_admin_url):
    admin = databases.connect(mysql_admin_url)  # schema changes are the admin user's, as everywhere
    admin.drop_schema()
    admin.create_schema()
    admin.close()
    database = databases.connect(data_api_url)
    yield database
    database.close()


def test_the_url_names_cluster_database_and_secret():
    database = databases.connect(f"rds-data://{CLUSTER_ARN}/hr?secret={SECRET_ARN}")
    assert isinstance(database, DataApiDatabase)
    assert (database.resource_arn, database.database, database.secret_arn) == (CLUSTER_ARN, "hr", SECRET_ARN)


@pytest.mark.parametrize(
    "url",
    [
        f"rds-data://{CLUSTER_ARN}/hr",  # no secret
        f"rds-data://{CLUSTER_ARN}/?secret={SECRET_ARN}",  # no database
        f"rds-data://hr-cluster/hr?secret={SECRET_ARN}",  # not an ARN
    ],
)
def test_an_incomplete_url_is_refused(url):
    with pytest.raises(databases.InvalidDatabaseUrl):
        databases.connect(url)


def test_placeholders_become_named_parameters_and_percent_stays_literal():
    sql, parameters = named("SELECT %s, '100%%' WHERE a = %s", [1, datetime(2021, 1, 2, 3, 4, 5)])
    assert sql == "SELECT :p0, '100%' WHERE a = :p1"
    assert parameters == [
        {"name": "p0", "value": {"longValue": 1}},
        {"name": "p1", "value": {"stringValue": "2021-01-02 03:04:05"}, "typeHint": "TIMESTAMP"},
    ]


def test_rows_round_trip_with_their_types(data_api_db):
    data_api_db.insert_rows(TABLES["departments"], [(1, "Engineering")])
    data_api_db.insert_rows(TABLES["jobs"], [(1, "DBA Lead")])
    data_api_db.insert_rows(EMPLOYEES, [(1, "Ana Pérez ' OR 1=1 --", datetime(2021, 11, 7, 2, 48, 42), 1, 1)])
    assert data_api_db.get_row(EMPLOYEES, 1) == (1, "Ana Pérez ' OR 1=1 --", datetime(2021, 11, 7, 2, 48, 42), 1, 1)
    assert data_api_db.quarterly_hires(2021) == [(1, "Engineering", 1, "DBA Lead", 0, 0, 0, 1)]


def test_a_failed_transaction_is_rolled_back_through_the_api(data_api_db, data_api_emulator):
    data_api_db.insert_rows(TABLES["departments"], [(1, "Engineering")])
    start = len(data_api_emulator.calls)
    with pytest.raises(databases.IntegrityConflict), data_api_db.transaction():
        data_api_db.insert_rows(TABLES["departments"], [(2, "Sales")])
        data_api_db.insert_rows(TABLES["departments"], [(1, "Again")])
    calls = data_api_emulator.calls[start:]
    assert (calls[0], calls[-1]) == ("BeginTransaction", "RollbackTransaction")
    assert data_api_db.counts()["departments"] == 1


def test_many_rows_go_in_as_batches_within_the_request_limit(data_api_db, data_api_emulator, monkeypatch):
    from chalicelib.db import data_api

    monkeypatch.setattr(data_api, "BATCH_REQUEST_BYTES", 2000)
    before = data_api_emulator.calls.count("BatchExecuteStatement")
    data_api_db.insert_rows(TABLES["jobs"], [(i, f"job {i}") for i in range(1, 201)])
    assert data_api_db.counts()["jobs"] == 200
    assert data_api_emulator.calls.count("BatchExecuteStatement") - before > 1


def test_a_referenced_row_cannot_be_deleted(data_api_db):
    data_api_db.insert_rows(TABLES["departments"], [(1, "Engineering")])
    data_api_db.insert_rows(TABLES["jobs"], [(1, "DBA Lead")])
    data_api_db.insert_rows(EMPLOYEES, [(1, "Ana", datetime(2021, 1, 1), 1, 1)])
    with pytest.raises(databases.ReferencedRow):
        data_api_db.delete_row(TABLES["departments"], 1)


def test_a_wrong_secret_is_database_unavailable(data_api_url):
    database = databases.connect(data_api_url.replace("hr-test-db", "someone-else"))
    with pytest.raises(databases.DatabaseUnavailable, match="SecretsErrorException"):
        database.counts()


def test_an_unreachable_endpoint_is_retryable_unavailability(data_api_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(databases.DatabaseUnavailable) as caught:
        databases.connect(data_api_url).ping()
    assert caught.value.retryable


def test_restores_are_refused_with_the_paths_that_can_run_them(data_api_db):
    with pytest.raises(BulkLoadRefused, match="Glue|mysql://"):
        data_api_db.replace_tables({TABLES["jobs"]: [[(1, "DBA Lead")]]})
    assert data_api_db.counts()["jobs"] == 0


def test_a_result_over_the_size_limit_is_a_database_error_not_a_crash(data_api_db):
    with pytest.raises(databases.DatabaseError, match="size limit"):
        data_api_db.query("SELECT REPEAT('x', 1100000)")
