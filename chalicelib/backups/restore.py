"""Restores from Avro backups (API, CLI and jobs): locate a backup's data, check it, replace tables.

A restore reads a table's data as one file (API/CLI backups) or a folder of part files (the Glue
job's), checks the writer schema and every row against the data rules, and hands the rows in chunks to
`Database.replace_tables`, which replaces the table's contents in one transaction with its foreign
keys intact, refuses (nothing changed) when references would break, and rebuilds derived data.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import fastavro

from chalicelib.backups import layout as backup_layout
from chalicelib.backups.service import (
    BackupNotFound,
    InvalidBackup,
    InvalidRequest,
    RestoreRefused,
    StorageUnavailable,
)
from chalicelib.backups.storage import BackupStore, StorageError, StorageNotFound, StoredFile
from chalicelib.db import Database
from chalicelib.db.base import ReferenceViolation, RowsRejected, StagedRows, TooScattered
from chalicelib.rules.dictionary import DATETIME, INTEGER, STRING, TABLES, Table, in_load_order
from chalicelib.rules.dictionary import dependents as dictionary_dependents
from chalicelib.rules.rows import restored_row
from chalicelib.runtime.log import logger
from chalicelib.runtime.prefetch import Prefetch, tuned_interpreter

RESTORE_CHUNK_ROWS = 50_000  # rows per bulk load during a restore
# Chunks staged ahead of the loads (MySQL: temporary files on disk, not memory): enough to stage a
# whole large backup while the old rows are deleted.
RESTORE_STAGED_AHEAD = 64


# -- reading backups ---------------------------------------------------------------------------------


@dataclass
class TableData:
    """Where one table's rows are in a backup: one Avro file, or the part files of a folder."""

    table: Table
    path: str
    files: list[StoredFile]
    expected_rows: int | None  # from the backup's manifest, when it has one for this file


def _is_part(path: str) -> bool:
    # Spark and Hadoop leave _SUCCESS, _committed_*, .crc and hidden files beside the parts.
    name = path.rsplit("/", 1)[-1]
    return not name.startswith(("_", ".")) and not name.endswith(".crc")


def _table_data(store: BackupStore, path: str, table: Table, manifest: dict | None) -> TableData:
    if store.is_file(path):
        files = [StoredFile(path, -1)]
    else:
        files = [f for f in store.files(path) if _is_part(f.path[len(path) :])]
        if not files:
            raise BackupNotFound(f"{store.location}/{path}: no such backup file or folder of Avro parts")
    expected = None
    if manifest is not None and path.rsplit("/", 1)[-1] == f"{table.name}.avro":
        entry = (manifest.get("tables") or {}).get(table.name) or {}
        if isinstance(entry.get("rows"), int):
            expected = entry["rows"]
    return TableData(table, path, files, expected)


def locate(store: BackupStore, ref: str, tables: Sequence[Table]) -> list[TableData]:
    """The data of `tables` in the backup `ref` names.

    `ref` is a backup id (``20261122T101500123Z``), a path in the layout (``backups/<id>/`` or
    ``backups/<id>/<table>.avro``), or the path of a table's own Avro file or part folder; then the
    other tables (dependents restored with it) are its siblings ``<table>.avro``.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidRequest('name the backup: {"backup": "<backup id or key>"}')
    ref = ref.strip().rstrip("/")
    first = tables[0]
    explicit: str | None = None
    if "/" not in ref and not ref.endswith(".avro"):
        folder = backup_layout.backup_prefix(ref).rstrip("/")
    elif ref.endswith(".avro"):
        name = ref.rsplit("/", 1)[-1][: -len(".avro")]
        if name in TABLES and name != first.name:
            raise InvalidRequest(f"{store.location}/{ref} is a backup of {name}, not of {first.name}")
        folder = ref.rsplit("/", 1)[0] if "/" in ref else ""
        explicit = ref
    else:
        folder = ref
    try:
        manifest = None
        manifest_path = f"{folder}/{backup_layout.MANIFEST_NAME}" if folder else backup_layout.MANIFEST_NAME
        if store.is_file(manifest_path):
            try:
                manifest = json.loads(store.read_bytes(manifest_path))
            except ValueError:
                raise InvalidBackup(f"{store.location}/{manifest_path}: not a JSON manifest") from None
        elif explicit is None and not store.files(folder):
            raise BackupNotFound(f"no backup at {store.location}/{folder}")
        out = []
        for table in tables:
            path = explicit if (explicit and table is first) else f"{folder}/{table.name}.avro".lstrip("/")
            out.append(_table_data(store, path, table, manifest))
        return out
    except StorageNotFound as exc:
        raise BackupNotFound(str(exc)) from None
    except StorageError as exc:
        raise StorageUnavailable(str(exc)) from exc


def _unwrap(avro_type: Any) -> tuple[Any, Any]:
    """(type, logicalType) of a field type; a union with null counts as its other branch."""
    if isinstance(avro_type, list):
        branches = [b for b in avro_type if b != "null"]
        if len(branches) != 1:
            return ("union", None)
        avro_type = branches[0]
    if isinstance(avro_type, dict):
        return (avro_type.get("type"), avro_type.get("logicalType"))
    return (avro_type, None)


_ACCEPTED = {
    INTEGER: {("int", None), ("long", None)},
    STRING: {("string", None)},
    DATETIME: {("long", "timestamp-millis"), ("long", "timestamp-micros")},
}


def schema_problems(table: Table, writer_schema: Any) -> list[str]:
    """Why a file's writer schema is not `table`'s (empty: it is). Accepts what Avro writers vary on:
    record names, int or long integers, millisecond or microsecond timestamps, nullable fields."""
    if not isinstance(writer_schema, dict) or writer_schema.get("type") != "record":
        return ["the file does not hold records"]
    fields = {f.get("name"): f.get("type") for f in writer_schema.get("fields", [])}
    problems = []
    missing = [c.name for c in table.columns if c.name not in fields]
    extra = [name for name in fields if name not in table.column_names]
    if missing:
        problems.append(f"missing field(s): {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected field(s): {', '.join(map(str, extra))}")
    for column in table.columns:
        if column.name in fields and _unwrap(fields[column.name]) not in _ACCEPTED[column.type]:
            problems.append(f"field {column.name} is {json.dumps(fields[column.name])}, expected {column.type}")
    return problems


def read_chunks(store: BackupStore, data: TableData, chunk_rows: int = RESTORE_CHUNK_ROWS) -> Iterator[list[tuple]]:
    """The table's rows from its Avro file(s), checked, in lists of at most `chunk_rows`.

    Raises InvalidBackup for a wrong schema, corrupt or truncated data (also: fewer or more rows than
    the manifest says), or a row breaking a data rule; StorageUnavailable when reading fails.
    """
    check = restored_row(data.table)
    chunk: list[tuple] = []
    total = 0
    for stored in data.files:
        where = f"{store.location}/{stored.path}"
        try:
            with store.open_read(stored.path) as stream:
                try:
                    reader = fastavro.reader(stream)
                except StorageError:
                    raise
                except Exception as exc:
                    raise InvalidBackup(f"{where}: not an Avro object container file ({exc})") from None
                problems = schema_problems(data.table, reader.writer_schema)
                if problems:
                    raise InvalidBackup(f"{where}: wrong schema for {data.table.name}: {'; '.join(problems)}")
                records = iter(reader)
                while True:
                    try:
                        record = next(records)
                    except StopIteration:
                        break
                    except StorageError:
                        raise
                    except Exception as exc:  # fastavro raises many kinds on damaged data
                        raise InvalidBackup(
                            f"{where}: corrupt or truncated after record {total}: {type(exc).__name__}: {exc}"
                        ) from None
                    total += 1
                    try:
                        chunk.append(check(record))
                    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
                        raise InvalidBackup(
                            f"{where}: record {total} (id {record.get('id')!r}) breaks a data rule: {exc}"
                        ) from None
                    if len(chunk) >= chunk_rows:
                        yield chunk
                        chunk = []
        except StorageNotFound as exc:
            raise BackupNotFound(str(exc)) from None
        except StorageError as exc:
            raise StorageUnavailable(str(exc)) from exc
    if data.expected_rows is not None and total != data.expected_rows:
        raise InvalidBackup(
            f"{store.location}/{data.path}: has {total} rows but its manifest says {data.expected_rows}: "
            "truncated or altered"
        )
    if chunk:
        yield chunk


def _staged(db: Database, table: Table, chunks: Iterator[list[tuple]]) -> Iterator[StagedRows]:
    """Each chunk staged for the bulk load by the backend (MySQL: written to a temporary file), on the
    decoding thread: the transaction's thread then only loads, and the decoding, checking and staging
    of the whole backup can run ahead while the old rows are deleted."""
    try:
        for rows in chunks:
            yield db.stage_rows(table, rows, restored=True)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()


# -- restoring -------------------------------------------------------------------------------------


def restore_set(table: Table, with_dependents: bool) -> list[Table]:
    """`table`, and with `with_dependents` every table referencing it (transitively), in load order."""
    wanted = {table.name: table}
    if with_dependents:
        pending = [table]
        while pending:
            for dependent in dictionary_dependents(pending.pop().name):
                if dependent.name not in wanted:
                    wanted[dependent.name] = dependent
                    pending.append(dependent)
    return in_load_order(list(wanted.values()))


def _replace(
    db: Database, store: BackupStore, sources: list[TableData], chunk_rows: int, merge: bool
) -> dict[str, int]:
    """`Database.replace_tables` fed from the backup's files, decoded and staged ahead on threads."""
    feeds = {
        data.table: Prefetch(
            _staged(db, data.table, read_chunks(store, data, chunk_rows)),
            depth=RESTORE_STAGED_AHEAD,
            name="restore-decoder",
        )
        for data in sources
    }
    try:
        with tuned_interpreter():
            return db.replace_tables(feeds, merge=merge)
    finally:
        for feed in feeds.values():
            feed.close()


def restore(
    db: Database,
    store: BackupStore,
    ref: str,
    table: Table,
    with_dependents: bool = False,
    chunk_rows: int | None = None,
) -> dict:
    """Replace `table`'s rows (and with `with_dependents` its dependents') with a backup's, atomically.

    Nothing changes on any failure: InvalidBackup, BackupNotFound, RestoreRefused (other tables name
    ids the backup lacks; restore them too with `with_dependents`), StorageUnavailable or a
    DatabaseError. The rejection log is not touched.
    """
    tables = restore_set(table, with_dependents)
    sources = locate(store, ref, tables)
    started = time.monotonic()
    chunk_rows = chunk_rows or RESTORE_CHUNK_ROWS
    try:
        try:
            stored = _replace(db, store, sources, chunk_rows, merge=True)
        except TooScattered as exc:
            # Ids too scattered to delete the rows the backup lacks by range: nothing changed; empty
            # the tables first instead.
            logger.info("restore without merging", extra={"reason": str(exc)})
            stored = _replace(db, store, sources, chunk_rows, merge=False)
    except RowsRejected as exc:
        raise InvalidBackup(f"the backup repeats an id: {exc}") from None
    except ReferenceViolation as exc:
        refused = [p for p in exc.problems if not p.restored]
        detail = {
            "message": str(exc),
            "problems": [
                {"table": p.table, "column": p.column, "references": p.references, "missing_ids": p.ids}
                for p in exc.problems
            ],
        }
        if refused:
            detail["hint"] = "restore the dependent tables from the same backup too (with_dependents)"
            raise RestoreRefused(detail) from None
        raise InvalidBackup(detail) from None
    seconds = time.monotonic() - started
    result = {
        "restored": {name: {"rows": n} for name, n in stored.items()},
        "from": [f"{store.location}/{data.path}" for data in sources],
        "seconds": round(seconds, 3),
    }
    logger.info("restore done", extra=result)
    return result
