"""Avro backups of the tables and atomic restores from them (API, CLI and the scheduled backup).

A backup is ``backups/<id>/<table>.avro`` per table plus ``manifest.json`` (see `backup_layout`), in
the bucket or a local folder (`backup_storage`). Files are Avro object containers written with
fastavro, schema `dictionary.avro_schema`, deflate; rows are streamed from the database in keyset
batches inside one snapshot, so a backup of several tables is consistent and memory stays bounded.

Restores from these backups live in `chalicelib.backups.restore`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import fastavro

from chalicelib.backups import layout as backup_layout
from chalicelib.backups.storage import BackupStore, StorageError, StorageNotFound, store_and_path, store_for
from chalicelib.db import Database
from chalicelib.rules.dictionary import (
    DATETIME,
    TABLES,
    Table,
    avro_schema,
    in_load_order,
)
from chalicelib.rules.dictionary import table as dictionary_table
from chalicelib.runtime.log import logger
from chalicelib.runtime.settings import Settings

CODEC = "deflate"
SYNC_INTERVAL = 256 * 1024  # bytes of encoded records per Avro block
DEFAULT_LOCAL_DIR = ".local/backups"
DEFAULT_KEEP = 7
DEFAULT_SCHEDULE = "rate(1 day)"


# -- errors ----------------------------------------------------------------------------------------


class BackupError(Exception):
    """A backup or restore that cannot be done; `detail` is a message or a JSON-able explanation."""

    def __init__(self, detail: Any):
        super().__init__(detail if isinstance(detail, str) else json.dumps(detail, default=str))
        self.detail = detail


class InvalidRequest(BackupError):
    """Tables or a backup location named wrongly."""


class BackupNotFound(BackupError):
    """No backup, or no file of one, where the request says."""


class InvalidBackup(BackupError):
    """Corrupt or truncated data, a schema that is not the table's, or a row that breaks a data rule."""


class RestoreRefused(BackupError):
    """The restore would leave other tables' rows naming ids the restored table no longer has."""


class StorageUnavailable(BackupError):
    """The backup store cannot be read or written."""


class BackupNotConfigured(BackupError):
    """The stage has no (valid) backup location or retention."""


# -- configuration ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupSettings:
    location: str | None  # s3://bucket or a folder; None: not configured (an error in Lambda)
    keep: int
    schedule: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BackupSettings:
        env = os.environ if env is None else env
        settings = Settings.from_env(env)
        if settings.data_bucket:
            location: str | None = f"s3://{settings.data_bucket}"
        elif settings.backup_dir:
            location = settings.backup_dir
        elif settings.in_lambda:
            location = None  # a Lambda's file system is gone after the call: never default to it
        else:
            location = DEFAULT_LOCAL_DIR
        keep = env.get("BACKUP_KEEP") or str(DEFAULT_KEEP)
        if not keep.isdigit() or int(keep) < 1:
            raise BackupNotConfigured(f"BACKUP_KEEP must be a whole number of at least 1, got {keep!r}")
        return cls(location=location, keep=int(keep), schedule=schedule_expression(env))

    def store(self) -> BackupStore:
        if self.location is None:
            raise BackupNotConfigured("no backup location is configured (DATA_BUCKET or BACKUP_DIR)")
        return open_store(self.location)


def schedule_expression(env: Mapping[str, str] | None = None) -> str:
    """The scheduled backup's rate or cron expression (read when the app is loaded or packaged)."""
    return ((os.environ if env is None else env).get("BACKUP_SCHEDULE") or DEFAULT_SCHEDULE).strip()


def open_store(location: str) -> BackupStore:
    try:
        return store_for(location)
    except StorageNotFound as exc:
        raise InvalidRequest(str(exc)) from None


def source(location: str) -> tuple[BackupStore, str]:
    """(store, reference) for a restore source given whole: a backup folder, a table's Avro file or
    part folder, locally or as ``s3://bucket/key``."""
    try:
        return store_and_path(location)
    except StorageNotFound as exc:
        raise InvalidRequest(str(exc)) from None


def tables_named(names: Iterable[str] | None) -> list[Table]:
    """The dictionary's tables among `names` (all when None or empty), referenced tables first."""
    names = list(names or [])
    if not all(isinstance(n, str) for n in names):
        raise InvalidRequest("tables must be a list of table names")
    return in_load_order([dictionary_table(n) for n in dict.fromkeys(names)] if names else list(TABLES.values()))


# -- backing up -------------------------------------------------------------------------------------


def _records(table: Table, rows: Iterable[Sequence[Any]], counter: list[int]) -> Iterator[dict]:
    names = table.column_names
    millis = [(i, name) for i, (name, c) in enumerate(zip(names, table.columns)) if c.type == DATETIME]
    n = 0
    for row in rows:
        record = dict(zip(names, row))
        for i, name in millis:
            record[name] = row[i] * 1000  # epoch seconds -> timestamp-millis
        n += 1
        yield record
    counter[0] = n


def write_table(db: Database, store: BackupStore, path: str, table: Table) -> dict:
    """Stream `table` into an Avro file at `path`; {"rows": n, "bytes": n}. Call inside a snapshot."""
    counter = [0]
    try:
        with store.open_write(path) as out:
            fastavro.writer(
                out,
                fastavro.parse_schema(avro_schema(table)),
                _records(table, db.export_rows(table), counter),
                codec=CODEC,
                sync_interval=SYNC_INTERVAL,
            )
            out.commit()
    except StorageError as exc:
        raise StorageUnavailable(str(exc)) from exc
    return {"rows": counter[0], "bytes": out.bytes_written}


def _unused_backup_id(store: BackupStore) -> str:
    backup_id = backup_layout.new_backup_id()
    try:
        while store.files(backup_layout.backup_prefix(backup_id).rstrip("/")):
            time.sleep(0.002)  # ids are per millisecond: never write into another backup's folder
            backup_id = backup_layout.new_backup_id()
    except StorageError as exc:
        raise StorageUnavailable(str(exc)) from exc
    return backup_id


def create_backup(db: Database, store: BackupStore, tables: Sequence[Table] | None = None, source: str = "api") -> dict:
    """Back up `tables` (default: all) as a new backup; returns its manifest.

    Every table is read in one database snapshot. The manifest is written last: a backup without one
    is incomplete (and is removed here when this call fails).
    """
    tables = in_load_order(list(tables or TABLES.values()))
    backup_id = _unused_backup_id(store)
    started = time.monotonic()
    written: dict[str, dict] = {}
    try:
        with db.snapshot():
            for table in tables:
                written[table.name] = write_table(db, store, backup_layout.table_path(backup_id, table.name), table)
        doc = backup_layout.manifest(backup_id, written, source)
        try:
            store.write_bytes(backup_layout.manifest_path(backup_id), backup_layout.dumps(doc))
        except StorageError as exc:
            raise StorageUnavailable(str(exc)) from exc
    except BaseException:
        try:
            store.delete_folder(backup_layout.backup_prefix(backup_id))
        except StorageError:
            logger.warning("incomplete backup left behind", extra={"backup": backup_id, "location": store.location})
        raise
    logger.info(
        "backup written",
        extra={
            "backup": backup_id,
            "location": store.location,
            "tables": written,
            "seconds": round(time.monotonic() - started, 3),
        },
    )
    return doc


def summary(doc: dict, complete: bool = True) -> dict:
    """A backup as the API lists it."""
    tables = doc.get("tables", {})
    return {
        "backup": doc.get("backup"),
        "created_at": doc.get("created_at"),
        "source": doc.get("source"),
        "complete": complete,
        "tables": {name: {"rows": info.get("rows"), "bytes": info.get("bytes")} for name, info in tables.items()},
        "rows": sum(info.get("rows") or 0 for info in tables.values()),
        "bytes": sum(info.get("bytes") or 0 for info in tables.values()),
    }


def list_backups(store: BackupStore, limit: int | None = None) -> list[dict]:
    """Backups, newest first: from their manifests, or from their files when one is incomplete."""
    out = []
    try:
        ids = sorted(store.folders(backup_layout.BACKUPS_PREFIX.rstrip("/")), reverse=True)
        for backup_id in ids[:limit] if limit else ids:
            try:
                doc = json.loads(store.read_bytes(backup_layout.manifest_path(backup_id)))
                out.append(summary(doc))
            except (StorageNotFound, ValueError):
                out.append(summary(_manifest_from_files(store, backup_id), complete=False))
    except StorageError as exc:
        raise StorageUnavailable(str(exc)) from exc
    return out


def _manifest_from_files(store: BackupStore, backup_id: str) -> dict:
    tables: dict[str, dict] = {}
    prefix = backup_layout.backup_prefix(backup_id)
    for f in store.files(prefix.rstrip("/")):
        name = f.path[len(prefix) :].split("/", 1)[0]
        if name.endswith(".avro"):
            info = tables.setdefault(name[: -len(".avro")], {"rows": None, "bytes": 0})
            info["bytes"] += f.size
    return {"backup": backup_id, "created_at": None, "source": None, "tables": tables}


def prune_backups(store: BackupStore, keep: int) -> list[str]:
    """Delete all but the newest `keep` complete backups, and incomplete ones older than those kept.

    Incomplete backups newer than the oldest kept one are left alone: one may still be being written.
    """
    backups = list_backups(store)
    complete = [b["backup"] for b in backups if b["complete"]]
    if len(complete) <= keep:
        return []
    oldest_kept = complete[keep - 1]
    doomed = [b["backup"] for b in backups if b["backup"] < oldest_kept]
    try:
        for backup_id in doomed:
            store.delete_folder(backup_layout.backup_prefix(backup_id))
    except StorageError as exc:
        raise StorageUnavailable(str(exc)) from exc
    return doomed


def scheduled_backup(db: Database, settings: BackupSettings) -> dict:
    """The scheduled job: back up every table, keep the newest `settings.keep` backups, log both."""
    store = settings.store()
    doc = create_backup(db, store, source="schedule")
    pruned = prune_backups(store, settings.keep)
    result = {
        "backup": doc["backup"],
        "location": store.location,
        "tables": doc["tables"],
        "pruned": pruned,
        "keep": settings.keep,
    }
    logger.info("scheduled backup done", extra=result)
    return result
