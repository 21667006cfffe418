"""What a job is: its kinds, states and record as the API shows it, the settings of the job machinery,
and the errors a job request can meet."""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.db.jobs import CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, SUCCEEDED
from chalicelib.runtime.settings import ConfigurationError

__all__ = ["CANCELLED", "FAILED", "FINISHED", "QUEUED", "RUNNING", "SUCCEEDED"]

BACKUP, RESTORE, REPLAY = "backup", "restore", "replay"
KINDS = (BACKUP, RESTORE, REPLAY)
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
ID_PATTERN = re.compile(r"^[0-9a-f]{20}$")


class JobError(Exception):
    """A job request that cannot be met (chalicelib.api.errors.ERRORS says how each kind is answered)."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class JobNotFound(JobError):
    """No job has that id."""


class JobFinished(JobError):
    """The job ended already: it cannot be cancelled."""


class JobNotRetryable(JobError):
    """Only a failed or cancelled job can be retried."""


def now_ms() -> int:
    return int(time.time() * 1000)


_last_id_ms = [0]
_id_lock = threading.Lock()


def new_job_id() -> str:
    """12 hex digits of milliseconds then 8 random ones: ids sort by creation time (within a process,
    strictly: a second job in the same millisecond takes the next one)."""
    with _id_lock:
        ms = _last_id_ms[0] = max(now_ms(), _last_id_ms[0] + 1)
    return f"{ms:012x}{secrets.token_hex(4)}"


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    state: str
    source: str
    params: dict
    result: dict | None
    error: dict | None
    rows_done: int
    rows_expected: int | None
    attempts: int
    cancel_requested: bool
    lease: str | None
    glue_job: str | None
    glue_run_id: str | None
    retry_of: str | None
    created_at: int
    started_at: int | None
    finished_at: int | None
    heartbeat_at: int | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Job:
        return cls(**{**row, "cancel_requested": bool(row["cancel_requested"])})

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def location(self) -> str:
        return f"/background-jobs/{self.id}"

    def to_dict(self) -> dict:
        """The job as the API and the CLI show it."""
        end = self.finished_at if self.finished_at is not None else (now_ms() if self.started_at else None)
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "source": self.source,
            "params": self.params,
            "progress": {"rows_done": self.rows_done, "rows_expected": self.rows_expected},
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "heartbeat_at": iso(self.heartbeat_at),
            "seconds": round((end - self.started_at) / 1000, 3) if self.started_at and end else None,
            "attempts": self.attempts,
            "cancel_requested": self.cancel_requested,
            "glue": {"job": self.glue_job, "run_id": self.glue_run_id} if self.glue_run_id else None,
            "retry_of": self.retry_of,
            "result": self.result,
            "error": self.error,
            "location": self.location,
        }


def _int(env: Mapping[str, str], name: str, default: int, least: int = 0) -> int:
    value = env.get(name)
    if not value:
        return default
    if not value.strip().isdigit() or int(value) < least:
        raise ConfigurationError(f"{name} must be a whole number of at least {least}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class JobSettings:
    queue_url: str | None  # SQS queue of the worker function; None: the in-process queue (local only)
    heartbeat_seconds: float  # how often a running job records that it is alive, and its progress
    stale_seconds: int  # a running job silent this long is marked failed
    inline_rows: int  # work on at most this many rows is done inside the request
    glue_min_rows: int  # from this many rows on, backups and restores go to Glue (0: only when asked)
    glue_backup_job: str | None
    glue_restore_job: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> JobSettings:
        env = os.environ if env is None else env
        heartbeat = env.get("JOBS_HEARTBEAT_SECONDS") or "5"
        try:
            heartbeat_seconds = float(heartbeat)
        except ValueError:
            raise ConfigurationError(f"JOBS_HEARTBEAT_SECONDS must be a number, got {heartbeat!r}") from None
        return cls(
            queue_url=env.get("JOBS_QUEUE_URL") or None,
            heartbeat_seconds=heartbeat_seconds,
            stale_seconds=_int(env, "JOBS_STALE_SECONDS", 120, least=1),
            inline_rows=_int(env, "JOBS_INLINE_ROWS", 10_000),
            glue_min_rows=_int(env, "JOBS_GLUE_MIN_ROWS", 0),
            glue_backup_job=env.get("GLUE_BACKUP_JOB") or None,
            glue_restore_job=env.get("GLUE_RESTORE_JOB") or None,
        )
