"""Backups: Avro files as the dictionary says, the listing, the scheduled job, S3."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import fastavro
import pytest

from chalicelib import db as databases
from chalicelib.backups import service as backups
from chalicelib.backups import storage as backup_storage
from chalicelib.rules.dictionary import HIRED_EMPLOYEES, TABLES, avro_schema
from tests.backups.sample_data import JOB_ROWS, call, checksums, job_outcome, seed

# -- backing up ---------------------------------------------------------------------------------------


def test_backup_files_read_back_with_the_dictionary_schema_and_the_stored_rows(client, headers, db, backup_dir):
    seed(db)
    status, body = job_outcome(*call(client, "POST", "/backups", headers, {}))
    assert status == 200, body
    backup_id = body["backup"]
    assert body["complete"] and body["tables"]["hired_employees"]["rows"] == 1000
    for name, table in TABLES.items():
        path = backup_dir / "backups" / backup_id / f"{name}.avro"
        with path.open("rb") as fh:
            reader = fastavro.reader(fh)
            assert reader.codec == "deflate"
            stored, expected = json.loads(reader.metadata["avro.schema"]), avro_schema(table)
            assert (stored["type"], stored["name"]) == ("record", f"{expected['namespace']}.{expected['name']}")
            assert [(f["name"], f["type"]) for f in stored["fields"]] == [
                (f["name"], f["type"]) for f in expected["fields"]
            ]
            records = list(reader)
        assert [tuple(r[c] for c in table.column_names) for r in records] == [
            tuple(v.replace(tzinfo=UTC) if isinstance(v, datetime) else v for v in row) for row in db.iter_rows(table)
        ]
        assert body["tables"][name] == {"rows": len(records), "bytes": path.stat().st_size}
    manifest = json.loads((backup_dir / "backups" / backup_id / "manifest.json").read_text())
    assert manifest["source"] == "api" and manifest["tables"]["jobs"]["rows"] == len(JOB_ROWS)


def test_a_backup_of_named_tables_holds_only_those(client, headers, db, backup_dir):
    seed(db, employees=10)
    status, body = job_outcome(*call(client, "POST", "/backups", headers, {"tables": ["jobs", "departments"]}))
    assert status == 200
    assert sorted(body["tables"]) == ["departments", "jobs"]
    assert sorted(p.name for p in (backup_dir / "backups" / body["backup"]).iterdir()) == [
        "departments.avro",
        "jobs.avro",
        "manifest.json",
    ]


@pytest.mark.parametrize("tables", [["nope"], "jobs", [1]])
def test_a_backup_of_unknown_tables_is_refused_and_writes_nothing(client, headers, backup_dir, tables):
    status, body = call(client, "POST", "/backups", headers, {"tables": tables})
    assert status in (400, 404) and body["error"]
    assert not (backup_dir / "backups").exists() or not any((backup_dir / "backups").iterdir())


def test_a_failed_backup_leaves_no_backup_behind(db, tmp_path, monkeypatch):
    seed(db, employees=10)
    store = backup_storage.LocalStore(str(tmp_path))

    def broken(table, batch=50000):
        yield from ()
        raise databases.DatabaseUnavailable("connection lost")

    monkeypatch.setattr(db, "export_rows", broken)
    with pytest.raises(databases.DatabaseUnavailable):
        backups.create_backup(db, store)
    assert backups.list_backups(store) == []


def test_the_listing_shows_several_backups_newest_first_with_rows_and_sizes(client, headers, db, backup_dir):
    seed(db, employees=20)
    made = []
    for tables in (["departments"], None, ["jobs", "hired_employees"]):
        status, body = job_outcome(*call(client, "POST", "/backups", headers, {"tables": tables} if tables else {}))
        assert status == 200
        made.append(body)
    (backup_dir / "backups" / "20000101T000000000Z").mkdir()  # an incomplete (manifest-less) leftover
    status, body = call(client, "GET", "/backups", headers)
    assert status == 200
    items = body["items"]
    assert [b["backup"] for b in items] == [m["backup"] for m in reversed(made)] + ["20000101T000000000Z"]
    newest = items[0]
    assert newest["complete"] and newest["source"] == "api" and newest["created_at"]
    assert newest["tables"]["hired_employees"]["rows"] == 20
    on_disk = sum(p.stat().st_size for p in (backup_dir / "backups" / newest["backup"]).glob("*.avro"))
    assert newest["bytes"] == on_disk
    assert items[-1]["complete"] is False
    status, body = call(client, "GET", "/backups?limit=1", headers)
    assert [b["backup"] for b in body["items"]] == [made[-1]["backup"]]


def test_backup_routes_need_the_api_key(client, backup_dir):
    for method, path in [("POST", "/backups"), ("GET", "/backups"), ("POST", "/restores/jobs")]:
        status, body = call(client, method, path, {"content-type": "application/json"}, {})
        assert status == 403


def test_the_scheduled_backup_backs_up_every_table_and_keeps_the_last_n(client, db, backup_dir, caplog):
    seed(db, employees=30)
    caplog.set_level("INFO", logger="hr-migration")  # the CLI's tests turn it down process-wide
    config = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text())
    keep = int(config["environment_variables"]["BACKUP_KEEP"])  # the stage's setting, as in Lambda
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])
    results = [client.lambda_.invoke("scheduled_backup", event).payload for _ in range(keep + 2)]
    assert all(sorted(r["tables"]) == sorted(TABLES) and r["keep"] == keep for r in results)
    assert [r["pruned"] for r in results] == [[]] * keep + [[results[0]["backup"]], [results[1]["backup"]]]
    kept = sorted(p.name for p in (backup_dir / "backups").iterdir())
    assert kept == sorted(r["backup"] for r in results[2:])
    manifest = json.loads((backup_dir / "backups" / kept[-1] / "manifest.json").read_text())
    assert manifest["source"] == "schedule" and manifest["tables"]["hired_employees"]["rows"] == 30
    logged = [r for r in caplog.records if r.getMessage() == "scheduled backup done"]
    assert [r.backup for r in logged] == [r["backup"] for r in results]
    assert logged[-1].pruned == [results[1]["backup"]]


def test_the_schedule_comes_from_configuration():
    assert backups.schedule_expression({"BACKUP_SCHEDULE": "rate(6 hours)"}) == "rate(6 hours)"
    assert backups.schedule_expression({}) == backups.DEFAULT_SCHEDULE
    with pytest.raises(backups.BackupNotConfigured):
        backups.BackupSettings.from_env({"BACKUP_KEEP": "0"})
    with pytest.raises(backups.BackupNotConfigured):  # never onto a Lambda's throwaway disk
        backups.BackupSettings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "f"}).store()


# -- S3 ---------------------------------------------------------------------------------------------


def test_backups_and_restores_go_through_the_bucket(client, headers, db, bucket):
    seed(db, employees=200)
    before = checksums(db)
    status, body = job_outcome(*call(client, "POST", "/backups", headers, {}))
    assert status == 200
    backup_id = body["backup"]
    s3 = boto3.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="backups/")["Contents"])
    assert keys == [
        f"backups/{backup_id}/{n}" for n in ("departments.avro", "hired_employees.avro", "jobs.avro", "manifest.json")
    ]
    obj = s3.get_object(Bucket=bucket, Key=f"backups/{backup_id}/hired_employees.avro")["Body"]
    assert sum(1 for _ in fastavro.reader(obj)) == 200
    status, listing = call(client, "GET", "/backups", headers)
    assert [b["backup"] for b in listing["items"]] == [backup_id]
    db.execute("DELETE FROM hired_employees")
    status, body = job_outcome(
        *call(
            client,
            "POST",
            "/restores/hired_employees",
            headers,
            {"backup": f"backups/{backup_id}/hired_employees.avro"},
        )
    )
    assert status == 200, body
    assert checksums(db) == before


def test_large_files_go_to_s3_as_a_multipart_upload_in_bounded_parts(bucket):
    store = backup_storage.S3Store(bucket)
    data = bytes(range(256)) * (12 * 1024 * 1024 // 256)
    with store.open_write("backups/x/big.avro") as out:
        for start in range(0, len(data), 1 << 20):
            out.write(data[start : start + (1 << 20)])
            assert len(out.buffer) < backup_storage.S3_PART_BYTES
        out.commit()
    assert len(out.parts) == 2
    with store.open_read("backups/x/big.avro") as stream:
        assert stream.read() == data


def test_an_s3_write_that_fails_leaves_no_object_and_no_pending_upload(bucket):
    store = backup_storage.S3Store(bucket)
    s3 = boto3.client("s3")
    with pytest.raises(RuntimeError), store.open_write("backups/x/t.avro") as out:
        out.write(b"x" * (backup_storage.S3_PART_BYTES + 10))
        raise RuntimeError("the database went away")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="backups/")
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_the_cli_backs_up_to_s3_and_lists_it(database_url, db, bucket, capsys):
    from chalicelib.cli import main as cli

    seed(db, employees=5)
    assert cli.main(["--database", database_url, "backup", "jobs", "--to", f"s3://{bucket}/archive"]) == 0
    out = capsys.readouterr().out
    backup_id = out.split()[1]
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert f"archive/backups/{backup_id}/jobs.avro" in keys
    assert cli.main(["backups", "--in", f"s3://{bucket}/archive/backups"]) == 0
    assert backup_id in capsys.readouterr().out


def test_export_pages_through_every_row_once_in_id_order(db):
    seed(db, employees=250)
    db.execute("DELETE FROM hired_employees WHERE id BETWEEN 20 AND 40 OR id = 7")
    with db.snapshot():
        exported = list(db.export_rows(HIRED_EMPLOYEES, batch=7))
    stored = list(db.iter_rows(HIRED_EMPLOYEES))
    assert [r[0] for r in exported] == [r[0] for r in stored] and len(stored) == 250 - 22
    epoch = datetime(1970, 1, 1)
    assert [(r[0], r[1], epoch + timedelta(seconds=r[2]), r[3], r[4]) for r in exported] == stored
