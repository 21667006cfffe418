"""The backup job: one Avro file set per table, readable by fastavro with the dictionary's schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import backup_avro
import pytest

from chalicelib.rules import dictionary
from tests.glue.avro_files import read_folder
from tests.glue.conftest import seed

BACKUP_ID = "20261122T101500123Z"
EMPLOYEES = [
    (1, "José Müller", datetime(2021, 1, 1, 0, 0, 0), 1, 1),
    (2, "Bob", datetime(2021, 6, 30, 23, 59, 59), 2, 1),
    (7, "Carla", datetime(1999, 12, 31, 12, 30, 5), 2, 2),
]


@pytest.fixture
def seeded(sql):
    seed(sql, [(1, "Sales"), (2, "HR")], [(1, "Engineer"), (2, "Analyst")], EMPLOYEES)


def test_backup_writes_every_table_with_the_dictionary_schema(spark, target, seeded, tmp_path):
    manifest = backup_avro.run_backup(spark, target, tmp_path.as_uri(), backup_id=BACKUP_ID, read_partitions=2)

    folder = tmp_path / "backups" / BACKUP_ID
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    assert manifest["backup"] == BACKUP_ID and manifest["source"] == "glue"
    assert {name: entry["rows"] for name, entry in manifest["tables"].items()} == {
        "departments": 2,
        "jobs": 2,
        "hired_employees": 3,
    }
    for table in dictionary.iter_tables():
        records, schemas, codecs = read_folder(folder / f"{table.name}.avro")
        assert schemas and all(schema == dictionary.avro_schema(table) for schema in schemas)
        assert codecs == {"deflate"}
        assert manifest["tables"][table.name]["bytes"] == sum(
            p.stat().st_size for p in (folder / f"{table.name}.avro").glob("part-*")
        )
        assert len(records) == manifest["tables"][table.name]["rows"]

    employees, _, _ = read_folder(folder / "hired_employees.avro")
    assert sorted(employees, key=lambda r: r["id"]) == [
        {"id": i, "name": n, "datetime": d.replace(tzinfo=UTC), "department_id": dep, "job_id": job}
        for i, n, d, dep, job in EMPLOYEES
    ]
    assert list(employees[0]) == list(dictionary.HIRED_EMPLOYEES.column_names)


def test_backup_of_chosen_tables_and_of_an_empty_table(spark, target, sql, tmp_path):
    sql("INSERT INTO jobs VALUES (3, 'Manager')")

    manifest = backup_avro.run_backup(
        spark, target, tmp_path.as_uri(), backup_avro.tables_to_back_up("jobs, departments"), BACKUP_ID
    )

    assert list(manifest["tables"]) == ["departments", "jobs"]
    assert manifest["tables"]["departments"]["rows"] == 0
    records, schemas, _ = read_folder(tmp_path / "backups" / BACKUP_ID / "jobs.avro")
    assert records == [{"id": 3, "job": "Manager"}]
    assert not (tmp_path / "backups" / BACKUP_ID / "hired_employees.avro").exists()


def test_a_backup_id_is_never_overwritten(spark, target, seeded, tmp_path):
    backup_avro.run_backup(spark, target, tmp_path.as_uri(), [dictionary.JOBS], BACKUP_ID)
    with pytest.raises(FileExistsError):
        backup_avro.run_backup(spark, target, tmp_path.as_uri(), [dictionary.JOBS], BACKUP_ID)


def test_unknown_table_names_are_refused():
    with pytest.raises(dictionary.UnknownTable):
        backup_avro.tables_to_back_up("jobs,employees")
