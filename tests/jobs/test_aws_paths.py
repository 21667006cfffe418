"""The AWS paths on moto: jobs queued on SQS and run by the worker function, and work handed to Glue
whose job record follows the Glue run."""

from __future__ import annotations

import boto3
import pytest
from moto.moto_api import state_manager

from chalicelib.jobs import service as jobs
from tests.backups.sample_data import seed
from tests.conftest import TEST_BUCKET
from tests.jobs.conftest import send


@pytest.fixture
def aws(s3_bucket, monkeypatch):
    """moto (through the shared s3_bucket fixture) with its bucket as the service's DATA_BUCKET."""
    monkeypatch.delenv("BACKUP_DIR", raising=False)
    monkeypatch.setenv("DATA_BUCKET", TEST_BUCKET)


def test_a_job_queued_on_sqs_is_run_once_by_the_worker_function(client, headers, db, queued, aws, monkeypatch):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="hr-jobs")["QueueUrl"]
    monkeypatch.setenv("JOBS_QUEUE_URL", url)
    seed(db, employees=100)
    response, job = send(client, "POST", "/backups", headers, {})
    assert response.status_code == 202 and job["state"] == "queued"
    assert queued.drain() == []  # on SQS, not on the local queue
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    event = client.events.generate_sqs_event(queue_name="hr-jobs", message_bodies=[message["Body"]])
    assert client.lambda_.invoke("job_worker", event).payload == [job["id"]]
    done = jobs.store().get(job["id"])
    assert done.state == "succeeded" and done.result["tables"]["hired_employees"]["rows"] == 100
    client.lambda_.invoke("job_worker", event)  # redelivered: nothing is done twice
    keys = boto3.client("s3").list_objects_v2(Bucket=TEST_BUCKET, Prefix="backups/")["Contents"]
    assert len({k["Key"].split("/")[1] for k in keys}) == 1
    assert jobs.store().get(job["id"]).attempts == 1


def test_a_job_whose_queue_refuses_it_is_503_and_recorded_failed(client, headers, db, queued, aws, monkeypatch):
    monkeypatch.setenv("JOBS_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/missing")
    seed(db, employees=100)
    response, body = send(client, "POST", "/backups", headers, {})
    assert (response.status_code, body["error"]) == (503, "jobs queue unavailable")
    [job] = jobs.store().list()
    assert job.state == "failed" and job.error["error"] == "not queued"


@pytest.fixture
def glue_jobs(aws, monkeypatch):
    glue = boto3.client("glue")
    for name in ("hr-backup-avro", "hr-restore-avro"):
        glue.create_job(Name=name, Role="glue-role", Command={"Name": "glueetl", "ScriptLocation": "s3://x/job.py"})
    monkeypatch.setenv("GLUE_BACKUP_JOB", "hr-backup-avro")
    monkeypatch.setenv("GLUE_RESTORE_JOB", "hr-restore-avro")
    # Each run moves STARTING -> RUNNING -> SUCCEEDED one step per two reads of it.
    state_manager.set_transition(model_name="glue::job_run", transition={"progression": "manual", "times": 2})
    yield glue
    state_manager.unset_transition(model_name="glue::job_run")


def test_a_backup_handed_to_glue_follows_the_run_to_its_end(client, headers, db, queued, glue_jobs):
    seed(db, employees=100)
    response, job = send(client, "POST", "/backups", headers, {"tables": ["hired_employees"], "engine": "glue"})
    assert response.status_code == 202 and job["state"] == "queued"
    queued.drain()
    states = []
    for _ in range(8):
        _, polled = send(client, "GET", f"/background-jobs/{job['id']}", headers)
        states.append(polled["state"])
        if polled["state"] != "running":
            break
    assert states[0] == "running" and states[-1] == "succeeded", states
    run_id = polled["glue"]["run_id"]
    run = glue_jobs.get_job_run(JobName="hr-backup-avro", RunId=run_id)["JobRun"]
    assert run["Arguments"]["--BACKUP_ROOT"] == f"s3://{TEST_BUCKET}/"
    assert run["Arguments"]["--TABLES"] == "hired_employees"
    assert polled["result"]["backup"] == run["Arguments"]["--BACKUP_ID"] and polled["result"]["run_id"] == run_id


def test_big_restores_go_to_glue_from_the_configured_size(client, headers, db, queued, glue_jobs, monkeypatch):
    monkeypatch.setenv("JOBS_GLUE_MIN_ROWS", "50")
    seed(db, employees=100)
    _, backup = send(client, "POST", "/backups", headers, {"engine": "worker"})
    queued.drain()
    backup_id = jobs.store().get(backup["id"]).result["backup"]
    _, job = send(client, "POST", "/restores/hired_employees", headers, {"backup": backup_id})
    queued.drain()
    handed = jobs.store().get(job["id"], refresh=False)
    assert handed.state == "running" and handed.glue_job == "hr-restore-avro"
    run = glue_jobs.get_job_run(JobName="hr-restore-avro", RunId=handed.glue_run_id)["JobRun"]
    assert run["Arguments"] == {"--TABLE": "hired_employees", "--BACKUP": f"s3://{TEST_BUCKET}/backups/{backup_id}/"}
    response, body = send(
        client,
        "POST",
        "/restores/departments",
        headers,
        {"backup": backup_id, "with_dependents": True, "engine": "glue"},
    )
    assert response.status_code == 400 and "one table" in body["detail"]
