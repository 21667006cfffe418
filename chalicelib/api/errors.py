"""The one place failures become HTTP answers: every error is JSON ``{"error": ..., "detail": ...}``.

Services raise their own domain errors; `ERRORS` says which status and title each one gets. Bad input
is a 4xx, an unavailable database or store a 503, and nothing else ever shows a stack trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib import db as databases
from chalicelib.api.responses import json_response
from chalicelib.backups import service as backups
from chalicelib.jobs import model as jobs
from chalicelib.jobs.service import QueueUnavailable
from chalicelib.loading import loader, updates, uploads
from chalicelib.rules.dictionary import UnknownTable
from chalicelib.runtime.log import logger
from chalicelib.runtime.settings import ConfigurationError


class ApiError(Exception):
    """A request the HTTP layer itself refuses (bad JSON, a bad page, a missing row), with its answer."""

    def __init__(self, status: int, error: str, detail: Any = None):
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail


# Domain error class -> (status, error title); a subclass not listed gets its nearest listed base's.
ERRORS: dict[type[Exception], tuple[int, str]] = {
    UnknownTable: (404, "unknown table"),
    databases.ReferencedRow: (409, "row is referenced"),
    databases.ReferencedTable: (409, "table is referenced"),
    updates.IdChangeRefused: (409, "id cannot change"),
    updates.EmptyUpdate: (400, "invalid body"),
    databases.DatabaseError: (503, "database unavailable"),
    databases.InvalidDatabaseUrl: (503, "database unavailable"),
    ConfigurationError: (503, "database unavailable"),
    backups.BackupError: (500, "backup failed"),
    backups.InvalidRequest: (400, "invalid request"),
    backups.BackupNotFound: (404, "backup not found"),
    backups.InvalidBackup: (422, "invalid backup"),
    backups.RestoreRefused: (409, "restore would break references"),
    backups.StorageUnavailable: (503, "backup storage unavailable"),
    backups.BackupNotConfigured: (503, "backups not configured"),
    uploads.EmptyUpload: (400, "empty file"),
    loader.UnreadableFile: (400, "unreadable file"),
    loader.LoadStopped: (503, "load stopped part-way"),
    uploads.InvalidFilename: (400, "invalid filename"),
    uploads.UploadsNotConfigured: (503, "uploads to S3 are not configured"),
    uploads.UploadUrlUnavailable: (503, "cannot sign an upload URL"),
    jobs.JobError: (400, "invalid job request"),
    jobs.JobNotFound: (404, "job not found"),
    jobs.JobFinished: (409, "job already finished"),
    jobs.JobNotRetryable: (409, "job cannot be retried"),
    QueueUnavailable: (503, "jobs queue unavailable"),
}


# The short causes a database 503 names. The backends' messages begin with these words; the rest (which
# may name the host, user, database or tables) is logged, never answered.
DATABASE_CAUSES = {
    "schema missing": "schema missing: create it (POST /admin/schema, or the CLI's `schema create`)",
    "database refused access": "access denied",
    "database connection lost": "cannot connect",
    "connection closed": "connection lost",
    "transaction rolled back": "transaction rolled back; try again",
    "database is busy": "database busy; try again",
}
# Errors whose message may carry the database's own text: they answer a short cause instead.
CONFIDENTIAL = (databases.DatabaseError, databases.InvalidDatabaseUrl, ConfigurationError)


def public_detail(exc: BaseException) -> str:
    """What a caller may read of a database or configuration failure: a short cause, no names."""
    if isinstance(exc, (databases.InvalidDatabaseUrl, ConfigurationError)):
        return "the service's database is not configured correctly"
    message = str(exc)
    for start, cause in DATABASE_CAUSES.items():
        if message.startswith(start):
            return cause
    return "database unavailable"


def answer_for(exc: BaseException) -> tuple[int, str] | None:
    """(status, error title) for a domain error, from `ERRORS`; None for anything else."""
    for cls in type(exc).__mro__:
        if cls in ERRORS:
            return ERRORS[cls]
    return None


def error_title(exc: BaseException) -> str:
    """How a domain error is named to people (the CLI prints the same titles as the API)."""
    answer = answer_for(exc)
    return answer[1] if answer else type(exc).__name__


def error_response(status: int, error: str, detail: Any = None) -> Response:
    return json_response({"error": error, "detail": detail}, status)


def handles_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure of a view into a JSON error response with the right status."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            result = view(*args, **kwargs)
        except ApiError as exc:
            return error_response(exc.status, exc.error, exc.detail)
        except Exception as exc:
            answer = answer_for(exc)
            if answer is None:
                logger.exception("unhandled error")
                return error_response(500, "internal error", "the error was logged")
            status, title = answer
            # Backup errors may carry structured detail (the references a restore would break).
            detail = getattr(exc, "detail", None) if isinstance(exc, backups.BackupError) else str(exc)
            if status >= 500:
                logger.error(title, extra={"detail": str(exc)})
                if isinstance(exc, CONFIDENTIAL):
                    detail = public_detail(exc)
            return error_response(status, title, detail)
        return result if isinstance(result, Response) else json_response(result)

    return wrapper
