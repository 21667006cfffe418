"""The `background_jobs` table: long work (backups, restores, replays, Glue runs) and its state.

Written against the `Database` core only (`transaction`, `execute`, `query`, `q`, `placeholder`), so
both backends keep it. Every change of state is one conditional UPDATE on the row's current state (and,
for a running job, on the lease its worker holds): two workers, a redelivered message, a cancel and the
reaper can race, and exactly one of them wins. Times are milliseconds since 1970 UTC (BIGINT): the same
on both backends and compared without conversions. The table is not named `jobs`: that is the job
titles' table of the data dictionary.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.db.base import Database

JOBS = "background_jobs"
QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
JSON_COLUMNS = ("params", "result", "error")

# name -> (MySQL type, SQLite type)
_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("CHAR(20) NOT NULL PRIMARY KEY", "TEXT NOT NULL PRIMARY KEY"),
    "kind": ("VARCHAR(32) NOT NULL", "TEXT NOT NULL"),
    "state": ("VARCHAR(16) NOT NULL", "TEXT NOT NULL"),
    "source": ("VARCHAR(32) NOT NULL", "TEXT NOT NULL"),
    "params": ("TEXT NOT NULL", "TEXT NOT NULL"),
    "result": ("MEDIUMTEXT NULL", "TEXT NULL"),
    "error": ("TEXT NULL", "TEXT NULL"),
    "rows_done": ("BIGINT NOT NULL DEFAULT 0", "INTEGER NOT NULL DEFAULT 0"),
    "rows_expected": ("BIGINT NULL", "INTEGER NULL"),
    "attempts": ("INT NOT NULL DEFAULT 0", "INTEGER NOT NULL DEFAULT 0"),
    "cancel_requested": ("INT NOT NULL DEFAULT 0", "INTEGER NOT NULL DEFAULT 0"),
    "lease": ("VARCHAR(64) NULL", "TEXT NULL"),
    "glue_job": ("VARCHAR(255) NULL", "TEXT NULL"),
    "glue_run_id": ("VARCHAR(255) NULL", "TEXT NULL"),
    "retry_of": ("CHAR(20) NULL", "TEXT NULL"),
    "created_at": ("BIGINT NOT NULL", "INTEGER NOT NULL"),
    "started_at": ("BIGINT NULL", "INTEGER NULL"),
    "finished_at": ("BIGINT NULL", "INTEGER NULL"),
    "heartbeat_at": ("BIGINT NULL", "INTEGER NULL"),
}
COLUMNS = tuple(_COLUMNS)
_INDEXES = {"ix_background_jobs_kind": ("kind", "id"), "ix_background_jobs_state": ("state", "id")}


def schema_statements(db: Database) -> list[str]:
    """CREATE statements of the table and its indexes for `db`'s dialect (idempotent)."""
    mysql = db.dialect == "mysql"
    columns = ", ".join(f"{db.q(name)} {types[0] if mysql else types[1]}" for name, types in _COLUMNS.items())
    if mysql:
        keys = "".join(f", KEY {db.q(ix)} ({', '.join(db.q(c) for c in cols)})" for ix, cols in _INDEXES.items())
        return [f"CREATE TABLE IF NOT EXISTS {db.q(JOBS)} ({columns}{keys}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"]
    return [f"CREATE TABLE IF NOT EXISTS {db.q(JOBS)} ({columns})"] + [
        f"CREATE INDEX IF NOT EXISTS {db.q(ix)} ON {db.q(JOBS)} ({', '.join(db.q(c) for c in cols)})"
        for ix, cols in _INDEXES.items()
    ]


def _encode(name: str, value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False, default=str) if name in JSON_COLUMNS and value is not None else value


def _decode(row: Sequence[Any]) -> dict[str, Any]:
    out = dict(zip(COLUMNS, row))
    for name in JSON_COLUMNS:
        if out[name] is not None:
            out[name] = json.loads(out[name])
    return out


def insert(db: Database, values: dict[str, Any]) -> None:
    names = [n for n in COLUMNS if n in values]
    marks = ", ".join([db.placeholder] * len(names))
    db.execute(
        f"INSERT INTO {db.q(JOBS)} ({', '.join(db.q(n) for n in names)}) VALUES ({marks})",
        [_encode(n, values[n]) for n in names],
    )


def get(db: Database, job_id: str) -> dict[str, Any] | None:
    cols = ", ".join(db.q(c) for c in COLUMNS)
    rows = db.query(f"SELECT {cols} FROM {db.q(JOBS)} WHERE {db.q('id')} = {db.placeholder}", [job_id])
    return _decode(rows[0]) if rows else None


def listing(
    db: Database, kind: str | None = None, state: str | None = None, before: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Jobs newest first (ids sort by creation time), optionally of one kind and state, older than `before`."""
    where, params = [], []
    for name, value in (("kind", kind), ("state", state)):
        if value is not None:
            where.append(f"{db.q(name)} = {db.placeholder}")
            params.append(value)
    if before is not None:
        where.append(f"{db.q('id')} < {db.placeholder}")
        params.append(before)
    sql = f"SELECT {', '.join(db.q(c) for c in COLUMNS)} FROM {db.q(JOBS)}"
    if where:
        sql += f" WHERE {' AND '.join(where)}"
    sql += f" ORDER BY {db.q('id')} DESC LIMIT {db.placeholder}"
    return [_decode(r) for r in db.query(sql, [*params, limit])]


def update(db: Database, job_id: str, changes: dict[str, Any], **conditions: Any) -> bool:
    """Apply `changes` to the job if it still matches `conditions` (column = value; ``state`` may be a
    tuple of states; ``heartbeat_before``: heartbeat older than a time). True when it did."""
    sets, params = [], []
    for name, value in changes.items():
        if name not in _COLUMNS:
            raise ValueError(f"unknown column {name!r}")
        if name == "attempts" and value == "+1":
            sets.append(f"{db.q(name)} = {db.q(name)} + 1")
            continue
        sets.append(f"{db.q(name)} = {db.placeholder}")
        params.append(_encode(name, value))
    where, wparams = [f"{db.q('id')} = {db.placeholder}"], [job_id]
    for name, value in conditions.items():
        if name == "heartbeat_before":
            where.append(f"{db.q('heartbeat_at')} < {db.placeholder}")
            wparams.append(value)
        elif name not in _COLUMNS:
            raise ValueError(f"unknown column {name!r}")
        elif isinstance(value, tuple):
            where.append(f"{db.q(name)} IN ({', '.join([db.placeholder] * len(value))})")
            wparams.extend(value)
        elif value is None:
            where.append(f"{db.q(name)} IS NULL")
        else:
            where.append(f"{db.q(name)} = {db.placeholder}")
            wparams.append(value)
    cur = db.execute(f"UPDATE {db.q(JOBS)} SET {', '.join(sets)} WHERE {' AND '.join(where)}", [*params, *wparams])
    return cur.rowcount == 1


def running(db: Database, glue: bool) -> list[dict[str, Any]]:
    """Running jobs handed to Glue (`glue`) or run by a worker of the service (not `glue`)."""
    held = "IS NOT NULL" if glue else "IS NULL"
    sql = (
        f"SELECT {', '.join(db.q(c) for c in COLUMNS)} FROM {db.q(JOBS)} "
        f"WHERE {db.q('state')} = {db.placeholder} AND {db.q('glue_run_id')} {held} ORDER BY {db.q('id')}"
    )
    return [_decode(r) for r in db.query(sql, [RUNNING])]


def rows_up_to(db: Database, table_name: str, limit: int) -> int:
    """How many rows `table_name` has, counting no further than `limit` (cheap on a big table)."""
    sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {db.q(table_name)} LIMIT {db.placeholder}) x"
    return int(db.query(sql, [limit])[0][0])
