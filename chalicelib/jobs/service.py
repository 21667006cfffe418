"""Starting long work as jobs: check the request, record the job, run it now when it is small or queue
it for a worker; and the scheduled work, which records itself as jobs too.

Where the line is: work on at most JOBS_INLINE_ROWS rows (default 10,000; counted cheaply, never past
the line) runs inside the request, whose answer is the same job, already ended. Bigger work is queued;
from JOBS_GLUE_MIN_ROWS rows (or with ``"engine": "glue"``) a backup or a one-table restore goes to Glue.
Anything wrong with the request itself (unknown table, missing backup) is refused at once (4xx).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from chalicelib import db as databases
from chalicelib.backups import restore as restores
from chalicelib.backups import service as backups
from chalicelib.db import jobs as rows
from chalicelib.db.base import REJECTIONS
from chalicelib.jobs import glue, queue, worker
from chalicelib.jobs.model import BACKUP, FAILED, QUEUED, REPLAY, RESTORE, Job, JobError, JobSettings, now_ms
from chalicelib.jobs.store import JobStore
from chalicelib.rules.dictionary import table as dictionary_table
from chalicelib.runtime.log import logger
from chalicelib.runtime.settings import Settings


class QueueUnavailable(JobError):
    """The queue refused the job (in AWS: SQS unreachable or not allowed)."""


def _planned(db: databases.Database, kind: str, body: Mapping[str, Any], env: Mapping[str, str], line: int):
    """(params, rows expected or None, rows counted up to `line` + 1) of a request, or a 4xx error."""
    if kind == BACKUP:
        tables = backups.tables_named(body.get("tables"))
        counted = sum(rows.rows_up_to(db, t.name, line + 1) for t in tables)
        names = [t.name for t in tables] if body.get("tables") else None
        return {"tables": names}, (counted if counted <= line else None), counted
    if kind == RESTORE:
        table = dictionary_table(body.get("table"))
        with_dependents = body.get("with_dependents", False)
        if not isinstance(with_dependents, bool):
            raise JobError("with_dependents must be true or false")
        store = backups.BackupSettings.from_env(env).store()
        sources = restores.locate(store, body.get("backup"), restores.restore_set(table, with_dependents))
        known = [d.expected_rows for d in sources]
        expected = sum(known) if None not in known else None
        params = {"table": table.name, "backup": body["backup"].strip(), "with_dependents": with_dependents}
        return params, expected, expected if expected is not None else line + 1
    if kind == REPLAY:
        names = body.get("tables") or []
        if not isinstance(names, list):
            raise JobError("tables must be a list of table names")
        tables = [dictionary_table(name).name for name in names] or None
        source = body.get("source")
        if source is not None and not isinstance(source, str):
            raise JobError("source must be a string")
        counted = rows.rows_up_to(db, REJECTIONS, line + 1)
        expected = counted if counted <= line and not tables and source is None else None
        return {"tables": tables, "source": source}, expected, counted
    raise JobError(f"unknown kind of job {kind!r}")


def submit(kind: str, body: Mapping[str, Any], source: str = "api", env: Mapping[str, str] | None = None) -> Job:
    """Start `kind` of work as asked in `body`: the job, ended already when the work was small."""
    env = dict(os.environ if env is None else env)
    config = Settings.from_env(env)
    settings = JobSettings.from_env(env)
    db = databases.for_url(config.database_url)
    store = JobStore(db, settings)
    params, expected, counted = _planned(db, kind, body, env, settings.inline_rows)
    glue_job = glue.job_for(kind, body, counted if expected is None else expected, settings)
    if glue_job:
        params["glue_job"] = glue_job
    job = store.create(kind, params, source, rows_expected=expected)
    if not glue_job and counted <= settings.inline_rows:
        return worker.run(job.id, env) or store.get(job.id, refresh=False)
    try:
        queue.for_settings(settings, config.in_lambda).send(job.id, env)
    except Exception as exc:
        logger.exception("job not queued", extra={"job": job.id})
        error = {"error": "not queued", "detail": f"the jobs queue refused the job: {exc}"}
        rows.update(db, job.id, {"state": FAILED, "error": error, "finished_at": now_ms()}, state=QUEUED)
        raise QueueUnavailable(f"the job could not be queued ({exc}); it is recorded as failed: {job.id}") from exc
    return job


def retry(job_id: str, env: Mapping[str, str] | None = None) -> Job:
    """A new job doing what the failed or cancelled `job_id` was asked to, queued."""
    env = dict(os.environ if env is None else env)
    config, settings = Settings.from_env(env), JobSettings.from_env(env)
    job = JobStore(databases.for_url(config.database_url), settings).retry(job_id)
    queue.for_settings(settings, config.in_lambda).send(job.id, env)
    return job


def store(env: Mapping[str, str] | None = None) -> JobStore:
    env = dict(os.environ if env is None else env)
    return JobStore(databases.for_url(Settings.from_env(env).database_url), JobSettings.from_env(env))


def scheduled_backup(env: Mapping[str, str] | None = None) -> dict:
    """The scheduled backup, recorded as a `backup` job (source `schedule`) and run here; its result.
    Raises when it fails, so the function's error metric and alarm see it."""
    env = dict(os.environ if env is None else env)
    jobs = store(env)
    job = jobs.create(BACKUP, {"scheduled": True}, "schedule")
    ended = worker.run(job.id, env) or jobs.get(job.id, refresh=False)
    if ended.state != "succeeded":
        raise RuntimeError(f"scheduled backup job {ended.id} {ended.state}: {ended.error}")
    return ended.result


def run_queued(bodies: list[str], env: Mapping[str, str] | None = None) -> list[str]:
    """The worker function: run the job each queue message names (a job not queued is skipped)."""
    done = []
    for body in bodies:
        job_id = queue.job_id_of(body)
        if job_id is None:
            logger.warning("queue message names no job", extra={"body": body[:200]})
            continue
        worker.run(job_id, env)
        done.append(job_id)
    return done


def refresh(env: Mapping[str, str] | None = None) -> list[str]:
    """The scheduled reaper: fail jobs whose worker stopped, follow Glue runs; the ids failed."""
    return store(env).refresh()
