"""CSV uploads: a body loaded like a file from S3, or a presigned URL to put a big file in S3.

`load_body` loads the body through the file loader and returns its result (the counts and the first
`loader.KEEP_REJECTIONS` rejected rows); a body that is empty (EmptyUpload), not UTF-8 or not CSV
(loader.UnreadableFile) stores nothing. In AWS a body is capped at about 6 MB (Lambda's payload
limit): bigger files go to S3 through a presigned URL (`upload_url`) and are loaded by the S3 loader.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from chalicelib.db import Database
from chalicelib.loading import loader
from chalicelib.loading.bucket_layout import INCOMING
from chalicelib.rules.dictionary import Table
from chalicelib.runtime.settings import Settings

PRESIGNED_SECONDS = 15 * 60
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.csv$")


class EmptyUpload(ValueError):
    """An uploaded body with no CSV rows. Nothing was written."""


class InvalidFilename(ValueError):
    """A requested upload filename that is not a plain ``.csv`` name."""


class UploadsNotConfigured(RuntimeError):
    """The stage has no data bucket to upload to."""


class UploadUrlUnavailable(RuntimeError):
    """An upload URL cannot be signed (no credentials, no region): the stage's problem, not the caller's."""


def load_body(db: Database, table: Table, body: bytes | None) -> loader.LoadResult:
    """Load an uploaded CSV body into `table` through the file loader; EmptyUpload or
    loader.UnreadableFile (nothing stored) for a body that cannot be loaded as a whole."""
    if not body or not body.strip():
        raise EmptyUpload("the body has no CSV rows; send the file with Content-Type: text/csv")
    # The same body uploaded again is the same source: its rejections are not logged twice.
    source = f"upload:{table.name}:sha256:{hashlib.sha256(body).hexdigest()}"
    open_body = loader.open_bytes(body)
    checked = loader.check(open_body, table)
    if not checked.records:
        raise EmptyUpload("the body has only blank lines")
    return loader.load(db, table, open_body, source, checked=checked)


def upload_url(settings: Settings, table: Table, filename: Any = None, s3: Any = None) -> dict:
    """A presigned S3 PUT URL for a new object under ``incoming/<table>/``, valid `PRESIGNED_SECONDS`."""
    if not settings.data_bucket:
        raise UploadsNotConfigured(
            f"DATA_BUCKET is not set on this stage; POST the CSV to /uploads/{table.name} instead"
        )
    if filename is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        filename = f"{stamp}-{uuid.uuid4().hex[:8]}.csv"
    elif not isinstance(filename, str) or not _SAFE_NAME.match(filename):
        raise InvalidFilename(
            "filename must end in .csv and use only letters, digits, '.', '_' and '-' (at most 200 characters)"
        )
    key = f"{INCOMING}{table.name}/{filename}"
    if s3 is None:
        import boto3
        from botocore.config import Config

        s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
    try:
        url = s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": settings.data_bucket, "Key": key, "ContentType": "text/csv"},
            ExpiresIn=PRESIGNED_SECONDS,
        )
    except Exception as exc:  # no credentials, no region: a configuration problem, not the client's
        raise UploadUrlUnavailable(str(exc)) from None
    return {
        "url": url,
        "method": "PUT",
        "headers": {"Content-Type": "text/csv"},
        "bucket": settings.data_bucket,
        "key": key,
        "expires_in": PRESIGNED_SECONDS,
    }
