"""Jobs in the service's database, through the backends: what the API, the CLI and the workers share.

Every change of state is conditional on the state it leaves (see `chalicelib.db.jobs`), so a
redelivered message, a second worker, a cancel and the reaper cannot both win.
"""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.db import Database, DatabaseUnavailable
from chalicelib.db import jobs as rows
from chalicelib.jobs.model import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    Job,
    JobFinished,
    JobNotFound,
    JobNotRetryable,
    JobSettings,
    new_job_id,
    now_ms,
)
from chalicelib.runtime.log import logger


class JobStore:
    def __init__(self, db: Database, settings: JobSettings | None = None):
        self.db = db
        self.settings = settings or JobSettings.from_env()

    # -- reading ----------------------------------------------------------------------------------

    def get(self, job_id: str, refresh: bool = True) -> Job:
        """The job (JobNotFound when there is none), with a dead worker's job marked failed first."""
        if refresh:
            self.refresh()
        row = rows.get(self.db, job_id)
        if row is None:
            raise JobNotFound(f"no job {job_id}")
        return Job.from_row(row)

    def list(
        self, kind: str | None = None, state: str | None = None, before: str | None = None, limit: int = 100
    ) -> list[Job]:
        self.refresh()
        return [Job.from_row(r) for r in rows.listing(self.db, kind, state, before, limit)]

    def refresh(self) -> list[str]:
        """Mark failed every job whose worker stopped beating, and bring Glue-run jobs up to date with
        their runs. Best effort: a busy database (an embedded one mid-restore) leaves it to the next read."""
        try:
            reaped = self.reap()
            from chalicelib.jobs import glue

            glue.follow_runs(self)
        except DatabaseUnavailable as exc:
            logger.warning("jobs not refreshed", extra={"detail": str(exc)})
            return []
        return reaped

    def reap(self) -> list[str]:
        """Fail the running jobs (not Glue's) whose heartbeat is older than the limit; their ids."""
        limit = self.settings.stale_seconds
        cutoff = now_ms() - limit * 1000
        reaped = []
        for row in rows.running(self.db, glue=False):
            if (row["heartbeat_at"] or 0) >= cutoff:
                continue
            error = {
                "error": "worker stopped",
                "detail": f"no heartbeat for more than {limit} s (last at {row['heartbeat_at']} ms): the worker "
                "ended (process killed, function timed out) before finishing; retry the job",
            }
            changes = {"state": FAILED, "error": error, "finished_at": now_ms(), "lease": None}
            if rows.update(self.db, row["id"], changes, state=RUNNING, heartbeat_before=cutoff):
                logger.warning("job failed: no heartbeat", extra={"job": row["id"], "kind": row["kind"]})
                reaped.append(row["id"])
        return reaped

    def latest(self, kind: str, state: str) -> Job | None:
        found = rows.listing(self.db, kind, state, limit=1)
        return Job.from_row(found[0]) if found else None

    # -- writing ----------------------------------------------------------------------------------

    def create(
        self,
        kind: str,
        params: dict,
        source: str,
        rows_expected: int | None = None,
        retry_of: str | None = None,
    ) -> Job:
        job_id = new_job_id()
        rows.insert(
            self.db,
            {
                "id": job_id,
                "kind": kind,
                "state": QUEUED,
                "source": source,
                "params": params,
                "rows_expected": rows_expected,
                "retry_of": retry_of,
                "created_at": now_ms(),
            },
        )
        return self.get(job_id, refresh=False)

    def claim(self, job_id: str) -> str | None:
        """Take a queued job for this worker: its lease, or None when it is not queued (already taken,
        finished, cancelled: a redelivered message then does nothing)."""
        lease = secrets.token_hex(16)
        at = now_ms()
        changes = {"state": RUNNING, "lease": lease, "started_at": at, "heartbeat_at": at, "attempts": "+1"}
        return lease if rows.update(self.db, job_id, changes, state=QUEUED) else None

    def beat(self, job_id: str, lease: str, rows_done: int) -> tuple[bool, bool]:
        """Record that the job is alive and how far it got: (still ours, cancel requested)."""
        alive = rows.update(self.db, job_id, {"heartbeat_at": now_ms(), "rows_done": rows_done}, lease=lease)
        row = rows.get(self.db, job_id)
        alive = alive and row is not None and row["state"] == RUNNING
        return alive, bool(row and row["cancel_requested"])

    def finish(
        self,
        job_id: str,
        lease: str,
        state: str,
        result: Any = None,
        error: dict | None = None,
        rows_done: int | None = None,
    ) -> bool:
        changes: dict[str, Any] = {"state": state, "result": result, "error": error, "finished_at": now_ms()}
        if rows_done is not None:
            changes["rows_done"] = rows_done
        return rows.update(self.db, job_id, changes, state=RUNNING, lease=lease)

    def handed_to_glue(self, job_id: str, lease: str, glue_job: str, run_id: str) -> bool:
        changes = {"glue_job": glue_job, "glue_run_id": run_id, "heartbeat_at": now_ms(), "lease": None}
        return rows.update(self.db, job_id, changes, state=RUNNING, lease=lease)

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once; ask a running one to stop (it rolls back and ends `cancelled`)."""
        job = self.get(job_id)
        if job.finished:
            raise JobFinished(f"job {job_id} is already {job.state}")
        error = {"error": "cancelled", "detail": "cancelled before it started"}
        if not rows.update(
            self.db, job_id, {"state": CANCELLED, "error": error, "finished_at": now_ms()}, state=QUEUED
        ):
            rows.update(self.db, job_id, {"cancel_requested": 1}, state=RUNNING)
        if job.glue_run_id:
            from chalicelib.jobs import glue

            glue.stop_run(job)
        return self.get(job_id, refresh=False)

    def retry(self, job_id: str) -> Job:
        """A new job doing what a failed or cancelled one was asked to."""
        job = self.get(job_id)
        if job.state not in (FAILED, CANCELLED):
            raise JobNotRetryable(f"job {job_id} is {job.state}; only failed or cancelled jobs are retried")
        return self.create(job.kind, job.params, job.source, job.rows_expected, retry_of=job.id)
