"""Work that outgrows the worker goes to the matching Glue job; the job record follows the run.

A backup goes to the backup job (``--BACKUP_ROOT``, ``--BACKUP_ID``, ``--TABLES``), a one-table restore
to the restore job (``--TABLE``, ``--BACKUP``). The job stays `running` with the run's id; every read of
the jobs (and the scheduled reaper) asks Glue for the run's state and ends the job with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.backups import layout as backup_layout
from chalicelib.jobs.model import BACKUP, CANCELLED, FAILED, RESTORE, RUNNING, SUCCEEDED, Job, JobError, JobSettings
from chalicelib.runtime.log import logger
from chalicelib.runtime.settings import Settings

if TYPE_CHECKING:
    from chalicelib.jobs.store import JobStore

_STILL_RUNNING = {"STARTING", "RUNNING", "STOPPING", "WAITING"}
_ENDS = {"SUCCEEDED": SUCCEEDED, "STOPPED": CANCELLED}  # any other end state (FAILED, ERROR, TIMEOUT, ...) fails


def client() -> Any:
    import boto3

    return boto3.client("glue")


def job_for(kind: str, params: Mapping[str, Any], rows_expected: int | None, settings: JobSettings) -> str | None:
    """The Glue job to hand this work to, or None to run it in the worker. Asked for with
    ``"engine": "glue"``, or chosen when the rows reach JOBS_GLUE_MIN_ROWS and the job is configured."""
    engine = params.get("engine")
    if engine not in (None, "glue", "worker"):
        raise JobError(f'engine must be "glue" or "worker", got {engine!r}')
    name = {BACKUP: settings.glue_backup_job, RESTORE: settings.glue_restore_job}.get(kind)
    if engine == "glue":
        if kind == RESTORE and params.get("with_dependents"):
            raise JobError("the Glue restore job restores one table: restore with_dependents in the worker")
        if not name:
            raise JobError(f"no Glue job is configured for {kind} (GLUE_BACKUP_JOB / GLUE_RESTORE_JOB)")
        return name
    big = settings.glue_min_rows and rows_expected is not None and rows_expected >= settings.glue_min_rows
    if engine is None and name and big and not (kind == RESTORE and params.get("with_dependents")):
        return name
    return None


def _arguments(job: Job, env: Mapping[str, str]) -> dict[str, str]:
    bucket = Settings.from_env(env).data_bucket
    if not bucket:
        raise JobError("Glue runs read and write the data bucket, and none is configured (DATA_BUCKET)")
    if job.kind == BACKUP:
        args = {"--BACKUP_ROOT": f"s3://{bucket}/", "--BACKUP_ID": backup_layout.new_backup_id()}
        if job.params.get("tables"):
            args["--TABLES"] = ",".join(job.params["tables"])
        return args
    ref = str(job.params["backup"]).strip().strip("/")
    if "/" not in ref and not ref.endswith(".avro"):
        ref = backup_layout.backup_prefix(ref)
    return {"--TABLE": job.params["table"], "--BACKUP": f"s3://{bucket}/{ref}"}


def start_run(job: Job, glue_job: str, env: Mapping[str, str], glue: Any = None) -> str:
    """Start the Glue run doing `job`; its run id."""
    arguments = _arguments(job, env)
    run_id = (glue or client()).start_job_run(JobName=glue_job, Arguments=arguments)["JobRunId"]
    logger.info("job handed to Glue", extra={"job": job.id, "glue_job": glue_job, "run_id": run_id})
    return run_id


def _result(job: Job, run: Mapping[str, Any]) -> dict:
    arguments = run.get("Arguments") or {}
    result = {"glue_job": job.glue_job, "run_id": job.glue_run_id, "seconds": run.get("ExecutionTime")}
    if job.kind == BACKUP:
        result["backup"] = arguments.get("--BACKUP_ID")
    else:
        result.update(table=arguments.get("--TABLE"), source=arguments.get("--BACKUP"))
    return result


def follow_runs(store: JobStore, glue: Any = None) -> None:
    """End every job handed to Glue whose run has ended, as it ended."""
    from chalicelib.db import jobs as rows
    from chalicelib.jobs.model import now_ms

    for row in rows.running(store.db, glue=True):
        job = Job.from_row(row)
        try:
            run = (glue or client()).get_job_run(JobName=job.glue_job, RunId=job.glue_run_id)["JobRun"]
        except Exception as exc:  # Glue unreachable or the run unknown: try again on the next read
            logger.warning("Glue run not read", extra={"job": job.id, "run_id": job.glue_run_id, "detail": str(exc)})
            continue
        state = run.get("JobRunState")
        if state in _STILL_RUNNING:
            rows.update(store.db, job.id, {"heartbeat_at": now_ms()}, state=RUNNING, glue_run_id=job.glue_run_id)
            continue
        ended = _ENDS.get(state, FAILED)
        error = None
        if ended == FAILED:
            error = {"error": f"Glue run {str(state).lower()}", "detail": run.get("ErrorMessage") or state}
        elif ended == CANCELLED:
            error = {"error": "cancelled", "detail": "the Glue run was stopped"}
        changes = {"state": ended, "finished_at": now_ms(), "error": error}
        if ended == SUCCEEDED:
            changes["result"] = _result(job, run)
        if rows.update(store.db, job.id, changes, state=RUNNING, glue_run_id=job.glue_run_id):
            logger.info("Glue run ended", extra={"job": job.id, "run_id": job.glue_run_id, "state": state})


def stop_run(job: Job, glue: Any = None) -> bool:
    """Ask Glue to stop the job's run (the job ends `cancelled` once the run is STOPPED)."""
    try:
        (glue or client()).batch_stop_job_run(JobName=job.glue_job, JobRunIds=[job.glue_run_id])
    except Exception as exc:  # the run may have ended meanwhile; the next read follows its end state
        logger.warning("Glue run not stopped", extra={"job": job.id, "run_id": job.glue_run_id, "detail": str(exc)})
        return False
    return True
