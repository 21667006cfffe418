"""Updating rows and emptying tables through `loading.updates` and `Database`, on both backends: the
rules, idempotence, the reports' summary after every kind of move, truncation with and without cascade,
and concurrent updates of one row on MySQL."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime

import pytest

from chalicelib import db as databases
from chalicelib.loading import updates
from chalicelib.rules.dictionary import DEPARTMENTS, HIRED_EMPLOYEES, JOBS
from tests.reports.workload import YEARS, assert_summary_exact, generate, load


def summary_table(db) -> dict[tuple, tuple]:
    q = db.q
    rows = db.query(
        f"SELECT {q('year')}, {q('department_id')}, {q('job_id')}, {q('q1')}, {q('q2')}, {q('q3')}, {q('q4')} "
        f"FROM {q('quarterly_hires')}"
    )
    return {tuple(int(v) for v in r[:3]): tuple(int(v) for v in r[3:]) for r in rows}


def grouped_hires(db) -> dict[tuple, tuple]:
    """The summary as a plain GROUP BY over every stored hire would have it, computed here."""
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for _, _, when, department, job in db.iter_rows(HIRED_EMPLOYEES):
        counts[(when.year, department, job)][(when.month - 1) // 3] += 1
    return {key: tuple(quarters) for key, quarters in counts.items()}


def assert_summary_matches_the_rows(db):
    assert summary_table(db) == grouped_hires(db)
    assert_summary_exact(db, YEARS + (2024,))


@pytest.fixture
def loaded(db):
    departments, jobs, employees = generate(11, employees=150)
    load(db, departments, jobs, employees)
    assert_summary_matches_the_rows(db)
    return db


def patch(db, table, key, **fields):
    return updates.update_row(db, table, key, fields, replace=False)


def test_every_kind_of_move_keeps_the_summary_equal_to_a_group_by(loaded):
    db = loaded
    before = dict(zip(HIRED_EMPLOYEES.column_names, db.get_row(HIRED_EMPLOYEES, 40)))
    moves = [
        {"datetime": "2021-02-10T08:00:00Z"},  # into Q1 2021
        {"datetime": "2021-11-10T08:00:00Z"},  # to Q4, same year
        {"datetime": "2024-05-01T00:00:00+02:00"},  # to another year, with an offset
        {"department_id": 3 if before["department_id"] != 3 else 4},  # another department
        {"job_id": 5 if before["job_id"] != 5 else 6},  # another job
        {"department_id": 2, "job_id": 2, "datetime": "2021-07-01T00:00:00Z"},  # all at once
        {"name": "Renamed Person"},  # no summary change at all
    ]
    for move in moves:
        result = patch(db, HIRED_EMPLOYEES, 40, **move)
        assert result is not None and result.changed, move
        assert_summary_matches_the_rows(db)
    stored = db.get_row(HIRED_EMPLOYEES, 40)
    assert stored == (40, "Renamed Person", datetime(2021, 7, 1), 2, 2)


def test_moving_the_only_hire_of_a_cell_leaves_no_empty_summary_row(db):
    load(
        db,
        [{"id": 1, "department": "A"}, {"id": 2, "department": "B"}],
        [{"id": 1, "job": "J"}],
        [{"id": 1, "name": "P", "datetime": "2021-01-05T00:00:00Z", "department_id": 1, "job_id": 1}],
    )
    patch(db, HIRED_EMPLOYEES, 1, department_id=2, datetime="2021-08-05T00:00:00Z")
    assert summary_table(db) == {(2021, 2, 1): (0, 0, 1, 0)}
    patch(db, HIRED_EMPLOYEES, 1, datetime="2021-09-05T00:00:00Z")  # same cell, same quarter
    assert summary_table(db) == {(2021, 2, 1): (0, 0, 1, 0)}


def test_a_replace_needs_every_field_and_the_same_put_twice_is_one_change(loaded):
    db = loaded
    row = {"name": "New Name", "datetime": "2022-03-03T03:03:03Z", "department_id": 1, "job_id": 1}
    first = updates.update_row(db, HIRED_EMPLOYEES, 7, row, replace=True)
    second = updates.update_row(db, HIRED_EMPLOYEES, 7, dict(row, id=7), replace=True)
    assert (first.changed, second.changed) == (True, False)
    assert first.row == second.row == dict(row, id=7)
    assert_summary_matches_the_rows(db)
    with pytest.raises(updates.UpdateRejected) as refused:
        updates.update_row(db, HIRED_EMPLOYEES, 7, {"name": "Only a name"}, replace=True)
    assert refused.value.reasons == ["datetime: is required", "department_id: is required", "job_id: is required"]


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"department_id": 999}, "department_id: departments 999 does not exist"),
        ({"job_id": 999}, "job_id: jobs 999 does not exist"),
        ({"datetime": "2021-02-30T10:00:00Z"}, "datetime: must be an ISO 8601"),
        ({"name": "x" * 256}, "name: must be at most 255 characters"),
        ({"name": "   "}, "name: is required"),
        ({"department_id": None}, "department_id: is required"),
        ({"department_id": -3}, "department_id: must be a whole positive number"),
        ({"salary": 10}, "unknown field(s): salary"),
    ],
)
def test_an_update_breaking_a_rule_is_refused_with_the_reason_and_changes_nothing(loaded, fields, reason):
    db = loaded
    before, rejections = db.get_row(HIRED_EMPLOYEES, 9), db.counts()["rejections"]
    with pytest.raises(updates.UpdateRejected) as refused:
        updates.update_row(db, HIRED_EMPLOYEES, 9, fields, replace=False)
    assert any(r.startswith(reason) for r in refused.value.reasons), refused.value.reasons
    assert db.get_row(HIRED_EMPLOYEES, 9) == before
    assert db.counts()["rejections"] == rejections  # answered to the caller, not logged
    assert_summary_matches_the_rows(db)


def test_ids_never_change_and_a_missing_row_is_none(loaded):
    db = loaded
    with pytest.raises(updates.IdChangeRefused):
        patch(db, DEPARTMENTS, 1, id=2, department="Two")
    with pytest.raises(updates.IdChangeRefused):
        updates.update_row(db, JOBS, 1, {"id": "3", "job": "Three"}, replace=True)
    assert patch(db, DEPARTMENTS, 1, id=1, department="Renamed").row == {"id": 1, "department": "Renamed"}
    assert patch(db, DEPARTMENTS, 4242, department="Nobody") is None
    assert db.get_row(DEPARTMENTS, 4242) is None
    with pytest.raises(updates.EmptyUpdate):
        patch(db, DEPARTMENTS, 1, id=1)


def test_renaming_a_department_changes_the_reports_names_not_their_counts(loaded):
    db = loaded
    counts = summary_table(db)
    patch(db, DEPARTMENTS, 1, department="Aaa First Now")
    assert summary_table(db) == counts
    assert_summary_matches_the_rows(db)


# -- truncate -------------------------------------------------------------------------------------


def test_a_referenced_table_is_not_truncated_without_cascade(loaded):
    db = loaded
    before = db.counts()
    with pytest.raises(databases.ReferencedTable) as refused:
        updates.truncate_table(db, DEPARTMENTS)
    assert refused.value.referencing == {"hired_employees": before["hired_employees"]}
    assert db.counts() == before
    assert_summary_matches_the_rows(db)


def test_cascade_truncates_the_dependents_first_and_empties_the_summary(loaded):
    db = loaded
    before = db.counts()
    deleted = updates.truncate_table(db, JOBS, cascade=True)
    assert deleted == {"hired_employees": before["hired_employees"], "jobs": before["jobs"]}
    after = db.counts()
    assert (after["hired_employees"], after["jobs"], after["departments"]) == (0, 0, before["departments"])
    assert summary_table(db) == {}
    assert updates.truncate_table(db, JOBS, cascade=True) == {"hired_employees": 0, "jobs": 0}  # again: a no-op


def test_truncating_hires_empties_the_summary_and_leaves_a_referenced_table_free(loaded):
    db = loaded
    assert updates.truncate_table(db, HIRED_EMPLOYEES)["hired_employees"] > 0
    assert summary_table(db) == {}
    assert_summary_matches_the_rows(db)
    assert updates.truncate_table(db, DEPARTMENTS)["departments"] == 15


def test_a_failed_truncate_leaves_every_table_as_it_was(loaded, monkeypatch):
    db = loaded
    before, summary = db.counts(), summary_table(db)

    def fail(counts):
        raise RuntimeError("disk full")

    monkeypatch.setattr(db, "_replace_quarterly_hires", fail)
    with pytest.raises(RuntimeError):
        updates.truncate_table(db, DEPARTMENTS, cascade=True)
    assert db.counts() == before and summary_table(db) == summary


# -- concurrency (MySQL: row locks) ---------------------------------------------------------------


def test_concurrent_updates_of_one_row_lose_no_field_and_keep_the_summary_exact(mysql_db):
    db = mysql_db
    load(
        db,
        [{"id": d, "department": f"D{d}"} for d in (1, 2, 3)],
        [{"id": j, "job": f"J{j}"} for j in (1, 2, 3)],
        [{"id": 1, "name": "Moved", "datetime": "2021-01-15T00:00:00Z", "department_id": 1, "job_id": 1}],
    )
    rounds = 25
    writers = {
        "datetime": [f"2021-{m:02d}-15T00:00:00Z" for m in (2, 5, 8, 11)],
        "department_id": [1, 2, 3],
        "job_id": [1, 2, 3],
    }
    barrier = threading.Barrier(len(writers))
    failures: list[BaseException] = []

    def write(field: str, values: list) -> None:
        try:
            barrier.wait()
            for i in range(rounds):
                updates.update_row(db, HIRED_EMPLOYEES, 1, {field: values[i % len(values)]}, replace=False)
        except BaseException as exc:  # the main thread reports it
            failures.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=write, args=item) for item in writers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    last = {field: values[(rounds - 1) % len(values)] for field, values in writers.items()}
    row = db.get_row(HIRED_EMPLOYEES, 1)
    assert row == (1, "Moved", datetime.fromisoformat(last["datetime"][:-1]), last["department_id"], last["job_id"])
    assert summary_table(db) == grouped_hires(db) == {(2021, last["department_id"], last["job_id"]): (1, 0, 0, 0)}
