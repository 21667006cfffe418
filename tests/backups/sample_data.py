"""What the backup and restore tests share: seed rows, table checksums, hand-written Avro backups (files, Glue
part folders, manifests) and a JSON request through the Chalice test client."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fastavro

from chalicelib import db as databases
from chalicelib.jobs import queue as job_queue
from chalicelib.jobs import service as job_service
from chalicelib.loading import ingest
from chalicelib.rules.dictionary import DATETIME, DEPARTMENTS, HIRED_EMPLOYEES, JOBS, TABLES, Table, avro_schema

DEPARTMENT_ROWS = [
    {"id": i, "department": name} for i, name in enumerate(["Engineering", "Sales", "Legal", "Support"], 1)
]
JOB_ROWS = [{"id": i, "job": name} for i, name in enumerate(["DBA Lead", "Data Entry Clerk", "Recruiter"], 1)]


def employee_rows(n: int = 1000, start: int = 1) -> list[dict]:
    base = datetime(2021, 1, 1, 8, 30, 15)
    names = [
        "Ana Pérez",
        "Søren Brown",
        "O'Brien, Pat",
        "Tab\there",
        "back\\slash",
        "Line\nbreak",
        "李雷",
        "  spaced  ",
    ]
    return [
        {
            "id": i,
            "name": names[i % len(names)] + f" {i}",
            "datetime": (base + timedelta(days=i % 365, seconds=37 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "department_id": 1 + i % len(DEPARTMENT_ROWS),
            "job_id": 1 + i % len(JOB_ROWS),
        }
        for i in range(start, start + n)
    ]


def seed(database: databases.Database, employees: int = 1000) -> None:
    """Departments, jobs, employees, and one rejected row in the rejection log."""
    ingest.insert_batch(database, DEPARTMENTS, enumerate(DEPARTMENT_ROWS), source="test")
    ingest.insert_batch(database, JOBS, enumerate(JOB_ROWS), source="test")
    rows = employee_rows(employees)
    for start in range(0, len(rows), 1000):
        ingest.insert_batch(database, HIRED_EMPLOYEES, enumerate(rows[start : start + 1000]), source="test")
    ingest.insert_batch(database, JOBS, [(0, {"id": 99, "job": ""})], source="test")  # rejected: blank job


def checksum(database: databases.Database, table: Table) -> str:
    """A digest of every row of `table` in id order."""
    digest = hashlib.sha256()
    count = 0
    for row in database.iter_rows(table):
        digest.update(repr(row).encode())
        count += 1
    return f"{count}:{digest.hexdigest()[:16]}"


def checksums(database: databases.Database) -> dict[str, str]:
    return {name: checksum(database, table) for name, table in TABLES.items()}


def avro_records(table: Table, rows: list[tuple]) -> list[dict]:
    return [
        {c.name: (v.replace(tzinfo=UTC) if c.type == DATETIME else v) for c, v in zip(table.columns, row)}
        for row in rows
    ]


def write_avro(
    path: Path, schema: dict, records: list[dict], codec: str = "deflate", sync_interval: int = 16000
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fastavro.writer(fh, fastavro.parse_schema(schema), records, codec=codec, sync_interval=sync_interval)


def write_part_folder(folder: Path, table: Table, rows: list[tuple], parts: int = 3) -> None:
    """A folder of Avro part files plus Spark's marker files, as the Glue backup job writes one."""
    folder.mkdir(parents=True, exist_ok=True)
    records = avro_records(table, rows)
    size = -(-len(records) // parts)
    for n in range(parts):
        write_avro(folder / f"part-{n:05d}-3f1c9a.avro", avro_schema(table), records[n * size : (n + 1) * size])
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-00000-3f1c9a.avro.crc").write_bytes(b"\x00crc")


def write_manifest(folder: Path, backup_id: str, rows: dict[str, int]) -> None:
    doc = {
        "format_version": 1,
        "backup": backup_id,
        "created_at": "2026-11-22T10:15:00Z",
        "source": "glue",
        "tables": {name: {"path": f"{name}.avro", "rows": n, "bytes": 0} for name, n in rows.items()},
    }
    (folder / "manifest.json").write_text(json.dumps(doc))


def call(client, method, path, headers, body=None):
    response = client.http.request(method, path, headers=headers, body=json.dumps(body) if body is not None else b"")
    return response.status_code, json.loads(response.body)


def job_outcome(status, body):
    """How a job ended (run to its end here when it was queued): (200, its result) when it succeeded,
    (its error's status, its error) when it failed; any other answer as it is."""
    if status != 202:
        return status, body
    if body["state"] == "queued":
        assert job_queue.LOCAL.drain() == [body["id"]]
        body = job_service.store().get(body["id"]).to_dict()
    assert body["state"] in ("succeeded", "failed"), body
    return (200, body["result"]) if body["state"] == "succeeded" else (body["error"]["status"], body["error"])
