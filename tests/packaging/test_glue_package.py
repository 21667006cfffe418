"""The Glue zip (`glue/build_package.py`: the jobs' ``--extra-py-files``) and a job script, copied into a
folder holding nothing else and run by an isolated interpreter as Glue 5.0 runs them: the zip first on
the import path, beside only what Glue provides (pyspark, boto3, awsglue); the zip shipped to Spark's
Python workers too. The load job reads the app user's secret (moto) and writes over verified TLS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.conftest import APP_PASSWORD, APP_USER, TEST_CA, server_login
from tests.glue.conftest import JDBC_JAR, LOCAL_JDBC_DRIVER
from tests.packaging.conftest import runtime_modules

ROOT = Path(__file__).resolve().parents[2]
GLUE_RUNTIME = ("boto3", "pyspark", "awsgluedataplanepython")
# Glue's driver: the script runs with the zip on sys.path and in Spark's pyFiles, and the job's main()
# is given the session (GlueContext exists only in Glue).
DRIVER = """
import json, runpy, sys
archive, runtime, script, jar, argv = sys.argv[1:6]
sys.path[:0] = [archive, runtime]
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.jars", jar).config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "1").getOrCreate())
spark.sparkContext.setLogLevel("FATAL")
spark.sparkContext.addPyFile(archive)
job = runpy.run_path(script, run_name="glue_job")
import chalicelib, hrjobs, pymysql
outside = [m.__name__ for m in (chalicelib, hrjobs, pymysql) if not m.__file__.startswith(archive)]
assert not outside, f"imported from outside the zip: {outside}"
print(json.dumps(job["main"](json.loads(argv), spark), default=str))
spark.stop()
"""


def test_the_load_job_runs_from_the_zip_alone_as_the_app_user_over_tls(
    tmp_path, aws_endpoint, mysql_db, mysql_database
):
    if shutil.which("java") is None or not Path(JDBC_JAR).is_file():
        pytest.fail("the Glue zip test needs java and the MariaDB JDBC driver (make system-deps)")
    import build_package  # glue/ is on the path (tests/glue/conftest.py), as for the other Glue tests

    job_folder = tmp_path / "job"
    job_folder.mkdir()
    archive = build_package.build(job_folder)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for path in runtime_modules(*GLUE_RUNTIME):
        (runtime / path.name).symlink_to(path)
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    login = server_login(mysql_database)
    secret = {
        "username": APP_USER,
        "password": APP_PASSWORD,
        "host": login.host,
        "port": login.port,
        "dbname": login.name,
    }
    arn = session.client("secretsmanager", endpoint_url=aws_endpoint).create_secret(
        Name=f"hr/glue-{mysql_database[-6:]}", SecretString=json.dumps(secret)
    )["ARN"]
    incoming = tmp_path / "bucket" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "departments.csv").write_text("1,Sales\n2,HR\nx,Broken\n")
    argv = ["load_csv.py", "--JOB_NAME", "hr-load", "--SOURCE", (incoming / "departments.csv").as_uri()]
    argv += ["--DB_SECRET_ARN", arn, "--DB_CA", TEST_CA, "--JDBC_DRIVER", LOCAL_JDBC_DRIVER]
    argv += ["--READ_PARTITIONS", "1", "--WRITE_CONNECTIONS", "1"]  # a tiny file: fewer Spark tasks
    env = {
        "PATH": os.environ["PATH"],
        "JAVA_HOME": os.environ.get("JAVA_HOME", ""),
        "PYSPARK_PYTHON": sys.executable,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": aws_endpoint,
    }

    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", DRIVER, str(archive), str(runtime), str(job_folder / "load_csv.py")]
        + [JDBC_JAR, json.dumps(argv)],
        cwd=job_folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    [loaded] = summary["files"]
    assert (loaded["inserted"], loaded["rejected"]) == (2, 1)
    assert mysql_db.query("SELECT id, department FROM `departments` ORDER BY id") == [(1, "Sales"), (2, "HR")]
