"""The core every capability of `Database` is built on: connections per thread, transactions, retries,
snapshots, running statements, and the dialect hooks each backend fills in (quoting, placeholders, value
encoding, upserts, date arithmetic, foreign-key checks, fetching large results).

No table's SQL lives here: see schema, rows, summary, report_sql, restore and rejections beside it.
"""

from __future__ import annotations

import functools
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from chalicelib.db.errors import DatabaseError, DatabaseUnavailable, IntegrityConflict
from chalicelib.rules.dictionary import DATETIME, INTEGER, STRING, Table

T = TypeVar("T")

IN_CHUNK = 1000  # ids per IN (...) list


def retried_read(method: Callable[..., T]) -> Callable[..., T]:
    """A reading method run through `DatabaseCore.read`: retried on a fresh connection when the one it
    used had been dropped (reads change nothing, so running them again is always safe)."""

    @functools.wraps(method)
    def reading(self: DatabaseCore, *args: Any, **kwargs: Any) -> T:
        return self.read(lambda: method(self, *args, **kwargs))

    return reading


def sql_types(integer: str, string: str, datetime_: str) -> dict[str, str]:
    """A backend's column type per dictionary type."""
    return {INTEGER: integer, STRING: string, DATETIME: datetime_}


class DatabaseCore(ABC):
    """Connections, transactions and the dialect hooks of a backend.

    Connections are per thread and reused. Work that must be atomic runs in `transaction()`
    (nestable: inner blocks join the outer one) or, to be retried after a dropped connection or a
    concurrent-writer conflict, in `run(unit)`.
    """

    dialect: str
    placeholder: str
    column_types: dict[str, str]

    def __init__(self) -> None:
        self._local = threading.local()

    # -- dialect hooks, per backend ------------------------------------------------------------

    @abstractmethod
    def _open(self) -> Any: ...

    @abstractmethod
    def _begin(self, conn: Any) -> None: ...

    def _begin_snapshot(self, conn: Any) -> None:
        self._begin(conn)

    @abstractmethod
    def _translate(self, exc: BaseException) -> DatabaseError | None:
        """The service-level error for a driver exception (None: not a database error)."""

    @abstractmethod
    def q(self, name: str) -> str:
        """A quoted identifier; `name` must come from the dictionary or this package."""

    @abstractmethod
    def _on_conflict(self, key: Sequence[str], assignments: Sequence[tuple[str, str]]) -> str:
        """The dialect's upsert clause: on a clash on `key`, set each column to its expression, where
        ``{new}`` stands for the value the INSERT brought for that column."""

    @abstractmethod
    def _year_sql(self, column: str) -> str:
        """SQL for the calendar year of a stored (UTC) datetime column."""

    @abstractmethod
    def _quarter_sql(self, column: str) -> str:
        """SQL for the calendar quarter (1-4) of a stored (UTC) datetime column."""

    @abstractmethod
    def _epoch_seconds_sql(self, column: str) -> str:
        """SQL for a stored datetime column as whole seconds since 1970-01-01 UTC."""

    @abstractmethod
    def _from_epoch_seconds_sql(self, value: str) -> str:
        """SQL for the stored datetime of `value` seconds since 1970-01-01 UTC."""

    @abstractmethod
    def _suspend_reference_checks(self) -> None:
        """Stop checking foreign keys row by row until `_resume_reference_checks`, in this transaction."""

    @abstractmethod
    def _resume_reference_checks(self) -> None:
        """Check foreign keys row by row again."""

    _for_update = ""  # a locking read's suffix, where the backend has them

    def _before_use(self, conn: Any) -> Any:
        return conn

    def _decode(self, table: Table, row: Sequence[Any]) -> tuple:
        return tuple(row)

    def _encode(self, value: Any) -> Any:
        return value

    def _bind(self, params: Sequence[Any]) -> tuple:
        """A statement's parameters as the driver takes them."""
        return tuple(params)

    def _query_many_rows(self, sql: str, params: Sequence[Any], columns: Sequence[str]) -> list[Sequence[Any]]:
        """The rows of `sql` (whose result columns are named `columns`), for results of thousands of rows."""
        return self.query(sql, params)

    def encode_rows(self, table: Table, rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        """Typed rows as the driver takes them: only datetime columns need converting."""
        positions = [i for i, c in enumerate(table.columns) if c.type == DATETIME]
        if not positions:
            return list(rows)
        out = []
        for row in rows:
            row = list(row)
            for i in positions:
                row[i] = self._encode(row[i])
            out.append(row)
        return out

    def _upsert_sql(self, table_name: str, columns: Sequence[str], key: Sequence[str], updates: dict[str, str]) -> str:
        """INSERT of `columns` that, on a clash on `key`, applies `updates` (column -> expression using
        ``{old}`` for the stored value and ``{new}`` for the incoming one)."""
        assignments = [(c, expr.replace("{old}", self.q(c))) for c, expr in updates.items()]
        return (
            f"INSERT INTO {self.q(table_name)} ({', '.join(self.q(c) for c in columns)}) "
            f"VALUES ({self._marks(len(columns))}) {self._on_conflict(key, assignments)}"
        )

    def _marks(self, n: int) -> str:
        return ", ".join([self.placeholder] * n)

    def _cols(self, table: Table) -> str:
        return ", ".join(self.q(c) for c in table.column_names)

    # -- connections and transactions ----------------------------------------------------------

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._open()
            except Exception as exc:
                raise self._translate(exc) or exc from exc
            self._local.conn = conn
        return conn

    def _discard(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def close(self) -> None:
        """Close this thread's connection."""
        self._discard()

    def ping(self) -> None:
        self.read(lambda: self.query("SELECT 1"))

    def _start(self, begin: Callable[[Any], None]) -> Any:
        """This thread's connection with an outermost transaction opened by `begin`."""
        conn = self._before_use(self._conn())
        try:
            begin(conn)
        except Exception as exc:
            self._discard()
            raise self._translate(exc) or exc from exc
        self._local.depth = 1
        return conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth = depth
            return
        conn = self._start(self._begin)
        try:
            yield
        except BaseException as exc:
            self._roll_back(conn, exc)
            raise
        else:
            self._commit(conn)
        finally:
            self._local.depth = 0

    def _roll_back(self, conn: Any, exc: BaseException) -> None:
        """Undo the outermost transaction that `exc` ended; raises `exc`'s service-level error, if any."""
        try:
            conn.rollback()
        except Exception:
            self._discard()
        translated = self._translate(exc)
        if isinstance(translated, DatabaseUnavailable):
            self._discard()
        if translated is not None:
            raise translated from exc

    def _commit(self, conn: Any) -> None:
        try:
            conn.commit()
        except Exception as exc:
            self._discard()
            translated = self._translate(exc) or exc
            if isinstance(translated, DatabaseUnavailable):
                # The commit may have reached the server before the connection went: never run it again.
                translated = DatabaseUnavailable(str(translated), retryable=False)
            raise translated from exc

    def run(self, unit: Callable[[], T], attempts: int = 3) -> T:
        """`unit()` in one transaction, retried when a dropped connection or a concurrent writer made it fail."""
        for attempt in range(1, attempts + 1):
            try:
                with self.transaction():
                    return unit()
            except IntegrityConflict:
                if attempt == attempts:
                    raise
            except DatabaseUnavailable as exc:
                if not exc.retryable or attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def read(self, unit: Callable[[], T], attempts: int = 3) -> T:
        """`unit()`, statements that change nothing, run again on a fresh connection when the one it used
        had been dropped (an idle timeout, RDS Proxy, a failover). Inside a transaction or another read,
        `unit()` just runs: the outer unit is the one retried. Other errors are never retried."""
        if getattr(self._local, "depth", 0) or getattr(self._local, "reading", False):
            return unit()
        self._local.reading = True
        try:
            for attempt in range(1, attempts + 1):
                try:
                    return unit()
                except DatabaseUnavailable as exc:
                    if not exc.retryable or attempt == attempts:
                        raise
        finally:
            self._local.reading = False
        raise AssertionError("unreachable")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state of every table (a read-only transaction)."""
        if getattr(self._local, "depth", 0):
            yield
            return
        conn = self._start(self._begin_snapshot)
        try:
            yield
        finally:
            self._local.depth = 0
            try:
                conn.rollback()
            except Exception:
                self._discard()

    # -- statements ----------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement on this thread's connection; returns the cursor."""
        conn = self._conn()
        if not getattr(self._local, "depth", 0):
            conn = self._before_use(conn)
        cur = conn.cursor()
        try:
            cur.execute(sql, self._bind(params))
        except Exception as exc:
            translated = self._translate(exc)
            if isinstance(translated, DatabaseUnavailable) and not getattr(self._local, "depth", 0):
                self._discard()
            if translated is not None:
                raise translated from exc
            raise
        return cur

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        cur = self._conn().cursor()
        try:
            cur.executemany(sql, rows)
        except Exception as exc:
            raise self._translate(exc) or exc from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return list(self.execute(sql, params).fetchall())

    def _where_in(self, statement: str, key: str, ids: Sequence[int]) -> list[tuple]:
        """Rows of ``statement WHERE key IN (ids)``, run as one statement per IN_CHUNK ids (a
        DELETE returns none)."""
        rows: list[tuple] = []
        for start in range(0, len(ids), IN_CHUNK):
            chunk = list(ids[start : start + IN_CHUNK])
            cur = self.execute(f"{statement} WHERE {self.q(key)} IN ({self._marks(len(chunk))})", chunk)
            if cur.description:
                rows.extend(cur.fetchall())
        return rows

    @staticmethod
    def _keyset(fetch: Callable[[int, int], list], batch: int) -> Iterator[tuple]:
        """Every row `fetch(after, limit)` pages through in id order (the id first in each row)."""
        after = 0
        while True:
            rows = fetch(after, batch)
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1][0]
