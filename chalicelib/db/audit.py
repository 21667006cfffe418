"""The `audit` table: who did what to the service, when, in which request.

Written against the `Database` core only, like jobs.py. Times are milliseconds since 1970 UTC (BIGINT).
Not dropped with the HR data: the drop itself is one of the entries.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.db.base import Database

AUDIT = "audit"

# name -> (MySQL type, SQLite type)
_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    "at": ("BIGINT NOT NULL", "INTEGER NOT NULL"),
    "client": ("VARCHAR(64) NOT NULL", "TEXT NOT NULL"),
    "method": ("VARCHAR(8) NOT NULL", "TEXT NOT NULL"),
    "route": ("VARCHAR(255) NOT NULL", "TEXT NOT NULL"),
    "status": ("INT NOT NULL", "INTEGER NOT NULL"),
    "table_name": ("VARCHAR(64) NULL", "TEXT NULL"),
    "details": ("TEXT NOT NULL", "TEXT NOT NULL"),
    "request_id": ("VARCHAR(64) NULL", "TEXT NULL"),
}
COLUMNS = tuple(_COLUMNS)
_WRITTEN = COLUMNS[1:]


def schema_statements(db: Database) -> list[str]:
    """CREATE statements of the table and its time index for `db`'s dialect (idempotent)."""
    mysql = db.dialect == "mysql"
    columns = ", ".join(f"{db.q(name)} {types[0] if mysql else types[1]}" for name, types in _COLUMNS.items())
    if mysql:
        return [
            f"CREATE TABLE IF NOT EXISTS {db.q(AUDIT)} ({columns}, KEY {db.q('ix_audit_at')} ({db.q('at')})) "
            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        ]
    return [
        f"CREATE TABLE IF NOT EXISTS {db.q(AUDIT)} ({columns})",
        f"CREATE INDEX IF NOT EXISTS {db.q('ix_audit_at')} ON {db.q(AUDIT)} ({db.q('at')})",
    ]


def insert(db: Database, entry: dict[str, Any]) -> None:
    values = [
        json.dumps(entry[c], ensure_ascii=False, default=str) if c == "details" else entry.get(c) for c in _WRITTEN
    ]
    db.execute(
        f"INSERT INTO {db.q(AUDIT)} ({', '.join(db.q(c) for c in _WRITTEN)}) "
        f"VALUES ({', '.join([db.placeholder] * len(_WRITTEN))})",
        values,
    )


def listing(db: Database, after: int = 0, limit: int = 100, client: str | None = None) -> list[dict[str, Any]]:
    """Entries with id greater than `after`, oldest first, optionally of one client."""
    where, params = [f"{db.q('id')} > {db.placeholder}"], [after]
    if client is not None:
        where.append(f"{db.q('client')} = {db.placeholder}")
        params.append(client)
    rows = db.query(
        f"SELECT {', '.join(db.q(c) for c in COLUMNS)} FROM {db.q(AUDIT)} WHERE {' AND '.join(where)} "
        f"ORDER BY {db.q('id')} LIMIT {db.placeholder}",
        [*params, limit],
    )
    out = []
    for row in rows:
        entry = dict(zip(COLUMNS, row))
        entry["details"] = json.loads(entry["details"])
        out.append(entry)
    return out


def delete_before(db: Database, at: int) -> int:
    """Forget entries older than `at`; returns how many."""
    return db.execute(f"DELETE FROM {db.q(AUDIT)} WHERE {db.q('at')} < {db.placeholder}", [at]).rowcount
