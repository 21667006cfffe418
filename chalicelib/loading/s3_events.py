"""The S3 loader: a CSV object created under ``incoming/`` goes into its table.

``incoming/<table>/<any name>.csv`` or ``incoming/<table>.csv`` (``incoming/jobs_2021.csv`` too).
Both deploy paths end here: the plain ``s3_loader`` Lambda function the CDK app subscribes to the
bucket, and, for ``chalice deploy`` on an existing bucket, the ``@app.on_s3_event`` handler. Both hand
their event over unchanged; S3 notifications, EventBridge "Object Created" events and Chalice's S3Event
are all understood.

Per object:
- bigger than ``LOADER_MAX_BYTES``: not loaded here; the Glue job ``GLUE_LOAD_JOB`` is started with
  ``--SOURCE s3://bucket/key --TABLE <table> --REJECTED_PREFIX s3://bucket/rejected/`` and its run id logged;
- otherwise streamed through `loader.load` (read twice, never whole in memory; the second read is
  pinned to the ETag of the object that was checked), with ``s3://bucket/key`` as the stable source
  of its rejections, so a re-delivered event adds no rows and no rejection twice;
- with `loader.REPORT_MIN_REJECTED` or more rejected rows: a report ``rejected/<path under incoming/
  without .csv>.rejected.csv`` (line, reasons, the row's fields).

A file that cannot be read (not UTF-8, not CSV, unknown table) is logged as an error and not retried:
trying again cannot help. A database failure is raised, so Lambda retries the event; loading is
idempotent, so the retry completes what was committed before the failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from chalicelib import db as databases
from chalicelib.loading import loader
from chalicelib.loading.bucket_layout import INCOMING, REJECTED, report_path
from chalicelib.rules.dictionary import LOAD_ORDER, TABLES, Table, UnknownTable, table_for_filename
from chalicelib.runtime.log import logger
from chalicelib.runtime.settings import Settings


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class NotIncoming(ValueError):
    """An object outside ``incoming/`` or not a ``.csv``: not the loader's business."""


def objects_in(event: Any) -> list[S3Object]:
    """The created objects an event names (S3 notification, EventBridge, or Chalice's S3Event)."""
    if hasattr(event, "to_dict"):
        event = event.to_dict()
    if not isinstance(event, dict):
        return []
    if isinstance(event.get("detail"), dict) and "bucket" in event["detail"]:  # EventBridge: keys not encoded
        detail = event["detail"]
        obj = detail.get("object") or {}
        if event.get("detail-type", "Object Created") != "Object Created" or "key" not in obj:
            return []
        return [S3Object(detail["bucket"]["name"], obj["key"], obj.get("size"), obj.get("etag"))]
    found = []
    for record in event.get("Records") or []:
        s3 = record.get("s3") or {}
        if not str(record.get("eventName", "ObjectCreated:")).startswith("ObjectCreated:"):
            continue
        if "bucket" not in s3 or "key" not in (s3.get("object") or {}):
            continue
        obj = s3["object"]
        # Notification keys are URL-encoded, spaces as '+'.
        found.append(S3Object(s3["bucket"]["name"], unquote_plus(obj["key"]), obj.get("size"), obj.get("eTag")))
    return found


def table_for_key(key: str) -> Table:
    """The table an ``incoming/`` key is for; NotIncoming for other keys, UnknownTable for bad names."""
    if not key.startswith(INCOMING) or not key.lower().endswith(".csv") or key.endswith("/"):
        raise NotIncoming(key)
    rest = key[len(INCOMING) :]
    folder, sep, _ = rest.partition("/")
    if not sep:
        return table_for_filename(rest)
    if folder not in TABLES:
        raise UnknownTable(folder)
    return TABLES[folder]


def report_key(key: str) -> str:
    """``incoming/hired_employees/2021.csv`` -> ``rejected/hired_employees/2021.rejected.csv``."""
    return REJECTED + report_path(key[len(INCOMING) :] if key.startswith(INCOMING) else key)


class S3Loader:
    """Loads the objects of S3 events; clients and the database come from the settings unless given."""

    def __init__(self, settings: Settings, s3: Any = None, glue: Any = None, db: databases.Database | None = None):
        self.settings = settings
        self._s3, self._glue, self._db = s3, glue, db

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3")
        return self._s3

    @property
    def glue(self) -> Any:
        if self._glue is None:
            import boto3

            self._glue = boto3.client("glue")
        return self._glue

    @property
    def db(self) -> databases.Database:
        if self._db is None:
            self._db = databases.for_url(self.settings.database_url)
        return self._db

    def handle(self, event: Any) -> dict:
        """Load every object the event names, referenced tables first; returns what happened to each."""
        return {"objects": [self.load_object(obj) for obj in in_load_order(objects_in(event))]}

    def load_object(self, obj: S3Object) -> dict:
        outcome: dict[str, Any] = {"source": obj.uri}
        try:
            table = table_for_key(obj.key)
        except NotIncoming:
            logger.info("not an incoming CSV; ignored", extra={"source": obj.uri})
            return {**outcome, "status": "ignored"}
        except UnknownTable as exc:
            logger.error("file not loaded", extra={"source": obj.uri, "error": str(exc)})
            return {**outcome, "status": "unreadable", "error": str(exc)}
        outcome["table"] = table.name
        try:
            size = obj.size if obj.size is not None else self._head(obj)["ContentLength"]
            if size > self.settings.loader_max_bytes:
                return {**outcome, **self.start_glue_load(obj, table, size)}
            return {**outcome, **self._load(obj, table)}
        except loader.UnreadableFile as exc:
            logger.error("file not loaded", extra={"source": obj.uri, "table": table.name, "error": str(exc)})
            return {**outcome, "status": "unreadable", "error": str(exc)}
        except Exception as exc:
            code = _client_error_code(exc)
            if code in ("NoSuchKey", "404", "NotFound", "PreconditionFailed", "412"):
                # Deleted, or replaced by a newer upload (which has its own event): nothing to do.
                logger.warning(
                    "object gone or replaced since the event; skipped", extra={"source": obj.uri, "error": code}
                )
                return {**outcome, "status": "skipped", "error": code}
            raise

    def _head(self, obj: S3Object) -> dict:
        return self.s3.head_object(Bucket=obj.bucket, Key=obj.key, **_if_match(obj.etag))

    def _load(self, obj: S3Object, table: Table) -> dict:
        etag = obj.etag

        def open_stream() -> Any:
            nonlocal etag
            response = self.s3.get_object(Bucket=obj.bucket, Key=obj.key, **_if_match(etag))
            etag = etag or response.get("ETag")  # later reads must see the very object that was checked
            return response["Body"]

        with loader.RejectedRowsReport(table) as report:
            result = loader.load(self.db, table, open_stream, source=obj.uri, report=report)
            if report.count >= loader.REPORT_MIN_REJECTED:
                key = report_key(obj.key)
                self.s3.upload_fileobj(
                    report.fileobj(), obj.bucket, key, ExtraArgs={"ContentType": "text/csv; charset=utf-8"}
                )
                result.report = f"s3://{obj.bucket}/{key}"
        return {"status": "loaded", **result.to_dict(rejections=False)}

    def start_glue_load(self, obj: S3Object, table: Table, size: int) -> dict:
        """Hand a big object to the Glue load job (arguments as glue/load_csv.py reads them)."""
        job = self.settings.glue_load_job
        if not job:
            logger.error(
                "file too big for the loader and no Glue job configured (GLUE_LOAD_JOB)",
                extra={"source": obj.uri, "bytes": size, "max_bytes": self.settings.loader_max_bytes},
            )
            return {"status": "too big", "bytes": size, "error": "GLUE_LOAD_JOB is not set"}
        arguments = {"--SOURCE": obj.uri, "--TABLE": table.name, "--REJECTED_PREFIX": f"s3://{obj.bucket}/{REJECTED}"}
        # A run refused for too many concurrent runs raises: Lambda retries the event later.
        run_id = self.glue.start_job_run(JobName=job, Arguments=arguments)["JobRunId"]
        logger.info("file handed to Glue", extra={"source": obj.uri, "bytes": size, "job": job, "run_id": run_id})
        return {"status": "handed to glue", "bytes": size, "job": job, "run_id": run_id, "arguments": arguments}


def in_load_order(objects: Iterable[S3Object]) -> list[S3Object]:
    """Departments and jobs before hired_employees; unknown keys last (they are only logged)."""

    def rank(obj: S3Object) -> int:
        try:
            return LOAD_ORDER.index(table_for_key(obj.key).name)
        except (NotIncoming, UnknownTable):
            return len(LOAD_ORDER)

    return sorted(objects, key=rank)


def _if_match(etag: str | None) -> dict:
    return {"IfMatch": etag} if etag else {}


def _client_error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Code"))
    return None


def handle(event: Any, context: Any = None) -> dict:
    """The Lambda entry point of both deploy paths."""
    return S3Loader(Settings.from_env()).handle(event)
