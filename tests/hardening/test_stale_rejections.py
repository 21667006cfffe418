"""The rejection log means "not stored, and why": a row accepted later clears its own earlier entries,
whichever path accepts it (a re-posted batch, a re-uploaded file, the CLI loading the file again)."""

from __future__ import annotations

import json

import pytest

from chalicelib.cli import main as cli

EMPLOYEES = [
    {"id": i, "name": f"Person {i}", "datetime": "2021-11-07T02:48:42Z", "department_id": 1, "job_id": 1}
    for i in (1, 2, 3)
]
DEPARTMENTS = [{"id": 1, "department": "Engineering"}]
JOBS = [{"id": 1, "job": "DBA Lead"}]


def as_csv(rows: list[dict]) -> str:
    return "".join(",".join(str(v) for v in row.values()) + "\n" for row in rows)


def by_batch(client, headers, database_url, tmp_path, table, rows):
    return client.http.post(f"/{table}", headers=headers, body=json.dumps(rows)).status_code


def by_upload(client, headers, database_url, tmp_path, table, rows):
    csv_headers = {**headers, "content-type": "text/csv"}
    return client.http.post(f"/uploads/{table}", headers=csv_headers, body=as_csv(rows).encode()).status_code


def by_cli(client, headers, database_url, tmp_path, table, rows):
    path = tmp_path / f"{table}.csv"
    path.write_text(as_csv(rows))
    # The entry point of `python -m chalicelib.cli`, in-process.
    return cli.main(["--database", database_url, "load", str(path), "--no-progress"])


@pytest.mark.parametrize("deliver", [by_batch, by_upload, by_cli], ids=["batch", "upload", "cli"])
def test_employees_delivered_before_their_department_and_job_leave_no_rejection_once_stored(
    client, headers, database_url, tmp_path, deliver
):
    first = deliver(client, headers, database_url, tmp_path, "hired_employees", EMPLOYEES)
    listed = json.loads(client.http.get("/rejections?table=hired_employees", headers=headers).body)
    assert first in (0, 422) and len(listed["items"]) == len(EMPLOYEES)  # rejected: no department, no job
    for table, rows in (("departments", DEPARTMENTS), ("jobs", JOBS), ("hired_employees", EMPLOYEES)):
        assert deliver(client, headers, database_url, tmp_path, table, rows) in (0, 201)
    assert json.loads(client.http.get("/hired_employees", headers=headers).body)["items"] == EMPLOYEES
    listed = json.loads(client.http.get("/rejections", headers=headers).body)
    assert listed["items"] == []
