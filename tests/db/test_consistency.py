"""The consistency check (`Database.check_consistency`, `python -m chalicelib.cli check`): each invariant
broken by hand, with raw SQL that bypasses the service's write paths, is found; a healthy database passes."""

from __future__ import annotations

import json

import pytest

from chalicelib import db as databases
from chalicelib.cli import main as cli
from chalicelib.db import consistency
from chalicelib.loading import ingest
from chalicelib.rules.dictionary import DEPARTMENTS, HIRED_EMPLOYEES, JOBS

EMPLOYEES = [
    {"id": i, "name": f"Person {i}", "datetime": f"2021-0{i}-07T02:48:42Z", "department_id": 1, "job_id": 1}
    for i in (1, 2, 3)
]
ORPHAN = {"id": 7, "name": "Orphan", "datetime": "2021-05-01T00:00:00Z", "department_id": 2, "job_id": 1}


@pytest.fixture
def healthy(db):
    """Departments, jobs, employees, and one legitimate rejection (an employee of a missing department)."""
    ingest.insert_batch(db, DEPARTMENTS, enumerate([{"id": 1, "department": "Engineering"}]), "t")
    ingest.insert_batch(db, JOBS, enumerate([{"id": 1, "job": "DBA Lead"}]), "t")
    result = ingest.insert_batch(db, HIRED_EMPLOYEES, enumerate([*EMPLOYEES, ORPHAN]), "t")
    assert result.inserted == 3 and len(result.rejected) == 1
    return db


def failing_checks(db) -> dict[str, list[str]]:
    found = db.check_consistency()
    assert found.ok == (not any(found.counts.values()))
    return {name: problems for name, problems in found.problems.items() if problems}


def check_command(db_url: str, capsys) -> tuple[int, str]:
    status = cli.main(["--database", db_url, "check"])
    return status, capsys.readouterr().out


def test_a_database_written_only_through_the_service_passes_every_check(healthy, database_url, capsys):
    assert failing_checks(healthy) == {}
    status, out = check_command(database_url, capsys)
    assert status == 0 and out.splitlines() == ["summary: ok", "references: ok", "rejections: ok"]


def test_a_summary_that_differs_from_the_table_is_found(healthy, database_url, capsys):
    healthy.execute("UPDATE quarterly_hires SET q2 = q2 + 1 WHERE year = 2021")
    assert list(failing_checks(healthy)) == ["summary"]
    status, out = check_command(database_url, capsys)
    assert status == 1 and "summary: 1 problem(s)" in out and "(2021, department 1, job 1)" in out


def test_a_summary_row_missing_for_stored_hires_is_found(healthy):
    healthy.execute("DELETE FROM quarterly_hires")
    problems = failing_checks(healthy)
    assert list(problems) == ["summary"] and "the summary has no row" in problems["summary"][0]


def test_an_employee_naming_a_department_that_does_not_exist_is_found(healthy, database_url, capsys):
    # The foreign keys forbid this; a write with reference checks off (a restore, a Glue job) could not.
    if healthy.dialect == "mysql":
        healthy.execute("SET SESSION foreign_key_checks = 0")
        healthy.execute("UPDATE hired_employees SET department_id = 42 WHERE id = 2")
        healthy.execute("SET SESSION foreign_key_checks = 1")
    else:
        healthy.execute("PRAGMA foreign_keys = OFF")
        healthy.execute("UPDATE hired_employees SET department_id = 42 WHERE id = 2")
        healthy.execute("PRAGMA foreign_keys = ON")
    healthy.rebuild_derived()  # only the reference is broken
    problems = failing_checks(healthy)
    assert problems == {"references": ["hired_employees.department_id = 42: no such departments row"]}
    status, out = check_command(database_url, capsys)
    assert status == 1 and "references: 1 problem(s)" in out


def test_a_rejection_whose_row_is_stored_as_logged_is_found_stale(healthy, database_url, capsys):
    # Department 2 and the rejected employee written around the service: its entry is not cleared.
    healthy.execute("INSERT INTO departments (id, department) VALUES (2, 'Sales')")
    healthy.execute(
        "INSERT INTO hired_employees (id, name, datetime, department_id, job_id) "
        "VALUES (7, 'Orphan', '2021-05-01 00:00:00', 2, 1)"
    )
    healthy.rebuild_derived()
    problems = failing_checks(healthy)
    assert (
        list(problems) == ["rejections"]
        and "hired_employees 7 is stored as logged (stale)" in problems["rejections"][0]
    )
    status, out = check_command(database_url, capsys)
    assert status == 1 and "rejections: 1 problem(s)" in out


def test_a_rejection_of_a_different_row_with_a_stored_id_is_not_stale(healthy):
    # A second delivery of id 1 with other values is rejected: that entry is "not stored, and why".
    other = dict(EMPLOYEES[0], name="Someone Else")
    assert len(ingest.insert_batch(healthy, HIRED_EMPLOYEES, [(0, other)], "again").rejected) == 1
    assert failing_checks(healthy) == {}


def test_a_rejection_naming_a_table_outside_the_dictionary_is_found(healthy):
    healthy.execute("UPDATE rejections SET table_name = 'contractors'")
    problems = failing_checks(healthy)
    assert (
        list(problems) == ["rejections"] and "'contractors' is not in the data dictionary" in problems["rejections"][0]
    )


def test_check_json_output_lists_counts_per_check(healthy, database_url, capsys):
    healthy.execute("DELETE FROM quarterly_hires")
    assert cli.main(["--database", database_url, "check", "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["ok"] is False and answer["checks"]["summary"]["problems"] == 1
    assert answer["checks"]["references"] == {"problems": 0, "shown": []}


def test_the_scheduled_check_logs_an_error_naming_what_is_off(healthy, database_url, caplog):
    assert consistency.run_scheduled(database_url)["ok"] is True
    healthy.execute("DELETE FROM quarterly_hires")
    with caplog.at_level("INFO", logger="hr-migration"):
        found = consistency.run_scheduled(database_url)
    assert found["ok"] is False and found["checks"]["summary"]["problems"] == 1
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in errors] == ["consistency check: something is off"]
    databases.forget(database_url)


def test_check_can_rebuild_a_summary_that_is_off_and_then_passes(healthy, database_url, capsys):
    healthy.execute("UPDATE quarterly_hires SET q1 = q1 + 5")
    assert cli.main(["--database", database_url, "check", "--rebuild-summary"]) == 0
    captured = capsys.readouterr()
    assert "summary rebuilt" in captured.err and "summary: ok" in captured.out
    assert failing_checks(healthy) == {}


def test_rebuilding_the_summary_leaves_other_problems_reported(healthy, database_url, capsys):
    healthy.execute("UPDATE rejections SET table_name = 'contractors'")
    assert cli.main(["--database", database_url, "check", "--rebuild-summary"]) == 1
    captured = capsys.readouterr()
    assert "summary rebuilt" not in captured.err and "rejections: 1 problem(s)" in captured.out
