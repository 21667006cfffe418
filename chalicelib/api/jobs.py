"""HTTP for jobs: the 202 answer of the routes that start long work, and the routes that watch,
list, cancel and retry jobs (a Blueprint). They live under ``/background-jobs``: ``/jobs`` is the job
titles' table."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.errors import ApiError, handles_errors
from chalicelib.api.parsing import DEFAULT_PAGE, JSON_BODIES, MAX_PAGE, positive_int
from chalicelib.api.responses import json_response
from chalicelib.jobs import service as jobs
from chalicelib.jobs.model import ID_PATTERN, KINDS, STATES, Job

blueprint = Blueprint(__name__)
PREFIX = "/background-jobs"


def accepted(job: Job) -> Response:
    """202 with the job and where to watch it (also for small work already done in the request)."""
    return json_response(job.to_dict(), 202, headers={"Location": f"{PREFIX}/{job.id}"})


def submit(kind: str, body: dict[str, Any]) -> Response:
    """Start `kind` of work (the routes that create backups, restores and replays call this)."""
    return accepted(jobs.submit(kind, body))


def _job_id(value: str) -> str:
    if not ID_PATTERN.match(value or ""):
        raise ApiError(404, "job not found", f"{value!r} is not a job id")
    return value


def _choice(params: dict, name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name)
    if value is not None and value not in allowed:
        raise ApiError(400, f"invalid {name}", f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


@blueprint.route("/", methods=["GET"], api_key_required=True)
@handles_errors
def list_jobs():
    params = blueprint.current_request.query_params or {}
    kind, state = _choice(params, "kind", KINDS), _choice(params, "state", STATES)
    limit = positive_int(params["limit"], "limit") if params.get("limit") is not None else DEFAULT_PAGE
    if limit > MAX_PAGE:
        raise ApiError(400, "invalid limit", f"limit must be at most {MAX_PAGE}")
    cursor = params.get("cursor")
    if cursor is not None and not ID_PATTERN.match(cursor):
        raise ApiError(400, "invalid cursor", "cursor must be the next_cursor of a previous page")
    found = jobs.store().list(kind, state, before=cursor, limit=limit)
    return {"items": [j.to_dict() for j in found], "next_cursor": found[-1].id if len(found) == limit else None}


@blueprint.route("/{job_id}", methods=["GET"], api_key_required=True)
@handles_errors
def get_job(job_id):
    return jobs.store().get(_job_id(job_id)).to_dict()


@blueprint.route("/{job_id}", methods=["DELETE"], api_key_required=True)
@handles_errors
def cancel_job(job_id):
    return json_response(jobs.store().cancel(_job_id(job_id)).to_dict(), 202)


@blueprint.route("/{job_id}/retry", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@handles_errors
def retry_job(job_id):
    return accepted(jobs.retry(_job_id(job_id)))
