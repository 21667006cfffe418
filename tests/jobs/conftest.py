"""Jobs tests: big work is queued (JOBS_INLINE_ROWS is small here) and run by draining the local queue."""

from __future__ import annotations

import json

import pytest

from chalicelib.jobs import queue as job_queue
from tests.backups.conftest import backup_dir  # noqa: F401  (fixture)


@pytest.fixture
def queued(monkeypatch, backup_dir):  # noqa: F811
    """Work on more than 10 rows is queued; heartbeats every 50 ms. Yields the local queue (drain it)."""
    monkeypatch.setenv("JOBS_INLINE_ROWS", "10")
    monkeypatch.setenv("JOBS_HEARTBEAT_SECONDS", "0.05")
    return job_queue.LOCAL


def send(client, method, path, headers, body=None):
    response = client.http.request(method, path, headers=headers, body=json.dumps(body) if body is not None else b"")
    return response, json.loads(response.body)
