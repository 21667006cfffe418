"""How a job starts: its arguments through Glue's `getResolvedOptions`, and its SparkSession (Glue's,
or the one a local caller passes in)."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pyspark.sql import SparkSession

# Where each job finds the database; every job takes them (exactly one of the first two).
DATABASE_OPTIONS: dict[str, str | None] = {
    "DB_SECRET_ARN": None,  # Secrets Manager secret: username, password, host, port, dbname
    "CONNECTION_NAME": None,  # or a Glue JDBC connection (its secret, or its USERNAME / PASSWORD)
    "DB_HOST": None,  # overrides the secret's host (e.g. an RDS Proxy endpoint)
    "DB_NAME": None,  # overrides the secret's dbname
    "DB_TLS": None,  # verified TLS unless "false"
    "DB_CA": None,  # PEM file of the server's CA (pymysql, MariaDB's driver); default: the trust store
    "JDBC_DRIVER": None,  # default: Glue's MySQL Connector/J
}


def job_arguments(
    argv: Sequence[str], required: Sequence[str], optional: Mapping[str, str | None]
) -> dict[str, str | None]:
    """The job's parameters (``--NAME value``): `required` ones must be given; `optional` ones default.

    `getResolvedOptions` treats every name it is given as required, so optional names are passed
    to it only when present.
    """
    from awsglue.utils import getResolvedOptions

    wanted = list(required) + [
        name for name in {**DATABASE_OPTIONS, **optional, "JOB_NAME": None} if f"--{name}" in argv
    ]
    resolved = getResolvedOptions(list(argv), wanted)
    out = {**DATABASE_OPTIONS, "JOB_NAME": None, **optional}
    out.update({name: resolved[name] for name in wanted})
    out["TempDir"] = resolved.get("TempDir")  # Glue's scratch folder, when the job has one
    return out


def configure(spark: SparkSession) -> SparkSession:
    """Session settings the jobs rely on: DATETIME values are UTC, and casts between wall-clock
    (NTZ) and instants (Avro's timestamp-millis) must use UTC."""
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # The load job caches its parsed file once and reads it a few times: building compressed column
    # batches cost more (2-3 s per million rows here) than the memory they save.
    spark.conf.set("spark.sql.inMemoryColumnarStorage.compressed", "false")
    return spark


@contextlib.contextmanager
def job_session(args: Mapping[str, str | None], spark: SparkSession | None = None) -> Iterator[SparkSession]:
    """The session a job runs in: `spark` when given (local runs, tests), else Glue's, with the job
    run initialised and committed around the block."""
    if spark is not None:
        yield configure(spark)
        return
    from awsglue.context import GlueContext  # only under Glue: GlueContext does not work locally
    from awsglue.job import Job
    from pyspark.context import SparkContext

    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args.get("JOB_NAME") or "hr-job", dict(args))
    session = configure(glue_context.spark_session)
    if args.get("TempDir"):
        # Reliable checkpoints (S3) survive a lost executor; without TempDir the jobs checkpoint locally.
        session.sparkContext.setCheckpointDir(args["TempDir"].rstrip("/") + "/checkpoints/")
    yield session
    job.commit()


def report(summary: Mapping) -> None:
    """Print a job's outcome as one JSON line (it lands in the job run's output log)."""
    print(json.dumps(summary, sort_keys=True, default=str))
    sys.stdout.flush()


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def run_job(
    name: str,
    job: Callable[[SparkSession, Any, Mapping[str, str | None]], dict],
    required: Sequence[str],
    optional: Mapping[str, str | None],
    argv: Sequence[str] | None = None,
    spark: SparkSession | None = None,
) -> dict:
    """What every job's `main` does: log, resolve its arguments, find its database, run `job(session,
    target, args)` in the job's session, and print its summary (``{"job": name, ...}``)."""
    from hrjobs import database

    setup_logging()
    args = job_arguments(sys.argv if argv is None else argv, required, optional)
    target = database.target_from_job_arguments(args)
    return run_with_target(name, job, args, target, spark)


def run_with_target(
    name: str,
    job: Callable[[SparkSession, Any, Mapping[str, str | None]], dict],
    args: Mapping[str, str | None],
    target: Any,
    spark: SparkSession | None = None,
) -> dict:
    """`run_job` once the arguments are resolved and the database found (glue.local finds it from a URL)."""
    with job_session(args, spark) as session:
        summary = {"job": name, **job(session, target, args)}
    report(summary)
    return summary
