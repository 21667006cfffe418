"""The restore job: a table replaced from a backup in one swap, or not at all."""

from __future__ import annotations

import json
from datetime import datetime

import backup_avro
import pytest
import restore_avro

from chalicelib.rules import dictionary
from tests.glue.avro_files import part_files, write_file
from tests.glue.conftest import seed

DEPARTMENTS = [(1, "Sales"), (2, "HR"), (3, "Legal")]
JOBS = [(1, "Engineer"), (2, "Analyst")]
EMPLOYEES = [
    (1, "Ann", datetime(2021, 1, 1, 8, 0, 0), 1, 1),
    (2, "Bob", datetime(2021, 2, 2, 9, 30, 0), 2, 2),
    (3, "Cid", datetime(2021, 3, 3, 23, 59, 59), 2, 1),
]


@pytest.fixture
def seeded(sql):
    seed(sql, DEPARTMENTS, JOBS, EMPLOYEES)


def employees(sql):
    return sql("SELECT id, name, datetime, department_id, job_id FROM hired_employees ORDER BY id")


def tables(sql):
    return [name for (name,) in sql("SHOW TABLES")]


def test_restore_replaces_the_table_with_the_glue_backup(spark, target, sql, seeded, tmp_path):
    backup_avro.run_backup(spark, target, tmp_path.as_uri(), backup_id="b1")
    sql("DELETE FROM hired_employees WHERE id = 2")
    sql("UPDATE hired_employees SET name = 'Changed' WHERE id = 1")
    sql("INSERT INTO hired_employees VALUES (9, 'Late', '2022-01-01 00:00:00', 3, 1)")

    result = restore_avro.run_restore(
        spark, target, dictionary.HIRED_EMPLOYEES, (tmp_path / "backups/b1").as_uri() + "/"
    )

    assert result["rows"] == 3
    assert employees(sql) == EMPLOYEES
    assert "hired_employees__restore" not in tables(sql)
    assert part_files(tmp_path / "backups/b1/hired_employees.avro")  # the backup itself is untouched


def test_restore_of_a_referenced_table_from_an_api_style_single_file(spark, target, sql, seeded, tmp_path):
    # The API writes one fastavro file per table; this one renames a department and drops an unused one.
    backup = tmp_path / "backups/api1/departments.avro"
    write_file(backup, dictionary.DEPARTMENTS, [(1, "Sales & Marketing"), (2, "HR")])

    result = restore_avro.run_restore(spark, target, dictionary.DEPARTMENTS, backup.as_uri())

    assert result["rows"] == 2
    assert sql("SELECT id, department FROM departments ORDER BY id") == [(1, "Sales & Marketing"), (2, "HR")]
    assert employees(sql) == EMPLOYEES
    # The foreign keys still point at the live departments table, not at a renamed copy.
    assert sql(
        "SELECT referenced_table_name FROM information_schema.key_column_usage WHERE table_schema = DATABASE() "
        "AND table_name = 'hired_employees' AND column_name = 'department_id' AND referenced_table_name IS NOT NULL"
    ) == [("departments",)]


def test_restore_that_would_orphan_rows_leaves_the_table_unchanged(spark, target, sql, seeded, tmp_path):
    backup = tmp_path / "backups/api2/departments.avro"
    write_file(backup, dictionary.DEPARTMENTS, [(1, "Sales")])  # department 2 still has employees

    with pytest.raises(
        restore_avro.RestoreFailed,
        match=r"hired_employees\.department_id names departments id\(s\) that would not exist: 2",
    ):
        restore_avro.run_restore(spark, target, dictionary.DEPARTMENTS, backup.as_uri())

    assert sql("SELECT id, department FROM departments ORDER BY id") == DEPARTMENTS
    assert "departments__restore" not in tables(sql)


def test_restore_from_a_corrupt_backup_leaves_the_table_unchanged(spark, target, sql, seeded, tmp_path):
    backup_avro.run_backup(spark, target, tmp_path.as_uri(), [dictionary.HIRED_EMPLOYEES], "b2", read_partitions=2)
    parts = part_files(tmp_path / "backups/b2/hired_employees.avro")
    assert len(parts) == 2
    # One part file is sound, the other is corrupt half-way through.
    data = parts[-1].read_bytes()
    parts[-1].write_bytes(data[: len(data) // 2] + b"\x00garbage\xff" * 8)
    sql("DELETE FROM hired_employees WHERE id = 3")
    before = employees(sql)

    # Spark reports a corrupt file with whichever JVM or Python error its reader hits: the table is the point.
    with pytest.raises(Exception):  # noqa: B017
        restore_avro.run_restore(spark, target, dictionary.HIRED_EMPLOYEES, (tmp_path / "backups/b2").as_uri())

    assert employees(sql) == before
    assert "hired_employees__restore" not in tables(sql)


def test_restore_failing_while_rows_are_staged_leaves_the_table_unchanged(spark, target, sql, seeded, tmp_path):
    # Readable Avro that repeats ids: the staging table's primary key fails the write into it.
    rows = [
        (
            i,
            f"Dept {i}",
        )
        for i in range(1, 2001)
    ] + [(i, "Again") for i in range(1500, 1600)]
    backup = tmp_path / "backups/api4/departments.avro"
    write_file(backup, dictionary.DEPARTMENTS, rows)

    with pytest.raises(Exception, match="(?i)duplicate"):
        restore_avro.run_restore(spark, target, dictionary.DEPARTMENTS, backup.as_uri(), write_connections=1)

    assert sql("SELECT id, department FROM departments ORDER BY id") == DEPARTMENTS
    assert "departments__restore" not in tables(sql)


def test_restore_refuses_a_backup_that_disagrees_with_its_manifest(spark, target, sql, seeded, tmp_path):
    backup_avro.run_backup(spark, target, tmp_path.as_uri(), [dictionary.JOBS], "b3")
    manifest_path = tmp_path / "backups/b3/manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["jobs"]["rows"] = 5
    manifest_path.write_text(json.dumps(manifest))
    sql("INSERT INTO jobs VALUES (7, 'New')")

    with pytest.raises(restore_avro.RestoreFailed, match="manifest says 5"):
        restore_avro.run_restore(spark, target, dictionary.JOBS, (tmp_path / "backups/b3").as_uri())

    assert sql("SELECT id FROM jobs ORDER BY id") == [(1,), (2,), (7,)]


def test_restore_refuses_avro_of_another_table(spark, target, sql, seeded, tmp_path):
    backup = tmp_path / "backups/api3/departments.avro"
    write_file(backup, dictionary.JOBS, [(1, "Engineer")])  # a jobs file under the departments name

    with pytest.raises(Exception):  # noqa: B017  (the schema check or Spark's reader, whichever sees it first)
        restore_avro.run_restore(spark, target, dictionary.DEPARTMENTS, backup.as_uri())

    assert sql("SELECT id, department FROM departments ORDER BY id") == DEPARTMENTS
