"""The S3 loader against moto S3 and Glue: realistic events into the `s3_loader` Lambda function, the
hand-off of big objects to Glue, the `chalice deploy` trigger, and `chalice package` for the CDK stages."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import pytest

from chalicelib import db as databases
from chalicelib.loading import loader, s3_events
from chalicelib.rules.dictionary import DEPARTMENTS, HIRED_EMPLOYEES
from chalicelib.runtime.settings import Settings
from tests.conftest import TEST_BUCKET as BUCKET

ROOT = Path(__file__).resolve().parents[2]
GLUE_JOB = "hr-dev-load-csv"
DEPARTMENTS_CSV = b"1,Engineering\n2,Sales\n"
JOBS_CSV = b"1,DBA Lead\n2,Data Entry Clerk\n"
EMPLOYEES_CSV = (
    b'1,Ana,2021-11-07T02:48:42Z,1,1\r\n2,"Li, Bo",2021-03-01T10:00:00Z,2,2\r\n3,Cy,2021-03-01T10:00:00Z,2,9'
)


@pytest.fixture
def s3(s3_bucket):
    return s3_bucket


def put(s3, key, body) -> dict:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return s3_record(s3, key)


def s3_record(s3, key, event_name="ObjectCreated:Put") -> dict:
    """One record of an S3 event notification as Lambda receives it: key URL-encoded, real size and ETag."""
    head = s3.head_object(Bucket=BUCKET, Key=key)
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-22T03:00:00.000Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "incoming-csv",
            "bucket": {
                "name": BUCKET,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{BUCKET}",
            },
            "object": {
                "key": quote_plus(key, safe="/"),
                "size": head["ContentLength"],
                "eTag": head["ETag"].strip('"'),
                "sequencer": "0055AED6DCD90281E5",
            },
        },
    }


def event(*records) -> dict:
    return {"Records": list(records)}


def invoke(client, payload) -> dict:
    return client.lambda_.invoke("s3_loader", payload).payload


def counts(database_url) -> dict:
    return databases.for_url(database_url).counts()


def test_a_folder_of_files_in_one_event_loads_referenced_tables_first(client, s3, database_url):
    # The records arrive in any order; departments and jobs still go in before the employees.
    records = [
        put(s3, "incoming/hired_employees/2021 batch.csv", EMPLOYEES_CSV),
        put(s3, "incoming/jobs.csv", JOBS_CSV),
        put(s3, "incoming/departments/all.csv", DEPARTMENTS_CSV),
    ]
    result = invoke(client, event(*records))
    assert [(o["table"], o["status"]) for o in result["objects"]] == [
        ("departments", "loaded"),
        ("jobs", "loaded"),
        ("hired_employees", "loaded"),
    ]
    employees = result["objects"][2]
    assert employees["source"] == f"s3://{BUCKET}/incoming/hired_employees/2021 batch.csv"  # key decoded
    assert (employees["inserted"], employees["rejected_count"]) == (2, 1)
    [entry] = databases.for_url(database_url).list_rejections("hired_employees")
    assert (entry.source, entry.position, entry.reasons) == (employees["source"], 3, ["job_id: jobs 9 does not exist"])


def test_a_redelivered_event_adds_no_rows_and_no_duplicate_rejections(client, s3, database_url):
    invoke(client, event(put(s3, "incoming/departments.csv", DEPARTMENTS_CSV), put(s3, "incoming/jobs.csv", JOBS_CSV)))
    record = put(s3, "incoming/hired_employees/a.csv", EMPLOYEES_CSV)
    first = invoke(client, event(record))["objects"][0]
    again = invoke(client, event(record))["objects"][0]
    assert (first["inserted"], first["unchanged"], first["rejected_count"]) == (2, 0, 1)
    assert (again["inserted"], again["unchanged"], again["rejected_count"]) == (0, 2, 1)
    assert (counts(database_url)["hired_employees"], counts(database_url)["rejections"]) == (2, 1)


def test_employees_before_departments_and_jobs_are_rejected_then_replayed(client, s3, database_url, headers):
    early = invoke(client, event(put(s3, "incoming/hired_employees/early.csv", EMPLOYEES_CSV)))["objects"][0]
    assert (early["inserted"], early["rejected_count"]) == (0, 3)
    invoke(client, event(put(s3, "incoming/departments.csv", DEPARTMENTS_CSV)))
    invoke(client, event(put(s3, "incoming/jobs.csv", JOBS_CSV)))
    response = client.http.post("/rejections/replay", headers=headers, body=b"{}")
    replayed = json.loads(response.body)["result"]  # a small replay's job is done in the request
    assert (replayed["inserted"], replayed["still_rejected"]) == (2, 1)  # employee 3's job 9 still missing
    assert counts(database_url)["hired_employees"] == 2


def test_many_rejections_leave_a_report_under_rejected_named_after_the_file(client, s3, database_url, monkeypatch):
    monkeypatch.setattr(loader, "REPORT_MIN_REJECTED", 2)
    invoke(client, event(put(s3, "incoming/departments.csv", DEPARTMENTS_CSV)))
    result = invoke(client, event(put(s3, "incoming/hired_employees/2021/q1.csv", EMPLOYEES_CSV)))["objects"][0]
    assert result["rejected_count"] == 3
    assert result["report"] == f"s3://{BUCKET}/rejected/hired_employees/2021/q1.rejected.csv"
    report = s3.get_object(Bucket=BUCKET, Key="rejected/hired_employees/2021/q1.rejected.csv")
    rows = list(csv.reader(io.StringIO(report["Body"].read().decode("utf-8"))))
    assert rows[0] == ["line", "reasons", "id", "name", "datetime", "department_id", "job_id"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert rows[2][1:] == ["job_id: jobs 2 does not exist", "2", "Li, Bo", "2021-03-01T10:00:00Z", "2", "2"]


def test_few_rejections_leave_no_report(client, s3):
    invoke(client, event(put(s3, "incoming/departments.csv", b"1,Engineering\n2,\n")))
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="rejected/")


def test_a_file_that_is_not_utf8_is_logged_and_nothing_is_loaded(client, s3, database_url):
    result = invoke(client, event(put(s3, "incoming/departments.csv", b"1,Engineering\n2,Caf\xe9\n")))["objects"][0]
    assert result["status"] == "unreadable" and "line 2: not UTF-8" in result["error"]
    assert counts(database_url)["departments"] == 0 and counts(database_url)["rejections"] == 0


@pytest.mark.parametrize(
    "key, status",
    [
        ("incoming/employees/x.csv", "unreadable"),  # no such table: logged, not retried
        ("backups/2026/departments.avro", "ignored"),
        ("rejected/departments.rejected.csv", "ignored"),
        ("incoming/departments/readme.txt", "ignored"),
    ],
)
def test_keys_that_are_not_incoming_table_csvs_are_not_loaded(client, s3, database_url, key, status):
    result = invoke(client, event(put(s3, key, DEPARTMENTS_CSV)))["objects"][0]
    assert result["status"] == status
    assert counts(database_url)["departments"] == 0


def test_an_object_replaced_after_its_event_is_skipped_for_the_newer_events_sake(client, s3, database_url):
    record = put(s3, "incoming/departments.csv", DEPARTMENTS_CSV)
    s3.put_object(Bucket=BUCKET, Key="incoming/departments.csv", Body=b"9,Newer\n")
    result = invoke(client, event(record))["objects"][0]
    assert result["status"] == "skipped"
    assert counts(database_url)["departments"] == 0


def test_a_deleted_object_and_other_event_types_are_harmless(client, s3):
    record = put(s3, "incoming/departments.csv", DEPARTMENTS_CSV)
    s3.delete_object(Bucket=BUCKET, Key="incoming/departments.csv")
    assert invoke(client, event(record))["objects"][0]["status"] == "skipped"
    removed = dict(record, eventName="ObjectRemoved:Delete")
    assert invoke(client, event(removed)) == {"objects": []}
    assert invoke(client, {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}) == {"objects": []}


def test_an_eventbridge_object_created_event_is_loaded_too(client, s3, database_url):
    s3.put_object(Bucket=BUCKET, Key="incoming/departments/a b.csv", Body=DEPARTMENTS_CSV)
    bridged = {
        "version": "0",
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {
            "bucket": {"name": BUCKET},
            "object": {"key": "incoming/departments/a b.csv", "size": len(DEPARTMENTS_CSV)},
        },
    }
    assert invoke(client, bridged)["objects"][0]["status"] == "loaded"
    assert counts(database_url)["departments"] == 2


def test_chalice_generated_events_work_too(client, s3, database_url):
    s3.put_object(Bucket=BUCKET, Key="incoming/departments.csv", Body=DEPARTMENTS_CSV)
    generated = client.events.generate_s3_event(bucket=BUCKET, key="incoming/departments.csv")
    # Chalice's sample record carries an empty object's ETag and size: use the object's own.
    head = s3.head_object(Bucket=BUCKET, Key="incoming/departments.csv")
    generated["Records"][0]["s3"]["object"].update(eTag=head["ETag"].strip('"'), size=head["ContentLength"])
    assert invoke(client, generated)["objects"][0]["status"] == "loaded"
    assert counts(database_url)["departments"] == 2


# -- big objects go to Glue -------------------------------------------------------------------------


def settings(database_url, **overrides) -> Settings:
    env = {"DATABASE_URL": database_url, "GLUE_LOAD_JOB": GLUE_JOB, "LOADER_MAX_BYTES": "100", **overrides}
    return Settings.from_env({k: v for k, v in env.items() if v is not None})


def test_an_object_over_loader_max_bytes_starts_the_glue_load_job(s3, database_url):
    glue = boto3.client("glue")
    glue.create_job(
        Name=GLUE_JOB,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/glue/load_csv.py"},
    )
    body = b"".join(f"{i},Department {i}\n".encode() for i in range(1, 50))
    record = put(s3, "incoming/departments/big.csv", body)
    result = s3_events.S3Loader(settings(database_url)).handle(event(record))["objects"][0]
    assert result["status"] == "handed to glue" and result["bytes"] == len(body)
    run = glue.get_job_run(JobName=GLUE_JOB, RunId=result["run_id"])["JobRun"]
    assert run["Arguments"] == {
        "--SOURCE": f"s3://{BUCKET}/incoming/departments/big.csv",
        "--TABLE": "departments",
        "--REJECTED_PREFIX": f"s3://{BUCKET}/rejected/",
    }
    assert databases.connect(database_url).counts()["departments"] == 0  # not loaded in Lambda


def test_an_object_over_the_limit_without_a_glue_job_is_logged_not_loaded(s3, database_url):
    record = put(s3, "incoming/departments.csv", b"".join(f"{i},D{i}\n".encode() for i in range(1, 50)))
    result = s3_events.S3Loader(settings(database_url, GLUE_LOAD_JOB=None)).handle(event(record))["objects"][0]
    assert result["status"] == "too big" and "GLUE_LOAD_JOB" in result["error"]
    assert databases.connect(database_url).counts()["departments"] == 0


def test_objects_under_the_limit_are_loaded_even_when_a_glue_job_exists(s3, database_url):
    record = put(s3, "incoming/departments.csv", DEPARTMENTS_CSV)
    result = s3_events.S3Loader(settings(database_url, LOADER_MAX_BYTES="1000")).handle(event(record))["objects"][0]
    assert result["status"] == "loaded" and result["inserted"] == 2


def test_a_large_object_into_an_empty_mysql_table_defers_its_keys_like_the_cli(s3, mysql_db, mysql_url, monkeypatch):
    from chalicelib.loading import ingest

    monkeypatch.setattr(loader, "DEFER_KEYS_MIN_ROWS", 3)
    for key, body in (("incoming/departments.csv", DEPARTMENTS_CSV), ("incoming/jobs.csv", JOBS_CSV)):
        s3_events.S3Loader(settings(mysql_url)).handle(event(put(s3, key, body)))
    seen, real = [], ingest.insert_candidates
    monkeypatch.setattr(
        ingest,
        "insert_candidates",
        lambda db, *a, **k: (seen.append(db._present_keys(HIRED_EMPLOYEES)), real(db, *a, **k))[1],
    )
    record = put(s3, "incoming/hired_employees.csv", EMPLOYEES_CSV)
    result = s3_events.S3Loader(settings(mysql_url)).handle(event(record))["objects"][0]
    assert (result["inserted"], result["rejected_count"]) == (2, 1)
    assert seen == [{"PRIMARY"}]
    assert {"ix_datetime", "fk_hired_employees_job_id"} <= mysql_db._present_keys(HIRED_EMPLOYEES)


def test_a_database_outage_is_raised_so_lambda_retries_the_event(s3):
    record = put(s3, "incoming/departments.csv", DEPARTMENTS_CSV)
    with pytest.raises(databases.DatabaseUnavailable):
        s3_events.S3Loader(settings("mysql://root@127.0.0.1:1/nowhere", LOADER_MAX_BYTES="1000")).handle(event(record))


def test_report_keys_mirror_the_incoming_path():
    assert s3_events.report_key("incoming/jobs.csv") == "rejected/jobs.rejected.csv"
    assert (
        s3_events.report_key("incoming/hired_employees/2021/q1.CSV") == "rejected/hired_employees/2021/q1.rejected.csv"
    )
    assert s3_events.table_for_key("incoming/jobs_2021.csv").name == "jobs"
    assert s3_events.table_for_key("incoming/hired_employees/x/y.csv") is HIRED_EMPLOYEES
    assert s3_events.table_for_key("incoming/departments.csv") is DEPARTMENTS


# -- the two deploy paths ---------------------------------------------------------------------------


def chalice_package(stage: str, out: Path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "HR_S3_EVENT_BUCKET"}
    environment.update(AWS_DEFAULT_REGION="us-east-1", **env)
    return subprocess.run(
        [str(Path(sys.executable).parent / "chalice"), "package", "--stage", stage, str(out)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_chalice_package_succeeds_for_the_cdk_stages_with_the_s3_loader_function(stage, tmp_path):
    result = chalice_package(stage, tmp_path / "out")
    assert result.returncode == 0, result.stderr[-2000:]
    template = json.loads((tmp_path / "out" / "sam.json").read_text())
    loader_function = template["Resources"]["S3Loader"]
    assert loader_function["Properties"]["Handler"] == "app.s3_loader"
    assert not loader_function["Properties"].get("Events")  # CDK wires the bucket to it


def test_with_hr_s3_event_bucket_the_app_registers_the_s3_trigger_that_package_cannot_take(tmp_path):
    result = chalice_package("dev", tmp_path / "out", HR_S3_EVENT_BUCKET="existing-bucket")
    assert result.returncode != 0
    assert "on_s3_event" in result.stderr and "existing buckets" in result.stderr


def test_the_chalice_deploy_trigger_runs_the_same_loader(tmp_path):
    """`chalice deploy` path: app.py imported with HR_S3_EVENT_BUCKET set, its S3 handler invoked with a
    Chalice-made event (in a fresh interpreter: the variable is read when app.py is imported)."""
    script = textwrap.dedent(f"""
        import json, os
        import boto3
        from moto import mock_aws
        from chalice.test import Client
        import app as app_module
        from chalicelib import db

        [source] = [s for s in app_module.app.event_sources if type(s).__name__ == "S3EventConfig"]
        assert (source.bucket, source.prefix, source.suffix) == ("{BUCKET}", "incoming/", ".csv"), source
        db.connect(os.environ["DATABASE_URL"]).create_schema()
        with mock_aws():
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket="{BUCKET}")
            s3.put_object(Bucket="{BUCKET}", Key="incoming/departments.csv", Body=b"1,Engineering\\n")
            with Client(app_module.app, stage_name="test", project_dir={str(ROOT)!r}) as client:
                event = client.events.generate_s3_event(bucket="{BUCKET}", key="incoming/departments.csv")
                head = s3.head_object(Bucket="{BUCKET}", Key="incoming/departments.csv")
                event["Records"][0]["s3"]["object"]["eTag"] = head["ETag"].strip('"')
                print(json.dumps(client.lambda_.invoke("s3_upload", event).payload))
    """)
    env = dict(
        os.environ,
        HR_S3_EVENT_BUCKET=BUCKET,
        DATABASE_URL=f"sqlite:///{tmp_path / 'hr.db'}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        LOG_LEVEL="ERROR",
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [outcome] = json.loads(result.stdout.strip().splitlines()[-1])["objects"]
    assert (outcome["status"], outcome["inserted"]) == ("loaded", 1)


def test_without_hr_s3_event_bucket_no_s3_trigger_is_registered():
    import app as app_module

    assert "HR_S3_EVENT_BUCKET" not in os.environ
    assert not [s for s in app_module.app.event_sources if type(s).__name__ == "S3EventConfig"]
    assert "s3_loader" in app_module.app.handler_map
