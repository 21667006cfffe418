"""Backups cross between the Glue jobs and the service's own backup code (chalicelib.backups.service): a
backup the job wrote restores through the API's restore, and an API backup through the job."""

from __future__ import annotations

from datetime import datetime

import backup_avro
import pytest
import restore_avro

from chalicelib.backups import restore as restores
from chalicelib.backups import service as backups
from chalicelib.db.mysql import MysqlDatabase
from chalicelib.rules import dictionary
from tests.glue.conftest import seed

EMPLOYEES = [
    (1, "Zoë", datetime(2021, 1, 1, 0, 0, 0), 1, 1),
    (2, "Bob", datetime(2021, 7, 1, 18, 45, 30), 2, 1),
]


@pytest.fixture
def seeded(sql):
    seed(sql, [(1, "Sales"), (2, "HR")], [(1, "Engineer")], EMPLOYEES)


@pytest.fixture
def service(target):
    db = MysqlDatabase.for_login(target.login)
    yield db
    db.close()


def everything(sql):
    return [sql(f"SELECT * FROM {t} ORDER BY id") for t in dictionary.LOAD_ORDER]


def test_a_glue_backup_restores_through_the_api(spark, target, sql, seeded, service, tmp_path):
    backup_avro.run_backup(spark, target, tmp_path.as_uri(), backup_id="20261122T000000000Z", read_partitions=2)
    before = everything(sql)
    sql("DELETE FROM hired_employees")
    sql("DELETE FROM departments WHERE id = 2")

    store = backups.open_store(str(tmp_path))
    restores.restore(service, store, "20261122T000000000Z", dictionary.DEPARTMENTS)
    restores.restore(service, store, "20261122T000000000Z", dictionary.HIRED_EMPLOYEES)

    assert everything(sql) == before


def test_an_api_backup_restores_through_the_glue_job(spark, target, sql, seeded, service, tmp_path):
    manifest = backups.create_backup(service, backups.open_store(str(tmp_path)))
    before = everything(sql)
    sql("UPDATE departments SET department = 'Changed' WHERE id = 1")
    sql("DELETE FROM hired_employees WHERE id = 2")

    folder = (tmp_path / "backups" / manifest["backup"]).as_uri()
    restore_avro.run_restore(spark, target, dictionary.DEPARTMENTS, folder)
    restore_avro.run_restore(spark, target, dictionary.HIRED_EMPLOYEES, folder + "/hired_employees.avro")

    assert everything(sql) == before
