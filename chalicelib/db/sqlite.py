"""The embedded backend: SQLite, for `chalice local`, the CLI and development without AWS."""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.db.base import (
    REJECTIONS,
    Database,
    DatabaseError,
    DatabaseUnavailable,
    IntegrityConflict,
    sql_types,
    tables_in_order,
)
from chalicelib.rules.dictionary import DATETIME, Table

_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class SqliteDatabase(Database):
    dialect = "sqlite"
    placeholder = "?"
    summary_table_options = "WITHOUT ROWID"
    column_types = sql_types("INTEGER", "TEXT", "TEXT")

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def __repr__(self) -> str:
        return f"SqliteDatabase({self.path!r})"

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        # isolation_level=None: autocommit outside explicit transactions, which `_begin` opens.
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _begin(self, conn: sqlite3.Connection) -> None:
        # Take the write lock up front: two readers upgrading to writers would otherwise deadlock.
        conn.execute("BEGIN IMMEDIATE")

    def _translate(self, exc: BaseException) -> DatabaseError | None:
        if isinstance(exc, DatabaseError):
            return exc
        if isinstance(exc, sqlite3.IntegrityError):
            return IntegrityConflict(str(exc))
        if isinstance(exc, sqlite3.OperationalError):
            message = str(exc)
            if "locked" in message or "busy" in message:
                return DatabaseUnavailable(f"database is busy: {message}", retryable=True)
            if "no such table" in message:
                return DatabaseError(f"schema missing ({message}); run `schema create`")
            return DatabaseUnavailable(message)
        if isinstance(exc, sqlite3.DatabaseError):
            return DatabaseUnavailable(str(exc))
        return None

    def q(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def _decode(self, table: Table, row: Sequence[Any]) -> tuple:
        return tuple(
            datetime.strptime(value, _DATETIME_FORMAT) if column.type == DATETIME and isinstance(value, str) else value
            for column, value in zip(table.columns, row)
        )

    def _encode(self, value: Any) -> Any:
        return value.strftime(_DATETIME_FORMAT) if isinstance(value, datetime) else value

    def _bind(self, params: Sequence[Any]) -> tuple:
        # SQLite binds 64-bit integers only; past that, an infinity compares with every stored integer
        # as the number would (an id or cursor of 2**70 finds no row).
        return tuple(
            (math.inf if p > 0 else -math.inf) if p.__class__ is int and not _INT64_MIN <= p <= _INT64_MAX else p
            for p in params
        )

    # -- backups and restores -----------------------------------------------------------------

    def _begin_snapshot(self, conn: sqlite3.Connection) -> None:
        # Deferred: in WAL mode the first read fixes a snapshot and writers are not blocked meanwhile.
        conn.execute("BEGIN")

    def _epoch_seconds_sql(self, column: str) -> str:
        return f"CAST(strftime('%s', {column}) AS INTEGER)"

    def _from_epoch_seconds_sql(self, value: str) -> str:
        return f"datetime({value}, 'unixepoch')"  # 'YYYY-MM-DD HH:MM:SS', as stored

    def _suspend_reference_checks(self) -> None:
        # Checked at COMMIT instead of per statement; SQLite resets it when the transaction ends.
        self.execute("PRAGMA defer_foreign_keys = ON")

    def _resume_reference_checks(self) -> None:
        pass  # SQLite turns defer_foreign_keys off itself when the transaction ends

    def _schema_statements(self) -> list[str]:
        statements = []
        for table in tables_in_order():
            parts = self.column_sql(table) + [f"PRIMARY KEY ({self.q(table.key)})"]
            parts += [
                f"FOREIGN KEY ({self.q(c.name)}) REFERENCES {self.q(c.references)} ({self.q('id')})"
                for c in table.references
            ]
            statements.append(f"CREATE TABLE IF NOT EXISTS {self.q(table.name)} ({', '.join(parts)})")
            for column in table.references:
                statements.append(
                    f"CREATE INDEX IF NOT EXISTS {self.q(f'ix_{table.name}_{column.name}')} "
                    f"ON {self.q(table.name)} ({self.q(column.name)})"
                )
            for column in table.columns:
                if column.type == DATETIME:
                    statements.append(
                        f"CREATE INDEX IF NOT EXISTS {self.q(f'ix_{table.name}_{column.name}')} "
                        f"ON {self.q(table.name)} ({self.q(column.name)})"
                    )
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {self.q(REJECTIONS)} ("
            f"{self.q('id')} INTEGER PRIMARY KEY AUTOINCREMENT, "
            f"{self.q('fingerprint')} TEXT NOT NULL UNIQUE, "
            f"{self.q('source')} TEXT NOT NULL, "
            f"{self.q('table_name')} TEXT NOT NULL, "
            f"{self.q('position')} INTEGER NOT NULL, "
            f"{self.q('raw')} TEXT NOT NULL, "
            f"{self.q('reasons')} TEXT NOT NULL, "
            f"{self.q('rejected_at')} TEXT NOT NULL, "
            f"{self.q('row_id')} INTEGER NULL)"
        )
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {self.q('ix_rejections_row')} ON {self.q(REJECTIONS)} "
            f"({self.q('table_name')}, {self.q('row_id')})"
        )
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {self.q('ix_rejections_table')} ON {self.q(REJECTIONS)} "
            f"({self.q('table_name')}, {self.q('id')})"
        )
        statements.append(self._quarterly_hires_ddl())
        return statements

    def _on_conflict(self, key: Sequence[str], assignments: Sequence[tuple[str, str]]) -> str:
        sets = ", ".join(f"{self.q(c)} = {expr.replace('{new}', f'excluded.{self.q(c)}')}" for c, expr in assignments)
        return f"ON CONFLICT ({', '.join(self.q(c) for c in key)}) DO UPDATE SET {sets}"

    # Datetimes are stored as 'YYYY-MM-DD HH:MM:SS' text in UTC: the year and month are fixed slices.
    def _year_sql(self, column: str) -> str:
        return f"CAST(substr({column}, 1, 4) AS INTEGER)"

    def _quarter_sql(self, column: str) -> str:
        return f"((CAST(substr({column}, 6, 2) AS INTEGER) + 2) / 3)"
