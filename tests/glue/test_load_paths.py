"""The load job's two fast paths, each against the plain one: a large first load goes into the
primary key alone and builds the secondary keys after (as the service's loader does), and a file
whose partitions hold id ranges in order is written without a shuffle; a file that is not sorted
(ranges overlapping between partitions) is range-partitioned first and loads the same rows."""

from __future__ import annotations

import random

import load_csv
import pytest

KEYS = {"PRIMARY", "ix_department_id", "ix_job_id", "ix_datetime"} | {
    "fk_hired_employees_department_id",
    "fk_hired_employees_job_id",
}


def _employees(ids: list[int]) -> list[str]:
    lines = [f"{i},Person {i},2021-0{1 + i % 9}-01T10:00:00Z,{1 + i % 2},{1 + i % 2}" for i in ids]
    lines[3] = "3,,2021-01-01T10:00:00Z,1,1"  # line 4: one rejected row (name missing)
    return lines


def _keys(sql) -> set[str]:
    names = sql(
        "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'hired_employees'"
    )
    foreign = sql(
        "SELECT CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'hired_employees' AND CONSTRAINT_TYPE = 'FOREIGN KEY'"
    )
    return {name for (name,) in (*names, *foreign)}


@pytest.fixture
def references(sql):
    sql("INSERT INTO departments VALUES (1, 'Sales'), (2, 'HR')")
    sql("INSERT INTO jobs VALUES (1, 'Engineer'), (2, 'Analyst')")


@pytest.fixture
def partitions(spark):
    """Small input partitions, so that a test file spans several."""
    spark.conf.set("spark.sql.files.maxPartitionBytes", "8192")
    yield
    spark.conf.unset("spark.sql.files.maxPartitionBytes")


def _load(spark, target, tmp_path, lines):
    path = tmp_path / "incoming" / "hired_employees" / "big.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    [result] = load_csv.run_load(spark, target, path.as_uri(), write_connections=2)
    return result


@pytest.mark.parametrize("shuffled", [False, True], ids=["sorted", "shuffled"])
def test_a_large_first_load_builds_the_keys_after_the_rows(
    spark, target, sql, references, partitions, tmp_path, monkeypatch, shuffled
):
    monkeypatch.setattr(load_csv, "DEFER_KEYS_MIN_ROWS", 500)
    ids = list(range(1, 2001))
    if shuffled:
        random.Random(5).shuffle(ids)
    deferred = []
    real = load_csv.database.MysqlTarget.service_database

    def watched(self):
        service = real(self)
        original = service.keys_deferred

        def keys_deferred(table):
            deferred.append(table.name)
            return original(table)

        service.keys_deferred = keys_deferred
        return service

    monkeypatch.setattr(load_csv.database.MysqlTarget, "service_database", watched)

    result = _load(spark, target, tmp_path, _employees(ids))

    assert (result.inserted, result.rejected) == (1999, 1)
    assert deferred == ["hired_employees"] and "keys and derive" in result.seconds
    assert _keys(sql) == KEYS
    assert sql("SELECT COUNT(*) FROM keys_deferred") == [(0,)]
    assert sql("SELECT COUNT(*), MIN(id), MAX(id) FROM hired_employees") == [(1999, 1, 2000)]
    assert sql("SELECT SUM(q1 + q2 + q3 + q4) FROM quarterly_hires") == [(1999,)]
    assert sql("SELECT position FROM rejections") == [(4,)]  # the line made broken, wherever its id


def test_a_load_into_a_table_holding_rows_keeps_its_keys(
    spark, target, sql, references, partitions, tmp_path, monkeypatch
):
    monkeypatch.setattr(load_csv, "DEFER_KEYS_MIN_ROWS", 500)
    sql("INSERT INTO hired_employees VALUES (9000, 'Stored', '2021-01-01 10:00:00', 1, 1)")

    result = _load(spark, target, tmp_path, _employees(list(range(1, 2001))))

    assert (result.inserted, result.rejected) == (1999, 1)
    assert "keys and derive" not in result.seconds and "derive" in result.seconds
    assert _keys(sql) == KEYS
    assert sql("SELECT SUM(q1 + q2 + q3 + q4) FROM quarterly_hires") == [(2000,)]


def test_rejected_rows_of_many_partitions_are_reported_in_line_order(
    spark, target, sql, references, partitions, tmp_path
):
    # The rejected rows stream to the driver partition by partition: the report must still be in line
    # order, every rejected line once, and the log must hold the same lines.
    ids = list(range(1, 3001))
    random.Random(11).shuffle(ids)
    lines = _employees(ids)
    broken = set(range(10, len(lines) + 1, 97))  # line numbers, spread over every partition
    for number in broken:
        lines[number - 1] = f"{ids[number - 1]},Broken {number},2021-02-30T10:00:00Z,1,1"  # no such day
    broken.add(4)  # `_employees` already broke line 4

    result = _load(spark, target, tmp_path, lines)

    assert (result.inserted, result.rejected) == (3000 - len(broken), len(broken))
    with open(result.rejected_report.removeprefix("file://"), encoding="utf-8") as report:
        header, *entries = report.read().splitlines()
    assert header.startswith("line,reasons,")
    assert [int(entry.split(",", 1)[0]) for entry in entries] == sorted(broken)
    assert sql("SELECT position FROM rejections ORDER BY position") == [(n,) for n in sorted(broken)]
