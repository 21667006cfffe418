"""The CSV load job: the API's rules, applied by Spark, idempotent on re-runs."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import load_csv
import pytest

from chalicelib.rules import validation

EMPLOYEES = [
    "1,Alice,2021-11-07T02:48:42Z,1,1",  # 1 inserted
    "2,Bob,2021-11-07T02:48:42+02:00,2,2",  # 2 inserted, stored in UTC
    "",  # 3 blank: not a row
    "3,,2021-01-01T00:00:00Z,1,1",  # 4 name missing
    "4,Carl,not-a-date,1,1",  # 5 not ISO 8601
    "5,Dan,2021-01-01T00:00:00Z,99,1",  # 6 no department 99
    "6,Eve,2021-01-01T00:00:00Z,1,77",  # 7 no job 77
    "1,Alice again,2021-11-07T02:48:42Z,1,1",  # 8 id repeated in the file
    "100,Ann,2021-01-01T10:00:00Z,1,1",  # 9 identical to the stored row: no-op
    "101,Changed,2021-01-01T10:00:00Z,1,1",  # 10 id stored with other values
    "-7,Neg,2021-01-01T00:00:00Z,1,1",  # 11 not a positive integer
    "8,Too,many,fields,1,1",  # 12 six fields
    '9,"Quoted, Name",2021-03-01T12:00:00Z,1,2',  # 13 inserted, comma inside quotes
    "10,  Padded  ,2021-03-01T12:00:00",  # 14 three fields
    "11,  Padded  ,2021-03-01T12:00:00,2,1",  # 15 inserted, name stripped, no offset = UTC
]
EXPECTED_REASONS = {
    4: ["name: is required"],
    5: ["datetime: must be an ISO 8601 date and time like 2021-11-07T02:48:42Z, got 'not-a-date'"],
    6: ["department_id: departments 99 does not exist"],
    7: ["job_id: jobs 77 does not exist"],
    8: ["id: 1 is repeated in this batch (first at 1)"],
    10: ["id: 101 already exists with different values"],
    11: ["id: must be a whole positive number, got '-7'"],
    12: ["expected 5 fields (id, name, datetime, department_id, job_id), got 6"],
    14: ["expected 5 fields (id, name, datetime, department_id, job_id), got 3"],
}


@pytest.fixture
def seeded(sql):
    sql("INSERT INTO departments VALUES (1, 'Sales'), (2, 'HR')")
    sql("INSERT INTO jobs VALUES (1, 'Engineer'), (2, 'Analyst')")
    sql(
        "INSERT INTO hired_employees VALUES "
        "(100, 'Ann', '2021-01-01 10:00:00', 1, 1), (101, 'Ben', '2021-01-01 10:00:00', 1, 1)"
    )


def write_csv(root: Path, relative: str, lines: list[str]) -> str:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")  # no newline at the end, as the contract allows
    return path.as_uri()


def read_report(uri: str) -> list[list[str]]:
    """The rejected-rows report: one CSV file, header first."""
    path = Path(uri.removeprefix("file://"))
    assert path.is_file() and not list(path.parent.glob("*.writing"))
    return list(csv.reader(path.read_text(encoding="utf-8").splitlines()))


# Referenced ids go into the plan as a set literal, or, past INLINE_IDS, as a broadcast table.
@pytest.mark.parametrize("inline_ids", [load_csv.INLINE_IDS, 0], ids=["inline-ids", "joined-ids"])
def test_load_applies_every_rule_and_logs_rejections(spark, target, sql, seeded, tmp_path, monkeypatch, inline_ids):
    monkeypatch.setattr(load_csv, "INLINE_IDS", inline_ids)
    source = write_csv(tmp_path, "incoming/hired_employees/2021.csv", EMPLOYEES)

    [result] = load_csv.run_load(spark, target, source)

    assert (result.inserted, result.unchanged, result.rejected, result.newly_logged) == (4, 1, 9, 9)
    assert sql("SELECT id, name, datetime, department_id, job_id FROM hired_employees ORDER BY id") == [
        (1, "Alice", datetime(2021, 11, 7, 2, 48, 42), 1, 1),
        (2, "Bob", datetime(2021, 11, 7, 0, 48, 42), 2, 2),
        (9, "Quoted, Name", datetime(2021, 3, 1, 12, 0, 0), 1, 2),
        (11, "Padded", datetime(2021, 3, 1, 12, 0, 0), 2, 1),
        (100, "Ann", datetime(2021, 1, 1, 10, 0, 0), 1, 1),
        (101, "Ben", datetime(2021, 1, 1, 10, 0, 0), 1, 1),
    ]

    logged = sql("SELECT fingerprint, source, table_name, position, raw, reasons FROM rejections ORDER BY position")
    assert {row[3]: json.loads(row[5]) for row in logged} == EXPECTED_REASONS
    for fingerprint, logged_source, table_name, position, raw, _ in logged:
        fields = EMPLOYEES[position - 1]
        assert (logged_source, table_name) == (source, "hired_employees")
        assert json.loads(raw) == json.loads(validation.raw_json(next(csv.reader([fields]))))
        assert fingerprint == validation.rejection_fingerprint(source, "hired_employees", position, json.loads(raw))

    # The same report, name and format as the service's loader writes for a file with rejections.
    assert result.rejected_report == (tmp_path / "rejected/hired_employees/2021.rejected.csv").as_uri()
    header, *report = read_report(result.rejected_report)
    assert header == ["line", "reasons", "id", "name", "datetime", "department_id", "job_id"]
    assert [int(entry[0]) for entry in report] == sorted(EXPECTED_REASONS)
    assert {int(entry[0]): entry[1] for entry in report} == {k: "; ".join(v) for k, v in EXPECTED_REASONS.items()}
    assert report[0] == ["4", "name: is required", "3", "", "2021-01-01T00:00:00Z", "1", "1"]
    assert report[-1][2:] == ["10", "  Padded  ", "2021-03-01T12:00:00"]


def test_rerunning_the_same_file_adds_nothing(spark, target, sql, seeded, tmp_path):
    source = write_csv(tmp_path, "incoming/hired_employees/2021.csv", EMPLOYEES)
    load_csv.run_load(spark, target, source)
    before = (
        sql("SELECT * FROM hired_employees ORDER BY id"),
        sql("SELECT fingerprint, reasons, rejected_at FROM rejections ORDER BY id"),
    )

    [again] = load_csv.run_load(spark, target, source)

    assert (again.inserted, again.unchanged, again.rejected, again.newly_logged) == (0, 5, 9, 0)
    assert (
        sql("SELECT * FROM hired_employees ORDER BY id"),
        sql("SELECT fingerprint, reasons, rejected_at FROM rejections ORDER BY id"),
    ) == before
    assert len(read_report(again.rejected_report)) == 1 + 9


def test_a_prefix_loads_referenced_tables_first_and_a_clean_file_leaves_no_report(spark, target, sql, tmp_path):
    # In name order employees would come before jobs: only the load order makes them valid.
    write_csv(tmp_path, "incoming/hired_employees_2021.csv", ["1,Ann,2021-05-05T10:00:00Z,7,3"])
    write_csv(tmp_path, "incoming/jobs.csv", ["3,Manager"])
    write_csv(tmp_path, "incoming/departments/c.csv", ["7,Legal"])
    (tmp_path / "incoming/notes.txt").write_text("not a CSV file")
    stale = tmp_path / "rejected/departments/c.rejected.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("line,reasons,id,department\n")

    results = load_csv.run_load(
        spark, target, (tmp_path / "incoming").as_uri() + "/", rejected_prefix=(tmp_path / "rejected").as_uri() + "/"
    )

    assert [(r.table, r.inserted, r.rejected) for r in results] == [
        ("departments", 1, 0),
        ("jobs", 1, 0),
        ("hired_employees", 1, 0),
    ]
    assert sql("SELECT id, department_id, job_id FROM hired_employees") == [(1, 7, 3)]
    assert not stale.exists()


def test_a_file_of_only_broken_rows_inserts_nothing_and_logs_each(spark, target, sql, tmp_path):
    # A byte order mark before line 1 is not data; a whitespace-only line is not a row.
    source = write_csv(tmp_path, "incoming/jobs/broken.csv", ["\ufeffx,Engineer", "2", "  ", "3,"])

    [result] = load_csv.run_load(spark, target, source)

    assert (result.inserted, result.unchanged, result.rejected) == (0, 0, 3)
    assert sql("SELECT COUNT(*) FROM jobs") == [(0,)]
    assert sql("SELECT position, reasons FROM rejections ORDER BY position") == [
        (1, "[\"id: must be a whole positive number, got 'x'\"]"),
        (2, '["expected 2 fields (id, job), got 1"]'),
        (4, '["job: is required"]'),
    ]


def test_file_name_decides_the_table_outside_a_table_folder():
    assert load_csv.table_for_source("s3://b/incoming/jobs.csv").name == "jobs"
    assert load_csv.table_for_source("s3://b/incoming/hired_employees/x.csv").name == "hired_employees"
    assert load_csv.table_for_source("s3://b/any/x.csv", "departments").name == "departments"
    jobs = load_csv.table_for_source("s3://b/incoming/jobs.csv")
    assert load_csv.rejected_report_uri("s3://b/incoming/jobs/x.csv", jobs) == "s3://b/rejected/jobs/x.rejected.csv"
    assert (
        load_csv.rejected_report_uri("s3://b/incoming/jobs.csv", jobs, "s3://b/rejected/")
        == "s3://b/rejected/jobs.rejected.csv"
    )
    assert (
        load_csv.rejected_report_uri("s3://b/drop/x.csv", jobs, "s3://b/rejected/")
        == "s3://b/rejected/jobs/x.rejected.csv"
    )


def test_a_rerun_repairs_the_summary_a_failed_load_left_behind_its_inserted_rows(
    spark, target, sql, seeded, tmp_path, monkeypatch
):
    from chalicelib.db.mysql import MysqlDatabase

    sql("DELETE FROM quarterly_hires")  # the seeded rows' summary comes from this load's rebuild too
    source = write_csv(tmp_path, "incoming/hired_employees/2021.csv", ["1,Alice,2021-11-07T02:48:42Z,1,1"])

    def fail(self):
        raise RuntimeError("connection lost after the inserts")

    with monkeypatch.context() as patch:
        patch.setattr(MysqlDatabase, "rebuild_derived", fail)
        with pytest.raises(RuntimeError, match="connection lost"):
            load_csv.run_load(spark, target, source)
    assert sql("SELECT COUNT(*) FROM hired_employees") == [(3,)]

    [again] = load_csv.run_load(spark, target, source)

    assert (again.inserted, again.unchanged) == (0, 1)
    assert sql("SELECT year, department_id, job_id, q1, q2, q3, q4 FROM quarterly_hires ORDER BY 1, 2, 3") == [
        (2021, 1, 1, 2, 0, 0, 1)
    ]
