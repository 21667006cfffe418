"""Where backup files are kept: a local folder or an S3 bucket, behind one small streaming interface.

A store is rooted at the folder (or bucket prefix) that holds ``backups/``; paths given to it are the
relative, ``/``-separated paths of `backup_layout`. Writes are streamed and bounded in memory (S3: a
multipart upload, one part buffered at a time) and become visible only when complete, so a failed
backup never leaves a half-written file under a final name. Reads are streamed, never whole.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO
from urllib.parse import urlsplit

S3_PART_BYTES = 8 * 1024 * 1024  # multipart part size (S3's minimum is 5 MiB for all but the last)
READ_BUFFER_BYTES = 1024 * 1024


class StorageError(Exception):
    """The backup storage failed (unreachable bucket, permission, disk): not the caller's input."""


class StorageNotFound(StorageError):
    """No file at that path."""


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative to the store's root
    size: int


class BackupStore(ABC):
    """A tree of files under a root; see the module docstring."""

    location: str  # for messages: a folder, or s3://bucket/prefix

    @abstractmethod
    def open_read(self, path: str) -> IO[bytes]:
        """A buffered binary stream of the file at `path` (StorageNotFound if there is none)."""

    @abstractmethod
    def open_write(self, path: str) -> PendingFile:
        """A writable binary stream whose content appears at `path` on `commit()`, never before."""

    @abstractmethod
    def is_file(self, path: str) -> bool: ...

    @abstractmethod
    def files(self, folder: str) -> list[StoredFile]:
        """Every file under `folder` (recursively), sorted by path."""

    @abstractmethod
    def folders(self, folder: str) -> list[str]:
        """Names of the immediate sub-folders of `folder`, sorted."""

    @abstractmethod
    def delete_folder(self, folder: str) -> None:
        """Delete `folder` and everything under it."""

    def read_bytes(self, path: str) -> bytes:
        with self.open_read(path) as stream:
            return stream.read()

    def write_bytes(self, path: str, data: bytes) -> None:
        with self.open_write(path) as out:
            out.write(data)
            out.commit()


class PendingFile(io.RawIOBase):
    """A file being written: `commit()` publishes it; closing without a commit discards it."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes_written = 0
        self.committed = False

    def writable(self) -> bool:
        return True

    def commit(self) -> None:
        if not self.committed:
            self._publish()
            self.committed = True

    def close(self) -> None:
        if not self.closed and not self.committed:
            self._discard()
        super().close()

    def _publish(self) -> None:
        raise NotImplementedError

    def _discard(self) -> None:
        raise NotImplementedError


def _clean(path: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p and p != "."]
    if ".." in parts:
        raise StorageNotFound(f"{path}: paths may not leave the backup location")
    return "/".join(parts)


# -- local folder ------------------------------------------------------------------------------------


class LocalStore(BackupStore):
    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.location = self.root.rstrip(os.sep)  # messages add "/<path>"

    def _abs(self, path: str) -> str:
        return os.path.join(self.root, *_clean(path).split("/")) if _clean(path) else self.root

    def open_read(self, path: str) -> IO[bytes]:
        try:
            return open(self._abs(path), "rb", buffering=READ_BUFFER_BYTES)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise StorageNotFound(f"{self._abs(path)}: no such file") from None
        except OSError as exc:
            raise StorageError(f"{self._abs(path)}: {exc}") from exc

    def open_write(self, path: str) -> PendingFile:
        return _LocalPendingFile(self._abs(path))

    def is_file(self, path: str) -> bool:
        return os.path.isfile(self._abs(path))

    def files(self, folder: str) -> list[StoredFile]:
        base = self._abs(folder)
        out = []
        for dirpath, _dirs, names in os.walk(base):
            for name in names:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, self.root).replace(os.sep, "/")
                out.append(StoredFile(rel, os.path.getsize(full)))
        return sorted(out, key=lambda f: f.path)

    def folders(self, folder: str) -> list[str]:
        base = self._abs(folder)
        if not os.path.isdir(base):
            return []
        return sorted(name for name in os.listdir(base) if os.path.isdir(os.path.join(base, name)))

    def delete_folder(self, folder: str) -> None:
        shutil.rmtree(self._abs(folder), ignore_errors=True)


class _LocalPendingFile(PendingFile):
    def __init__(self, final_path: str):
        super().__init__()
        self.final_path = final_path
        folder = os.path.dirname(final_path)
        try:
            os.makedirs(folder, exist_ok=True)
            fd, self.temp_path = tempfile.mkstemp(prefix=".partial-", dir=folder)
        except OSError as exc:
            raise StorageError(f"{final_path}: {exc}") from exc
        self._file = os.fdopen(fd, "wb", buffering=READ_BUFFER_BYTES)

    def write(self, data) -> int:
        n = self._file.write(data)
        self.bytes_written += n
        return n

    def _publish(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.temp_path, self.final_path)

    def _discard(self) -> None:
        self._file.close()
        try:
            os.unlink(self.temp_path)
        except FileNotFoundError:
            pass


# -- S3 ----------------------------------------------------------------------------------------------


class S3Store(BackupStore):
    def __init__(self, bucket: str, prefix: str = "", client=None):
        import boto3

        self.bucket = bucket
        self.prefix = _clean(prefix)
        self.location = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.s3 = client or boto3.client("s3")

    def key(self, path: str) -> str:
        return "/".join(p for p in (self.prefix, _clean(path)) if p)

    def _rel(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def open_read(self, path: str) -> IO[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key(path))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise StorageNotFound(f"s3://{self.bucket}/{self.key(path)}: no such object") from None
            raise StorageError(f"s3://{self.bucket}/{self.key(path)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"s3://{self.bucket}/{self.key(path)}: {exc}") from exc
        return io.BufferedReader(_S3Body(body, f"s3://{self.bucket}/{self.key(path)}"), READ_BUFFER_BYTES)

    def open_write(self, path: str) -> PendingFile:
        return _S3PendingFile(self.s3, self.bucket, self.key(path))

    def is_file(self, path: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.head_object(Bucket=self.bucket, Key=self.key(path))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise StorageError(f"s3://{self.bucket}/{self.key(path)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"s3://{self.bucket}/{self.key(path)}: {exc}") from exc

    def _list(self, folder: str, delimiter: bool) -> Iterator[dict]:
        from botocore.exceptions import BotoCoreError, ClientError

        prefix = self.key(folder)
        prefix = prefix + "/" if prefix else ""
        kwargs = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = "/"
        try:
            yield from self.s3.get_paginator("list_objects_v2").paginate(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"s3://{self.bucket}/{prefix}: {exc}") from exc

    def files(self, folder: str) -> list[StoredFile]:
        out = []
        for page in self._list(folder, delimiter=False):
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith("/"):  # folder placeholder objects
                    out.append(StoredFile(self._rel(obj["Key"]), obj["Size"]))
        return sorted(out, key=lambda f: f.path)

    def folders(self, folder: str) -> list[str]:
        names = set()
        for page in self._list(folder, delimiter=True):
            for common in page.get("CommonPrefixes", []):
                names.add(common["Prefix"].rstrip("/").rsplit("/", 1)[-1])
        return sorted(names)

    def delete_folder(self, folder: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        keys = [self.key(f.path) for f in self.files(folder)]
        try:
            for start in range(0, len(keys), 1000):
                chunk = keys[start : start + 1000]
                self.s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
                )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"s3://{self.bucket}/{self.key(folder)}: {exc}") from exc


class _S3Body(io.RawIOBase):
    """An S3 object body as a raw stream; network failures become StorageError, not 'corrupt data'."""

    def __init__(self, body, name: str):
        super().__init__()
        self.body, self.name = body, name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.body.read(len(buffer))
        except Exception as exc:  # botocore/urllib3 raise many kinds while streaming
            raise StorageError(f"{self.name}: reading failed: {exc}") from exc
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        try:
            self.body.close()
        finally:
            super().close()


class _S3PendingFile(PendingFile):
    """Streams to S3: small files in one PUT, larger ones as a multipart upload of bounded parts."""

    def __init__(self, s3, bucket: str, key: str, part_bytes: int = S3_PART_BYTES):
        super().__init__()
        self.s3, self.bucket, self.key, self.part_bytes = s3, bucket, key, part_bytes
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict] = []

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.s3, method)(Bucket=self.bucket, Key=self.key, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"s3://{self.bucket}/{self.key}: {method} failed: {exc}") from exc

    def write(self, data) -> int:
        self.buffer += data
        self.bytes_written += len(data)
        if len(self.buffer) >= self.part_bytes:
            self._upload_part(bytes(self.buffer))
            self.buffer.clear()
        return len(data)

    def _upload_part(self, body: bytes) -> None:
        if self.upload_id is None:
            self.upload_id = self._call("create_multipart_upload")["UploadId"]
        number = len(self.parts) + 1
        etag = self._call("upload_part", UploadId=self.upload_id, PartNumber=number, Body=body)["ETag"]
        self.parts.append({"PartNumber": number, "ETag": etag})

    def _publish(self) -> None:
        if self.upload_id is None:
            self._call("put_object", Body=bytes(self.buffer))
        else:
            if self.buffer:
                self._upload_part(bytes(self.buffer))
            self._call("complete_multipart_upload", UploadId=self.upload_id, MultipartUpload={"Parts": self.parts})
        self.buffer = bytearray()

    def _discard(self) -> None:
        self.buffer = bytearray()
        if self.upload_id is not None:
            try:
                self._call("abort_multipart_upload", UploadId=self.upload_id)
            except StorageError:
                pass  # the bucket's lifecycle rule for incomplete uploads cleans up what this could not


# -- choosing a store --------------------------------------------------------------------------------


def store_and_path(source: str) -> tuple[BackupStore, str]:
    """A store and the path in it for a source given whole: a local path or ``s3://bucket/key``."""
    if source.startswith("s3://"):
        parts = urlsplit(source)
        if not parts.netloc:
            raise StorageNotFound(f"{source}: expected s3://bucket/key")
        return S3Store(parts.netloc), _clean(parts.path)
    return LocalStore(os.sep), _clean(os.path.abspath(source))


def store_for(location: str) -> BackupStore:
    """The store for a local folder or ``s3://bucket/prefix``.

    The location is the folder that holds ``backups/``; a location that itself ends in ``/backups``
    means the same (so ``BACKUP_DIR=.local/backups`` and ``s3://bucket/backups`` both work).
    """
    if location.startswith("s3://"):
        parts = urlsplit(location)
        if not parts.netloc:
            raise StorageNotFound(f"{location}: expected s3://bucket/prefix")
        prefix = _clean(parts.path)
        if prefix == "backups" or prefix.endswith("/backups"):
            prefix = prefix[: -len("backups")].rstrip("/")
        return S3Store(parts.netloc, prefix)
    root = os.path.abspath(location)
    if os.path.basename(root) == "backups":
        root = os.path.dirname(root)
    return LocalStore(root)
