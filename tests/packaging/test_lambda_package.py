"""The Lambda package, built as deploy builds it (`chalice package` for a stage), unpacked into an empty
folder and run by a fresh interpreter that sees only that folder and boto3 (what the Lambda runtime
provides): every handler, with real event shapes, against the suite's TLS-only server as the app user,
credentials from Secrets Manager, AWS through a moto server.

AWS_LAMBDA_FUNCTION_NAME is left unset so that the app's own key check stands in for API Gateway's,
which refuses a wrong key before the function runs in AWS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

from tests.conftest import APP_PASSWORD, APP_USER, TEST_CA, server_login
from tests.packaging.conftest import runtime_modules

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("lambda_runtime.py")
STAGE = "dev"  # a stage the CDK app packages (its construct path differs; the package does not)
BUCKET = "hr-data-package-test"
API_KEY = "package-test-key"


@pytest.fixture(scope="module")
def lambda_package(tmp_path_factory) -> list[Path]:
    """deployment.zip of `chalice package --stage dev` unpacked into an empty folder, and the
    site-packages of its layer (`automatic_layer`) unpacked as Lambda does under /opt: the import path."""
    out = tmp_path_factory.mktemp("chalice-package")
    chalice = Path(sys.executable).with_name("chalice")
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    built = subprocess.run(
        [str(chalice), "package", "--stage", STAGE, str(out / "out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    function = out / "function"
    function.mkdir()
    with zipfile.ZipFile(out / "out" / "deployment.zip") as archive:
        archive.extractall(function)
    layer = out / "opt"
    with zipfile.ZipFile(out / "out" / "layer-deployment.zip") as archive:
        archive.extractall(layer)
    template = json.loads((out / "out" / "sam.json").read_text())
    handlers = {
        r["Properties"]["Handler"] for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
    }
    assert handlers == {
        "app.app",
        "app.client_key",
        "app.s3_loader",
        "app.scheduled_backup",
        "app.job_worker",
        "app.job_reaper",
        "app.scheduled_purge",
        "app.scheduled_check",
        "app.auto_tester",
    }
    return [function, layer / "python" / "lib" / "python3.11" / "site-packages"]


@pytest.fixture(scope="module")
def lambda_runtime(tmp_path_factory) -> Path:
    """A folder holding boto3 and its dependencies only (links to the installed copies)."""
    folder = tmp_path_factory.mktemp("lambda-runtime")
    for path in runtime_modules("boto3"):
        (folder / path.name).symlink_to(path)
    return folder


@pytest.fixture
def aws(aws_endpoint, mysql_db, mysql_database):
    """The stage's AWS resources on moto: the data bucket, the jobs queue, the app user's database secret,
    the API key."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    s3 = session.client("s3", endpoint_url=aws_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    secrets = session.client("secretsmanager", endpoint_url=aws_endpoint)
    login = server_login(mysql_database)
    database_secret = {"username": APP_USER, "password": APP_PASSWORD, "host": login.host, "port": login.port}
    suffix = mysql_database[-6:]
    db_arn = secrets.create_secret(Name=f"hr/app-{suffix}", SecretString=json.dumps(database_secret))["ARN"]
    key_arn = secrets.create_secret(Name=f"hr/api-key-{suffix}", SecretString=API_KEY)["ARN"]
    sqs = session.client("sqs", endpoint_url=aws_endpoint)
    queue_url = sqs.create_queue(QueueName=f"hr-jobs-{suffix}")["QueueUrl"]
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": aws_endpoint,
        "DB_SECRET_ARN": db_arn,
        "DB_NAME": mysql_database,
        "DB_CA": TEST_CA,  # in AWS the RDS Proxy's certificate verifies against the system trust store
        "DATA_BUCKET": BUCKET,
        "API_KEY": API_KEY,
        "API_KEY_SECRET_ARN": key_arn,
        "JOBS_QUEUE_URL": queue_url,
        "JOBS_INLINE_ROWS": "0",  # every API job goes through the queue, so the worker gets a message to run
        "POWERTOOLS_SERVICE_NAME": "hr-migration",
        "POWERTOOLS_METRICS_NAMESPACE": "hr-migration",
    }
    return s3, sqs, env


def invoke(package: list[Path], runtime: Path, env: dict, calls: list[dict]) -> list:
    """Run `calls` in a fresh interpreter (isolated, no site-packages) that imports only `package` (the
    function's code, its layer) and `runtime`."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(RUNNER), *map(str, package), str(runtime)],
        input=json.dumps(calls),
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def api(method: str, path: str, body: str | None = None, key: str = API_KEY, content_type: str = "application/json"):
    headers = {"x-api-key": key, "content-type": content_type, "host": "example.execute-api.amazonaws.com"}
    return {"api": {"method": method, "path": path, "headers": headers, "body": body}}


def test_every_handler_runs_from_the_package_alone_as_the_app_user_over_tls(lambda_package, lambda_runtime, aws):
    s3, sqs, env = aws
    s3.put_object(Bucket=BUCKET, Key="incoming/departments.csv", Body=b"1,Sales\n2,HR\n")
    etag = s3.head_object(Bucket=BUCKET, Key="incoming/departments.csv")["ETag"].strip('"')
    employees = [
        {"id": 1, "name": "Ann", "datetime": "2021-02-01T10:00:00Z", "department_id": 1, "job_id": 1},
        {"id": 2, "name": "Ben", "datetime": "2021-05-01T10:00:00Z", "department_id": 2, "job_id": 1},
    ]

    loaded, uploaded, batch, report, backup, refused, authorized, denied, scheduled, tested = invoke(
        lambda_package,
        lambda_runtime,
        env,
        [
            {"s3": {"bucket": BUCKET, "key": "incoming/departments.csv", "size": 14, "etag": etag}},
            api("POST", "/uploads/jobs", "1,Engineer\n", content_type="text/csv"),
            api("POST", "/hired_employees", json.dumps(employees)),
            api("GET", "/reports/hires-by-quarter?year=2021"),
            api("POST", "/backups", "{}"),
            api("GET", "/reports/hires-by-quarter?year=2021", key="wrong-key"),
            {"authorize": {"method": "POST", "path": "/hired_employees", "key": API_KEY}},
            {"authorize": {"method": "POST", "path": "/hired_employees", "key": "wrong-key"}},
            {"schedule": "scheduled_backup"},
            {"schedule": "auto_tester", "gateway": True},
        ],
    )
    job = json.loads(backup["body"])
    (message,) = sqs.receive_message(QueueUrl=env["JOBS_QUEUE_URL"], MaxNumberOfMessages=10)["Messages"]
    worked, reaped, purged, checked, watched = invoke(
        lambda_package,
        lambda_runtime,
        env,
        [
            {"sqs": {"function": "job_worker", "bodies": [message["Body"]]}},
            {"schedule": "job_reaper"},
            {"schedule": "scheduled_purge"},
            {"schedule": "scheduled_check"},
            api("GET", f"/background-jobs/{job['id']}"),
        ],
    )

    assert [o["status"] for o in loaded["objects"]] == ["loaded"], loaded
    assert uploaded["statusCode"] == 201 and json.loads(uploaded["body"])["inserted"] == 1, uploaded
    assert batch["statusCode"] == 201 and json.loads(batch["body"])["inserted"] == 2, batch
    assert report["statusCode"] == 200, report
    assert {(r["department"], r["Q1"], r["Q2"]) for r in json.loads(report["body"])} == {("Sales", 1, 0), ("HR", 0, 1)}
    assert backup["statusCode"] == 202 and job["state"] == "queued", backup
    assert refused["statusCode"] == 403 and json.loads(refused["body"])["error"] == "forbidden"
    assert authorized["allowed"] is True and authorized["answer"]["context"]["client"], authorized
    assert denied["allowed"] is False and denied["answer"]["principalId"] == "anonymous", denied
    assert scheduled["tables"]["hired_employees"]["rows"] == 2, scheduled
    assert tested["ok"] is True, tested
    assert worked == [job["id"]], worked
    assert reaped == {"failed": []}, reaped
    assert purged == {"rejections": 0, "audit": 0}, purged  # nothing is 90 days old yet
    assert checked["ok"] is True, checked  # the summary, references and rejection log agree with the tables
    assert watched["statusCode"] == 200 and json.loads(watched["body"])["state"] == "succeeded", watched
    backups = s3.list_objects_v2(Bucket=BUCKET, Prefix="backups/")["Contents"]
    assert len({obj["Key"].split("/")[1] for obj in backups}) == 2  # the API's and the schedule's
