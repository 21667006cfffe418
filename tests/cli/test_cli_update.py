"""`update TABLE ID --set field=value ...` and `truncate TABLE [--cascade]`: the API's path from the
command line, with its refusals as one line and exit status 1."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from chalicelib import db as databases
from chalicelib.cli.main import main
from chalicelib.loading import ingest
from chalicelib.reports import queries as reports
from chalicelib.rules.dictionary import DEPARTMENTS, HIRED_EMPLOYEES, JOBS


@pytest.fixture
def seeded(database_url):
    db = databases.connect(database_url)
    ingest.insert_batch(db, DEPARTMENTS, enumerate([{"id": 1, "department": "A"}, {"id": 2, "department": "B"}]), "t")
    ingest.insert_batch(db, JOBS, enumerate([{"id": 1, "job": "J"}]), "t")
    hire = {"id": 5, "name": "P", "datetime": "2021-01-05T00:00:00Z", "department_id": 1, "job_id": 1}
    ingest.insert_batch(db, HIRED_EMPLOYEES, enumerate([hire]), "t")
    yield db
    db.close()


def run(database_url, *args) -> int:
    return main(["--database", database_url, *args])


def test_update_sets_fields_and_prints_the_row(seeded, database_url, capsys):
    args = ("update", "hired_employees", "5", "--set", "department_id=2", "--set", "datetime=2021-08-01T00:00:00Z")
    assert run(database_url, *args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {
        "row": {"id": 5, "name": "P", "datetime": "2021-08-01T00:00:00Z", "department_id": 2, "job_id": 1},
        "changed": True,
    }
    assert seeded.get_row(HIRED_EMPLOYEES, 5) == (5, "P", datetime(2021, 8, 1), 2, 1)
    assert reports.hires_by_quarter(seeded, 2021) == [
        {"department": "B", "job": "J", "Q1": 0, "Q2": 0, "Q3": 1, "Q4": 0}
    ]
    assert run(database_url, *args) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False


@pytest.mark.parametrize(
    "args, message",
    [
        (("hired_employees", "5", "--set", "department_id=9"), "error: row rejected: department_id: departments 9"),
        (("hired_employees", "6", "--set", "name=Q"), "error: not found: hired_employees 6 does not exist"),
        (("departments", "1", "--set", "id=2"), "error: id cannot change: "),
        (("departments", "1", "--set", "department"), "error: --set takes field=value"),
        (("hired_employees", "5", "--set", "name=Q", "--replace"), "error: row rejected: datetime: is required"),
    ],
)
def test_update_refusals_are_one_line_and_exit_1(seeded, database_url, capsys, args, message):
    before = seeded.get_row(HIRED_EMPLOYEES, 5)
    code = run(database_url, "update", *args)
    err = capsys.readouterr().err
    assert code == 1 and err.startswith(message) and err.count("\n") == 1, err
    assert seeded.get_row(HIRED_EMPLOYEES, 5) == before


def test_update_replace_takes_every_field(seeded, database_url, capsys):
    assert run(database_url, "update", "departments", "1", "--replace", "--set", "department=B2") == 0
    assert seeded.get_row(DEPARTMENTS, 1) == (1, "B2")


def test_truncate_refuses_a_referenced_table_unless_cascading(seeded, database_url, capsys):
    assert run(database_url, "truncate", "jobs") == 1
    assert capsys.readouterr().err.startswith("error: table is referenced: jobs is referenced by hired_employees")
    assert run(database_url, "truncate", "jobs", "--cascade") == 0
    assert json.loads(capsys.readouterr().out) == {"truncated": {"hired_employees": 1, "jobs": 1}}
    assert seeded.counts()["departments"] == 2
