"""Where queued jobs wait for a worker: SQS in AWS (the worker function consumes it), or an in-process
queue with one worker thread under `chalice local`, `make run` and the tests.

Under `chalice.test.Client` the stage's environment exists only during each call, so a local message
carries the environment of the request that queued it, and the job runs with that.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Mapping
from typing import Any

from chalicelib.jobs.model import JobSettings
from chalicelib.runtime.log import logger
from chalicelib.runtime.settings import ConfigurationError


class LocalQueue:
    """Jobs run one at a time by a daemon thread, started on the first message. With `autostart`
    off (tests), nothing runs until `drain()` runs the waiting jobs on the caller's thread."""

    def __init__(self) -> None:
        self.autostart = True
        self._waiting: queue.Queue[tuple[str, dict]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, job_id: str, env: Mapping[str, str]) -> None:
        self._waiting.put((job_id, dict(env)))
        if self.autostart:
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._serve, name="local-job-worker", daemon=True)
                    self._thread.start()

    def drain(self) -> list[str]:
        """Run every waiting job to its end on this thread; their ids, in order."""
        done = []
        while True:
            try:
                job_id, env = self._waiting.get_nowait()
            except queue.Empty:
                return done
            self._run(job_id, env)
            done.append(job_id)

    def forget(self) -> None:
        """Drop the waiting messages (their jobs stay queued in the database)."""
        with self._waiting.mutex:
            self._waiting.queue.clear()

    def _serve(self) -> None:
        while True:
            job_id, env = self._waiting.get()
            self._run(job_id, env)

    @staticmethod
    def _run(job_id: str, env: dict) -> None:
        from chalicelib.jobs import worker

        try:
            worker.run(job_id, env)
        except Exception:  # the worker records its jobs' failures; this is the database being gone
            logger.exception("local job worker failed", extra={"job": job_id})


class SqsQueue:
    def __init__(self, url: str, client: Any = None):
        self.url, self._client = url, client

    def send(self, job_id: str, env: Mapping[str, str]) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        self._client.send_message(QueueUrl=self.url, MessageBody=message(job_id))


LOCAL = LocalQueue()


def for_settings(settings: JobSettings, in_lambda: bool) -> LocalQueue | SqsQueue:
    if settings.queue_url:
        return SqsQueue(settings.queue_url)
    if in_lambda:
        raise ConfigurationError("no jobs queue is configured (JOBS_QUEUE_URL): a Lambda function keeps no worker")
    return LOCAL


def message(job_id: str) -> str:
    return json.dumps({"job": job_id})


def job_id_of(body: str) -> str | None:
    """The job id a queue message names (None for a message that is not one of ours)."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    job_id = value.get("job") if isinstance(value, dict) else None
    return job_id if isinstance(job_id, str) else None
