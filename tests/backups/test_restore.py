"""Restores: exact round trips on both backends, all-or-nothing on every kind of failure, references
kept (foreign keys included), Glue part folders, the CLI."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import fastavro
import pytest

from chalicelib import db as databases
from chalicelib.backups import restore as restores
from chalicelib.backups import service as backups
from chalicelib.backups import storage as backup_storage
from chalicelib.cli import main as cli
from chalicelib.db.mysql import MysqlDatabase
from chalicelib.db.sqlite import SqliteDatabase
from chalicelib.rules.dictionary import DEPARTMENTS, HIRED_EMPLOYEES, JOBS, TABLES, avro_schema
from tests.backups.sample_data import (
    call,
    checksums,
    employee_rows,
    job_outcome,
    seed,
    write_avro,
    write_manifest,
    write_part_folder,
)
from tests.conftest import _mysql_admin


def backup(client, headers, tables=None) -> str:
    status, body = job_outcome(*call(client, "POST", "/backups", headers, {"tables": tables} if tables else {}))
    assert status == 200, body
    return body["backup"]


def restore(client, headers, table, body):
    return job_outcome(*call(client, "POST", f"/restores/{table}", headers, body))


def scramble(db):
    """Change every table so that a restore has something to undo."""
    db.execute("DELETE FROM hired_employees WHERE id > 500")
    db.execute("UPDATE departments SET department = 'Renamed' WHERE id = 1")
    db.execute("INSERT INTO jobs (id, job) VALUES (50, 'Extra')")


def foreign_keys(db) -> set[tuple[str, str, str]]:
    """(table, column, referenced table) of every foreign key, as the server reports them."""
    if isinstance(db, SqliteDatabase):
        return {(t, row[3], row[2]) for t in TABLES for row in db.query(f"PRAGMA foreign_key_list({t})")}
    rows = db.query(
        "SELECT TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME FROM information_schema.KEY_COLUMN_USAGE "
        "WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL"
    )
    return {tuple(r) for r in rows}


EXPECTED_FKS = {("hired_employees", "department_id", "departments"), ("hired_employees", "job_id", "jobs")}


# -- round trips --------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", list(TABLES))
def test_a_round_trip_gives_identical_rows(client, headers, db, backup_dir, table):
    seed(db)
    before = checksums(db)
    backup_id = backup(client, headers)
    if table == "hired_employees":
        db.execute("DELETE FROM hired_employees WHERE id > 500")
        db.execute("UPDATE hired_employees SET name = 'Changed' WHERE id = 3")
    else:
        db.execute(f"UPDATE {table} SET {TABLES[table].columns[1].name} = 'Changed' WHERE id = 1")
    assert checksums(db) != before
    status, body = restore(client, headers, table, {"backup": backup_id})
    assert status == 200, body
    assert body["restored"] == {table: {"rows": int(before[table].split(":")[0])}}
    assert checksums(db) == before


def _change_around_the_backup(db):
    """Rows the backup lacks (before, between and after its ids), rows it has changed, rows it has gone."""
    hired = [dict(r, id=i) for i, r in zip((150, 151, 2_000, 50_000), employee_rows(4))]
    from chalicelib.loading import ingest

    assert ingest.insert_batch(db, HIRED_EMPLOYEES, enumerate(hired), "test").inserted == 4
    db.execute("UPDATE hired_employees SET name = 'Changed', job_id = 2 WHERE id IN (3, 420)")
    db.execute("DELETE FROM hired_employees WHERE id BETWEEN 300 AND 310 OR id = 1")


@pytest.mark.parametrize(
    "max_runs, changed_share",
    [(None, None), (None, 0.0), (1, None)],
    ids=["merged", "merged-deleting-and-loading-after-a-changed-chunk", "too-scattered-to-merge"],
)
def test_a_restore_over_a_changed_table_brings_back_exactly_the_backup(
    client, headers, db, backup_dir, monkeypatch, max_runs, changed_share
):
    monkeypatch.setattr(restores, "RESTORE_CHUNK_ROWS", 100)
    if changed_share is not None:
        monkeypatch.setattr("chalicelib.db.restore.MERGE_CHANGED_SHARE", changed_share)
    seed(db)
    db.execute("DELETE FROM hired_employees WHERE id BETWEEN 140 AND 160 OR id > 900")  # the backup's ids: 2 runs
    before = checksums(db)
    backup_id = backup(client, headers)
    _change_around_the_backup(db)
    assert checksums(db) != before
    merges = []
    real = type(db).replace_tables
    monkeypatch.setattr(
        type(db), "replace_tables", lambda self, feeds, merge=True: merges.append(merge) or real(self, feeds, merge)
    )
    if max_runs:
        monkeypatch.setattr("chalicelib.db.restore.MAX_MERGE_RUNS", max_runs)
    status, body = restore(client, headers, "hired_employees", {"backup": backup_id})
    assert status == 200, body
    assert checksums(db) == before
    from tests.reports.workload import assert_summary_exact

    assert_summary_exact(db)
    # MySQL merges (and falls back to emptying the table first when the ids are too scattered).
    assert merges == ([True] if not max_runs or not db.merging_restores else [True, False])


def test_a_restore_keeps_the_foreign_keys_pointing_at_the_live_tables(client, headers, db, backup_dir):
    seed(db)
    backup_id = backup(client, headers)
    for table in ("departments", "jobs", "hired_employees"):
        status, body = restore(client, headers, table, {"backup": backup_id, "with_dependents": True})
        assert status == 200, body
    assert foreign_keys(db) == EXPECTED_FKS
    # ... and they are enforced against the restored tables.
    with pytest.raises(databases.IntegrityConflict):
        db.execute(
            "INSERT INTO hired_employees (id, name, datetime, department_id, job_id) "
            "VALUES (9999, 'x', '2021-01-01 00:00:00', 77, 1)"
        )
    with pytest.raises((databases.ReferencedRow, databases.IntegrityConflict)):
        db.execute("DELETE FROM departments WHERE id = 1")
    if isinstance(db, SqliteDatabase):
        tables = {r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    else:
        tables = {r[0] for r in db.query("SHOW TABLES")}
    assert not [t for t in tables if "restore" in t or "old" in t]  # no staging copies left behind


def test_derived_data_is_exact_and_the_rejection_log_untouched_after_a_restore(client, headers, db, backup_dir):
    seed(db)
    rejections = db.list_rejections()
    backup_id = backup(client, headers)
    db.execute("DELETE FROM hired_employees WHERE id > 100")  # bypasses the summary hooks on purpose
    status, body = restore(client, headers, "hired_employees", {"backup": backup_id})
    assert status == 200
    assert db.list_rejections() == rejections and len(rejections) == 1
    assert sorted(db.quarterly_hires(2021)) == sorted(db.quarterly_hires(2021, from_table=True))
    assert sum(sum(r[4:]) if len(r) > 6 else r[-1] for r in db.quarterly_hires(2021)) == 1000


def test_a_restore_accepts_a_backup_id_a_key_or_a_folder(client, headers, db, backup_dir):
    seed(db, employees=50)
    backup_id = backup(client, headers)
    for ref in (backup_id, f"backups/{backup_id}", f"backups/{backup_id}/", f"backups/{backup_id}/jobs.avro"):
        status, body = restore(client, headers, "jobs", {"backup": ref})
        assert status == 200, (ref, body)
    status, body = restore(client, headers, "jobs", {"backup": f"backups/{backup_id}/departments.avro"})
    assert status == 400
    for ref in ("20990101T000000000Z", "backups/nothing/jobs.avro"):
        status, body = restore(client, headers, "jobs", {"backup": ref})
        assert status == 404, body
    for body in ({}, {"backup": ""}, {"backup": 5}, {"backup": backup_id, "with_dependents": "yes"}):
        assert restore(client, headers, "jobs", body)[0] == 400
    assert restore(client, headers, "nope", {"backup": backup_id})[0] == 404


def test_a_glue_backup_folder_of_part_files_restores(client, headers, db, backup_dir):
    seed(db)
    before = checksums(db)
    rows = list(db.iter_rows(HIRED_EMPLOYEES))
    folder = backup_dir / "backups" / "20261122T101500000Z"
    write_part_folder(folder / "hired_employees.avro", HIRED_EMPLOYEES, rows, parts=4)
    write_manifest(folder, "20261122T101500000Z", {"hired_employees": len(rows)})
    db.execute("DELETE FROM hired_employees")
    status, body = restore(client, headers, "hired_employees", {"backup": "20261122T101500000Z"})
    assert status == 200, body
    assert checksums(db) == before
    status, listing = call(client, "GET", "/backups", headers)
    assert listing["items"][0]["source"] == "glue"


def test_nullable_long_fields_and_micros_as_other_writers_emit_them_restore(db, tmp_path):
    seed(db, employees=20)
    before = checksums(db)
    schema = avro_schema(HIRED_EMPLOYEES)
    schema["name"] = "topLevelRecord"
    schema["fields"] = [
        {
            "name": f["name"],
            "type": [
                "null",
                {"type": "long", "logicalType": "timestamp-micros"}
                if f["name"] == "datetime"
                else ("long" if f["type"] == "int" else f["type"]),
            ],
        }
        for f in schema["fields"]
    ]
    records = [dict(zip(HIRED_EMPLOYEES.column_names, row)) for row in db.iter_rows(HIRED_EMPLOYEES)]
    for r in records:
        r["datetime"] = r["datetime"].replace(tzinfo=UTC)
    write_avro(tmp_path / "hired_employees.avro", schema, records, codec="null")
    db.execute("DELETE FROM hired_employees")
    store, ref = backups.source(str(tmp_path / "hired_employees.avro"))
    restores.restore(db, store, ref, HIRED_EMPLOYEES)
    assert checksums(db) == before


# -- failures leave everything as it was ----------------------------------------------------------------


@pytest.fixture
def loaded(client, headers, db, backup_dir, monkeypatch):
    """A seeded database, a backup of it written in small blocks, then changed rows; restores load in
    chunks of 100 rows, so a failure comes after some rows were already loaded."""
    seed(db)
    monkeypatch.setattr(backups, "SYNC_INTERVAL", 2048)
    monkeypatch.setattr(restores, "RESTORE_CHUNK_ROWS", 100)
    backup_id = backup(client, headers)
    scramble(db)
    loads = []
    original = type(db)._load_restored_rows

    def counting(self, table, rows, **options):
        loads.append(len(rows))
        return original(self, table, rows, **options)

    monkeypatch.setattr(type(db), "_load_restored_rows", counting)
    return backup_id, backup_dir / "backups" / backup_id, checksums(db), loads


def test_a_corrupt_file_changes_nothing(client, headers, db, loaded):
    backup_id, folder, before, loads = loaded
    path = folder / "hired_employees.avro"
    data = bytearray(path.read_bytes())
    middle = len(data) * 3 // 4
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    status, body = restore(client, headers, "hired_employees", {"backup": backup_id})
    assert status == 422 and body["error"] == "invalid backup"
    assert "corrupt or truncated" in body["detail"]
    assert loads  # the failure came half-way, after rows were loaded
    assert checksums(db) == before


@pytest.mark.parametrize("keep", [0.5, "whole blocks"])
def test_a_truncated_file_changes_nothing(client, headers, db, loaded, keep):
    backup_id, folder, before, loads = loaded
    path = folder / "hired_employees.avro"
    data = path.read_bytes()
    if keep == "whole blocks":
        # Cut right after a sync marker: a valid Avro file with fewer rows; only the manifest tells.
        with path.open("rb") as fh:
            sync = fastavro.reader(fh)._header["sync"]
        cut = data.index(sync, len(data) // 2) + len(sync)
        path.write_bytes(data[:cut])
    else:
        path.write_bytes(data[: int(len(data) * keep)])
    status, body = restore(client, headers, "hired_employees", {"backup": backup_id})
    assert status == 422, body
    assert ("truncated" in body["detail"]) or ("manifest says" in body["detail"])
    assert checksums(db) == before


def test_a_file_with_the_wrong_schema_changes_nothing(client, headers, db, loaded):
    backup_id, folder, before, loads = loaded
    (folder / "hired_employees.avro").write_bytes((folder / "jobs.avro").read_bytes())
    status, body = restore(client, headers, "hired_employees", {"backup": backup_id})
    assert status == 422
    assert "wrong schema" in body["detail"] and "missing field(s): name, datetime" in body["detail"]
    assert checksums(db) == before


@pytest.mark.parametrize(
    "breakage, reason",
    [
        ({"name": "   "}, "name: is required"),
        ({"id": 0}, "id: must be a whole positive number"),
        ({"name": "x" * 256}, "at most 255"),
        ({"department_id": 77}, "departments id(s) that would not exist: 77"),
        ({"id": 5}, "repeats an id"),
    ],
)
def test_a_row_breaking_a_data_rule_changes_nothing(client, headers, db, loaded, backup_dir, breakage, reason):
    _, _, before, loads = loaded
    rows = [dict(zip(HIRED_EMPLOYEES.column_names, r)) for r in db.iter_rows(HIRED_EMPLOYEES)]
    rows += [dict(r, id=r["id"] + 10_000) for r in employee_rows(900, start=1)]
    for r in rows:
        if isinstance(r["datetime"], str):
            r["datetime"] = datetime.fromisoformat(r["datetime"].replace("Z", "+00:00"))
    rows[-10] = dict(rows[-10], **breakage)
    write_avro(backup_dir / "custom" / "hired_employees.avro", avro_schema(HIRED_EMPLOYEES), rows, sync_interval=2048)
    status, body = restore(client, headers, "hired_employees", {"backup": "custom/hired_employees.avro"})
    assert status == 422, body
    assert reason in json.dumps(body["detail"])
    assert checksums(db) == before


def test_a_dropped_connection_changes_nothing_and_answers_503(client, headers, db, database_url, loaded, monkeypatch):
    backup_id, folder, before, loads = loaded
    counting = type(db)._load_restored_rows

    def dropping(self, table, rows, **options):
        if len(loads) == 3:
            if isinstance(self, MysqlDatabase):
                connection_id = self.query("SELECT CONNECTION_ID()")[0][0]
                admin = _mysql_admin()
                with admin.cursor() as cur:
                    cur.execute(f"KILL CONNECTION {int(connection_id)}")
                admin.close()
            else:
                raise sqlite3.OperationalError("disk I/O error")
        return counting(self, table, rows, **options)

    monkeypatch.setattr(type(db), "_load_restored_rows", dropping)
    status, body = restore(client, headers, "hired_employees", {"backup": backup_id})
    assert status == 503, body
    assert body["error"] == "database unavailable"
    assert len(loads) >= 3
    fresh = databases.connect(database_url)
    assert checksums(fresh) == before
    fresh.close()


def test_a_storage_failure_mid_read_is_503_and_changes_nothing(client, headers, db, loaded, monkeypatch):
    backup_id, folder, before, loads = loaded
    real_open = backup_storage.LocalStore.open_read

    class Failing:
        def __init__(self, stream):
            self.stream, self.reads = stream, 0

        def read(self, n=-1):
            self.reads += 1
            if self.reads > 20:
                raise backup_storage.StorageError("connection reset by peer")
            return self.stream.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

    monkeypatch.setattr(backup_storage.LocalStore, "open_read", lambda self, path: Failing(real_open(self, path)))
    status, body = restore(client, headers, "hired_employees", {"backup": backup_id})
    assert status == 503 and body["error"] == "backup storage unavailable"
    assert checksums(db) == before


# -- references -------------------------------------------------------------------------------------------


def test_restoring_a_parent_without_ids_its_dependents_use_is_409_and_changes_nothing(client, headers, db, backup_dir):
    seed(db, employees=40)
    backup_id = backup(client, headers)
    call(client, "POST", "/departments", headers, [{"id": 8, "department": "New"}, {"id": 9, "department": "Newer"}])
    call(
        client,
        "POST",
        "/hired_employees",
        headers,
        [dict(employee_rows(1, start=500)[0], department_id=9), dict(employee_rows(1, start=501)[0], department_id=8)],
    )
    before = checksums(db)
    status, body = restore(client, headers, "departments", {"backup": backup_id})
    assert status == 409, body
    assert body["detail"]["problems"] == [
        {"table": "hired_employees", "column": "department_id", "references": "departments", "missing_ids": [8, 9]}
    ]
    assert checksums(db) == before
    # Restoring the dependents from the same backup too is consistent: both go back.
    status, body = restore(client, headers, "departments", {"backup": backup_id, "with_dependents": True})
    assert status == 200, body
    assert set(body["restored"]) == {"departments", "hired_employees"}
    assert db.get_row(DEPARTMENTS, 9) is None and db.get_row(HIRED_EMPLOYEES, 500) is None
    assert foreign_keys(db) == EXPECTED_FKS


def test_restoring_a_parent_that_keeps_every_used_id_is_allowed(client, headers, db, backup_dir):
    seed(db, employees=40)
    backup_id = backup(client, headers)
    call(client, "POST", "/jobs", headers, [{"id": 40, "job": "Unused"}])
    status, body = restore(client, headers, "jobs", {"backup": backup_id})
    assert status == 200
    assert db.get_row(JOBS, 40) is None


# -- CLI ------------------------------------------------------------------------------------------------------


def test_the_cli_restores_a_file_and_fails_with_one_line_and_a_nonzero_exit(database_url, db, tmp_path, capsys):
    seed(db, employees=60)
    before = checksums(db)
    assert cli.main(["--database", database_url, "backup", "--to", str(tmp_path)]) == 0
    backup_id = capsys.readouterr().out.split()[1]
    path = tmp_path / "backups" / backup_id / "hired_employees.avro"
    db.execute("DELETE FROM hired_employees WHERE id > 10")
    assert cli.main(["--database", database_url, "restore", "hired_employees", "--from", str(path)]) == 0
    assert "restored hired_employees 60 rows" in capsys.readouterr().out
    assert checksums(db) == before
    path.write_bytes(path.read_bytes()[:-40])
    db.execute("DELETE FROM hired_employees WHERE id > 10")
    changed = checksums(db)
    assert cli.main(["--database", database_url, "restore", "hired_employees", "--from", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: invalid backup:") and err.count("\n") == 1
    assert checksums(db) == changed
    db.execute("INSERT INTO departments (id, department) VALUES (9, 'New')")
    db.execute("UPDATE hired_employees SET department_id = 9 WHERE id = 1")
    assert cli.main(["--database", database_url, "restore", "departments", "--from", str(path.parent)]) == 1
    assert "restore would break references" in capsys.readouterr().err
