"""The worker: takes a queued job, runs its work with a heartbeat, and records how it ended.

The same function runs a job wherever it is run: in the worker Lambda function (one SQS message per
job), on the local worker thread, inside a request (small work), in the scheduled backup. Claiming is
a conditional UPDATE from `queued`, so a message delivered twice runs its job once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from chalicelib import db as databases
from chalicelib.backups.service import BackupError
from chalicelib.db import jobs as rows
from chalicelib.jobs import glue
from chalicelib.jobs.model import BACKUP, CANCELLED, FAILED, REPLAY, RESTORE, SUCCEEDED, Job, JobError, JobSettings
from chalicelib.jobs.store import JobStore
from chalicelib.jobs.work import WORK, JobStopped, ObservedDatabase, Progress, rows_expected
from chalicelib.runtime.log import logger
from chalicelib.runtime.settings import Settings


class Heartbeat:
    """A thread recording, every `interval` seconds, that the job is alive and its rows done, and
    passing a cancel (or the loss of the job to the reaper) on to the work through `progress`."""

    def __init__(self, store: JobStore, job_id: str, lease: str, progress: Progress, interval: float):
        self.store, self.job_id, self.lease, self.progress = store, job_id, lease, progress
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-heartbeat-{job_id}", daemon=True)
        self.interval = interval

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._done.wait(self.interval):
                try:
                    alive, cancel = self.store.beat(self.job_id, self.lease, self.progress.rows_done)
                except databases.DatabaseError as exc:  # e.g. SQLite locked by the restore itself
                    logger.warning("heartbeat not recorded", extra={"job": self.job_id, "detail": str(exc)})
                    continue
                if not alive:
                    self.progress.stop("the job was taken from this worker (marked failed meanwhile)", False)
                elif cancel:
                    self.progress.stop("cancelled on request", True)
        finally:
            self.store.db.close()  # this thread's connection


_AFTER_CANCEL = {
    BACKUP: "the partial backup was removed",
    RESTORE: "the restore was rolled back: the tables are as they were",
    REPLAY: "rows replayed before the cancel stay replayed; replay again to continue",
}


def _error(exc: BaseException) -> dict:
    """The failure as the API would answer it: the job record shows the same title and status."""
    from chalicelib.api.errors import answer_for

    answer = answer_for(exc)
    if answer is None:
        return {"error": "internal error", "detail": f"{type(exc).__name__}: {exc}", "status": 500}
    status, title = answer
    detail = exc.detail if isinstance(exc, (BackupError, JobError)) else str(exc)
    return {"error": title, "detail": detail, "status": status}


def run(job_id: str, env: Mapping[str, str] | None = None) -> Job | None:
    """Run the queued job `job_id` to its end (or hand it to Glue); None when it was not queued."""
    env = dict(os.environ if env is None else env)
    db = databases.for_url(Settings.from_env(env).database_url)
    settings = JobSettings.from_env(env)
    store = JobStore(db, settings)
    lease = store.claim(job_id)
    if lease is None:
        logger.info("job not claimed: not queued", extra={"job": job_id})
        return None
    job = store.get(job_id, refresh=False)
    glue_job = job.params.get("glue_job")
    if glue_job:
        try:
            run_id = glue.start_run(job, glue_job, env)
        except Exception as exc:
            logger.exception("Glue run not started", extra={"job": job.id})
            store.finish(job.id, lease, FAILED, error=_error(exc))
        else:
            store.handed_to_glue(job.id, lease, glue_job, run_id)
        return store.get(job.id, refresh=False)
    if job.rows_expected is None:
        expected = rows_expected(db, job.kind, job.params)
        if expected is not None:
            rows.update(db, job.id, {"rows_expected": expected}, lease=lease)
    progress = Progress()
    state, result, error = SUCCEEDED, None, None
    with Heartbeat(store, job.id, lease, progress, settings.heartbeat_seconds):
        try:
            result = WORK[job.kind](ObservedDatabase(db, progress), job.params, env)
        except JobStopped as stop:
            if not stop.cancelled:
                logger.warning(
                    "job taken from this worker; its work stopped", extra={"job": job.id, "detail": str(stop)}
                )
                return store.get(job.id, refresh=False)
            state, error = CANCELLED, {"error": "cancelled", "detail": f"{stop}; {_AFTER_CANCEL[job.kind]}"}
        except Exception as exc:
            logger.exception("job failed", extra={"job": job.id, "kind": job.kind})
            state, error = FAILED, _error(exc)
    if not store.finish(job.id, lease, state, result=result, error=error, rows_done=progress.rows_done):
        logger.warning("job ended after it was taken from this worker", extra={"job": job.id, "state": state})
    logger.info("job ended", extra={"job": job.id, "kind": job.kind, "state": state, "rows": progress.rows_done})
    return store.get(job.id, refresh=False)
