"""The `api_clients` and `api_keys` tables: who may call the API, with which scopes, and the hashes of
their keys (a key itself is never stored).

Written against the `Database` core only (`execute`, `query`, `q`, `placeholder`), like jobs.py, so both
backends keep it. Times are milliseconds since 1970 UTC (BIGINT). The tables are not dropped with the
HR data (`DELETE /admin/schema`): who may call, and who dropped what, outlive the data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.db.base import Database

CLIENTS = "api_clients"
KEYS = "api_keys"

# name -> (MySQL type, SQLite type)
_CLIENT_COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("VARCHAR(64) NOT NULL PRIMARY KEY", "TEXT NOT NULL PRIMARY KEY"),
    "scopes": ("VARCHAR(64) NOT NULL", "TEXT NOT NULL"),
    "usage_key": ("VARCHAR(128) NULL", "TEXT NULL"),
    "created_at": ("BIGINT NOT NULL", "INTEGER NOT NULL"),
    "revoked_at": ("BIGINT NULL", "INTEGER NULL"),
}
_KEY_COLUMNS: dict[str, tuple[str, str]] = {
    "key_hash": ("CHAR(64) NOT NULL PRIMARY KEY", "TEXT NOT NULL PRIMARY KEY"),
    "client": ("VARCHAR(64) NOT NULL", "TEXT NOT NULL"),
    "created_at": ("BIGINT NOT NULL", "INTEGER NOT NULL"),
    "expires_at": ("BIGINT NULL", "INTEGER NULL"),
}
CLIENT_COLUMNS = tuple(_CLIENT_COLUMNS)


def schema_statements(db: Database) -> list[str]:
    """CREATE statements of both tables for `db`'s dialect (idempotent)."""
    mysql = db.dialect == "mysql"
    out = []
    for name, columns in ((CLIENTS, _CLIENT_COLUMNS), (KEYS, _KEY_COLUMNS)):
        body = ", ".join(f"{db.q(c)} {types[0] if mysql else types[1]}" for c, types in columns.items())
        suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if mysql else ""
        out.append(f"CREATE TABLE IF NOT EXISTS {db.q(name)} ({body}){suffix}")
    return out


def insert_client(db: Database, name: str, scopes: str, usage_key: str | None, now: int) -> bool:
    """Add a client; False when one of that name exists (revoked or not)."""
    with db.transaction():
        if get_client(db, name) is not None:
            return False
        marks = ", ".join([db.placeholder] * 5)
        db.execute(
            f"INSERT INTO {db.q(CLIENTS)} ({', '.join(db.q(c) for c in CLIENT_COLUMNS)}) VALUES ({marks})",
            [name, scopes, usage_key, now, None],
        )
    return True


def get_client(db: Database, name: str) -> dict[str, Any] | None:
    cols = ", ".join(db.q(c) for c in CLIENT_COLUMNS)
    rows = db.query(f"SELECT {cols} FROM {db.q(CLIENTS)} WHERE {db.q('name')} = {db.placeholder}", [name])
    return dict(zip(CLIENT_COLUMNS, rows[0])) if rows else None


def list_clients(db: Database) -> list[dict[str, Any]]:
    cols = ", ".join(db.q(c) for c in CLIENT_COLUMNS)
    rows = db.query(f"SELECT {cols} FROM {db.q(CLIENTS)} ORDER BY {db.q('name')}")
    return [dict(zip(CLIENT_COLUMNS, r)) for r in rows]


def add_key(db: Database, client: str, key_hash: str, now: int) -> None:
    marks = ", ".join([db.placeholder] * 4)
    db.execute(
        f"INSERT INTO {db.q(KEYS)} ({db.q('key_hash')}, {db.q('client')}, {db.q('created_at')}, "
        f"{db.q('expires_at')}) VALUES ({marks})",
        [key_hash, client, now, None],
    )


def expire_keys(db: Database, client: str, at: int) -> int:
    """Make the client's keys that would outlive `at` expire then; returns how many changed."""
    cur = db.execute(
        f"UPDATE {db.q(KEYS)} SET {db.q('expires_at')} = {db.placeholder} WHERE {db.q('client')} = {db.placeholder} "
        f"AND ({db.q('expires_at')} IS NULL OR {db.q('expires_at')} > {db.placeholder})",
        [at, client, at],
    )
    return cur.rowcount


def revoke_client(db: Database, name: str, now: int) -> bool:
    """Mark the client revoked and end its keys now; False when there is no such client."""
    with db.transaction():
        if get_client(db, name) is None:
            return False
        db.execute(
            f"UPDATE {db.q(CLIENTS)} SET {db.q('revoked_at')} = {db.placeholder} "
            f"WHERE {db.q('name')} = {db.placeholder} AND {db.q('revoked_at')} IS NULL",
            [now, name],
        )
        expire_keys(db, name, now)
    return True


def set_usage_key(db: Database, name: str, usage_key: str) -> None:
    db.execute(
        f"UPDATE {db.q(CLIENTS)} SET {db.q('usage_key')} = {db.placeholder} WHERE {db.q('name')} = {db.placeholder}",
        [usage_key, name],
    )


def client_for_key(db: Database, key_hash: str, now: int) -> dict[str, Any] | None:
    """The unrevoked client holding an unexpired key with this hash, or None."""
    cols = ", ".join(f"c.{db.q(c)}" for c in CLIENT_COLUMNS)
    rows = db.query(
        f"SELECT {cols} FROM {db.q(KEYS)} k JOIN {db.q(CLIENTS)} c ON c.{db.q('name')} = k.{db.q('client')} "
        f"WHERE k.{db.q('key_hash')} = {db.placeholder} AND c.{db.q('revoked_at')} IS NULL "
        f"AND (k.{db.q('expires_at')} IS NULL OR k.{db.q('expires_at')} > {db.placeholder})",
        [key_hash, now],
    )
    return dict(zip(CLIENT_COLUMNS, rows[0])) if rows else None


def valid_key_counts(db: Database, now: int) -> dict[str, int]:
    rows = db.query(
        f"SELECT {db.q('client')}, COUNT(*) FROM {db.q(KEYS)} WHERE {db.q('expires_at')} IS NULL "
        f"OR {db.q('expires_at')} > {db.placeholder} GROUP BY {db.q('client')}",
        [now],
    )
    return {name: int(n) for name, n in rows}
