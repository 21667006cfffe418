"""The database interface and the SQL both backends share.

Identifiers in SQL come only from the data dictionary or from constants in this package; every value
is a bound parameter.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, TypeVar

from chalicelib.db import jobs as background_jobs
from chalicelib.rules.dictionary import DATETIME, INTEGER, LOAD_ORDER, STRING, TABLES, Table, dependents, in_load_order
from chalicelib.rules.validation import raw_json, rejection_fingerprint

T = TypeVar("T")

REJECTIONS = "rejections"
IN_CHUNK = 1000  # ids per IN (...) list
DENSE_SPAN = 4  # `stored_rows` scans an id range when it is at most this many times the ids wanted
MAX_MERGE_RUNS = 10_000  # a merging restore deletes the rows it did not bring by id range, up to this many
MERGE_CHANGED_SHARE = 0.3  # a merging restore replaces rows while at most this share of a chunk's differ
EXPORT_BATCH = 50000  # rows per keyset batch of a backup
# Derived from hired_employees: hires per (year, department, job) in each quarter (q1..q4), kept exact
# by the write hooks below so the reports read one row per line of their answer, not the table.
QUARTERLY_HIRES = "quarterly_hires"
QUARTERLY_HIRES_KEY = ("year", "department_id", "job_id")
QUARTERS = ("q1", "q2", "q3", "q4")


class DatabaseError(Exception):
    """A database failure the caller cannot fix by changing its input."""


class DatabaseUnavailable(DatabaseError):
    """The server cannot be reached, the connection dropped, or a lock could not be had."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class IntegrityConflict(DatabaseError):
    """A write hit a key or reference that changed under it (a concurrent writer): retry the unit."""


class ReferencedRow(DatabaseError):
    """A row cannot be deleted while other rows reference it."""


class RowsRejected(Exception):
    """Rows given to a bulk replace broke a key (a repeated id); nothing was changed."""


class TooScattered(Exception):
    """A merging restore met ids in too many runs to delete the others by range; nothing was changed
    (restore again without merging)."""


@dataclass(frozen=True)
class MissingReferences:
    """`table.column` names ids (some of `ids`) that `references` does not have."""

    table: str
    column: str
    references: str
    ids: list[int]
    restored: bool  # True: the restored rows name missing ids; False: other rows name ids the restore drops

    def __str__(self) -> str:
        shown = ", ".join(map(str, self.ids[:20])) + (", ..." if len(self.ids) > 20 else "")
        return f"{self.table}.{self.column} names {self.references} id(s) that would not exist: {shown}"


class ReferenceViolation(Exception):
    """Replacing tables would leave references to ids that do not exist; nothing was changed."""

    def __init__(self, problems: list[MissingReferences]):
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


@dataclass
class Rejection:
    """One entry of the rejection log."""

    id: int
    source: str
    table_name: str
    position: int
    raw: Any
    reasons: list[str]
    rejected_at: datetime

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "source": self.source,
            "table": self.table_name,
            "position": self.position,
            "row": self.raw,
            "reasons": self.reasons,
            "rejected_at": self.rejected_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


class StagedRows:
    """A chunk of rows made ready for the backend's bulk insert (see `Database.stage_rows`), which may be
    done on another thread, ahead of and beside the transaction that inserts them. Knows its row count
    (``len``), their keys, per referencing column the values its rows name, and their share of derived
    data; `discard()` frees what it holds."""

    def __init__(self, count: int, rows: Sequence[Sequence[Any]] | None = None):
        self.count, self.rows = count, rows
        self.named: dict[str, set[int]] = {}
        # The rows' keys as runs of consecutive numbers (see `id_runs`); None when a key repeats.
        self.key_runs: list[tuple[int, int]] | None = []
        # hired_employees: the rows' hires per (year, department_id, job_id) in Q1..Q4.
        self.quarterly: dict[tuple[int, int, int], list[int]] | None = None

    def __len__(self) -> int:
        return self.count

    def discard(self) -> None:
        self.rows = None

    @staticmethod
    def holding(staged: StagedRows | None, rows: Sequence[Sequence[Any]]) -> StagedRows | None:
        """`staged` if it holds exactly `rows`, else None. `staged` is of these rows or of a superset of
        them (a chunk's rows before classification took some out), so a count that matches means the
        same rows."""
        return staged if staged is not None and len(staged) == len(rows) else None


class Database(ABC):
    """What the service needs from a database; `MysqlDatabase` and `SqliteDatabase` implement it.

    Connections are per thread and reused. Work that must be atomic runs in `transaction()`
    (nestable: inner blocks join the outer one) or, to be retried once on a dropped connection or a
    concurrent-writer conflict, in `run(unit)`.
    """

    dialect: str
    placeholder: str
    column_types: dict[str, str]

    def __init__(self) -> None:
        self._local = threading.local()

    # -- connection and transaction plumbing, per backend -------------------------------------

    @abstractmethod
    def _open(self) -> Any: ...

    @abstractmethod
    def _begin(self, conn: Any) -> None: ...

    @abstractmethod
    def _translate(self, exc: BaseException) -> DatabaseError | None:
        """The service-level error for a driver exception (None: not a database error)."""

    @abstractmethod
    def _schema_statements(self) -> list[str]: ...

    summary_table_options = ""

    def _quarterly_hires_ddl(self) -> str:
        """The reports' summary table: one row per (year, department, job), hires per quarter."""
        integer = self.column_types[INTEGER]
        columns = ", ".join(f"{self.q(c)} {integer} NOT NULL" for c in (*QUARTERLY_HIRES_KEY, *QUARTERS))
        key = ", ".join(self.q(c) for c in QUARTERLY_HIRES_KEY)
        return f"CREATE TABLE IF NOT EXISTS {self.q(QUARTERLY_HIRES)} ({columns}, PRIMARY KEY ({key})) {self.summary_table_options}"

    def _drop_statements(self) -> list[str]:
        names = [background_jobs.JOBS, QUARTERLY_HIRES, REJECTIONS] + [t.name for t in reversed(tables_in_order())]
        return [f"DROP TABLE IF EXISTS {self.q(name)}" for name in names]

    @abstractmethod
    def _on_conflict(self, key: Sequence[str], assignments: Sequence[tuple[str, str]]) -> str:
        """The dialect's upsert clause: on a clash on `key`, set each column to its expression, where
        ``{new}`` stands for the value the INSERT brought for that column."""

    def _upsert_sql(self, table_name: str, columns: Sequence[str], key: Sequence[str], updates: dict[str, str]) -> str:
        """INSERT of `columns` that, on a clash on `key`, applies `updates` (column -> expression using
        ``{old}`` for the stored value and ``{new}`` for the incoming one)."""
        assignments = [(c, expr.replace("{old}", self.q(c))) for c, expr in updates.items()]
        return (
            f"INSERT INTO {self.q(table_name)} ({', '.join(self.q(c) for c in columns)}) "
            f"VALUES ({self._marks(len(columns))}) {self._on_conflict(key, assignments)}"
        )

    def _upsert_rejections_sql(self) -> str:
        # A rejection logged again (re-delivery) refreshes its reasons and time instead of repeating.
        return self._upsert_sql(
            REJECTIONS, self.rejections_columns(), ["fingerprint"], {"reasons": "{new}", "rejected_at": "{new}"}
        )

    @abstractmethod
    def q(self, name: str) -> str:
        """A quoted identifier; `name` must come from the dictionary or this package."""

    def _before_use(self, conn: Any) -> Any:
        return conn

    def _decode(self, table: Table, row: Sequence[Any]) -> tuple:
        return tuple(row)

    def _encode(self, value: Any) -> Any:
        return value

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
            try:
                conn.rollback()
            except Exception:
                self._discard()
            translated = self._translate(exc)
            if isinstance(translated, DatabaseUnavailable):
                self._discard()
            if translated is not None:
                raise translated from exc
            raise
        else:
            try:
                conn.commit()
            except Exception as exc:
                self._discard()
                raise self._translate(exc) or exc from exc
        finally:
            self._local.depth = 0

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

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement on this thread's connection; returns the cursor."""
        conn = self._conn()
        if not getattr(self._local, "depth", 0):
            conn = self._before_use(conn)
        cur = conn.cursor()
        try:
            cur.execute(sql, tuple(params))
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

    def _marks(self, n: int) -> str:
        return ", ".join([self.placeholder] * n)

    def _cols(self, table: Table) -> str:
        return ", ".join(self.q(c) for c in table.column_names)

    # -- schema -------------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create the tables, keys and foreign keys that do not exist yet (idempotent)."""
        for statement in [*self._schema_statements(), *background_jobs.schema_statements(self)]:
            self.execute(statement)
        # A database created before the summary existed has rows and an empty summary: fill it once.
        if self.query(f"SELECT 1 FROM {self.q(QUARTERLY_HIRES)} LIMIT 1") == [] and self.query(
            f"SELECT 1 FROM {self.q('hired_employees')} LIMIT 1"
        ):
            self.rebuild_derived()

    def drop_schema(self) -> None:
        """Drop every table of the service, data included."""
        for statement in self._drop_statements():
            self.execute(statement)

    def column_sql(self, table: Table) -> list[str]:
        return [f"{self.q(c.name)} {self.column_types[c.type]} NOT NULL" for c in table.columns]

    def ping(self) -> None:
        self.query("SELECT 1")

    # -- rows ---------------------------------------------------------------------------------

    def stored_rows(self, table: Table, ids: Iterable[int]) -> dict[int, tuple]:
        """The stored rows among `ids`, by id."""
        out: dict[int, tuple] = {}
        wanted = ids if isinstance(ids, (set, frozenset)) else set(ids)
        if not wanted:
            return out
        low, high = min(wanted), max(wanted)
        if len(wanted) > IN_CHUNK and high - low < DENSE_SPAN * len(wanted):
            # A file's chunk holds mostly consecutive ids: one range scan reads at most DENSE_SPAN rows
            # per id and costs one round trip instead of one per IN_CHUNK ids.
            sql = (
                f"SELECT {self._cols(table)} FROM {self.q(table.name)} "
                f"WHERE {self.q(table.key)} BETWEEN {self.placeholder} AND {self.placeholder}"
            )
            for row in self.query(sql, [low, high]):
                decoded = self._decode(table, row)
                if decoded[0] in wanted:
                    out[decoded[0]] = decoded
            return out
        for row in self._where_in(f"SELECT {self._cols(table)} FROM {self.q(table.name)}", table.key, sorted(wanted)):
            decoded = self._decode(table, row)
            out[decoded[0]] = decoded
        return out

    def existing_ids(self, table: Table, ids: Iterable[int]) -> set[int]:
        """The ids among `ids` that exist in `table`."""
        rows = self._where_in(f"SELECT {self.q(table.key)} FROM {self.q(table.name)}", table.key, list(ids))
        return {r[0] for r in rows}

    def insert_rows(self, table: Table, rows: Sequence[Sequence[Any]], staged: StagedRows | None = None) -> None:
        """Insert typed rows (dictionary order). Raises IntegrityConflict on a key or reference clash.
        (`staged`: as for `bulk_insert`.)"""
        if not rows:
            return
        sql = f"INSERT INTO {self.q(table.name)} ({self._cols(table)}) VALUES ({self._marks(len(table.columns))})"
        self.executemany(sql, self.encode_rows(table, rows))
        self.after_insert(table, rows, staged)

    def bulk_insert(self, table: Table, rows: Sequence[Sequence[Any]], staged: StagedRows | None = None) -> None:
        """Insert many typed rows as fast as the backend can, in the caller's transaction.

        Same contract as `insert_rows` (all or nothing, IntegrityConflict on a clash that slipped past
        classification, `after_insert` called with the rows); the file loader uses it for its chunks.
        `staged` is `stage_rows` of these rows or of a superset of them (a chunk's rows before
        classification took some out): it is used when it holds as many rows as `rows`, the same ones.
        """
        self.insert_rows(table, rows, staged)

    def stage_rows(self, table: Table, rows: Sequence[Sequence[Any]], restored: bool = False) -> StagedRows:
        """Typed rows made ready for `bulk_insert` (the file loader) or, `restored`, for
        `_load_restored_rows` (a restore: datetimes are whole seconds since 1970 UTC), with what the write
        needs to know of them. Uses no connection and no shared state: callers stage on another thread,
        ahead of the transaction, so that work overlaps the database's."""
        return self._described(table, StagedRows(len(rows), rows), rows, restored)

    @staticmethod
    def _described(table: Table, staged: StagedRows, rows: Sequence[Sequence[Any]], restored: bool) -> StagedRows:
        """`staged` with what is known of its `rows` filled in (see StagedRows). Only `replace_tables`
        reads the keys and referenced values (the loader has them from `validation.lookups`)."""
        if restored:
            staged.named = {c.name: {row[i] for row in rows} for i, c in enumerate(table.columns) if c.references}
            keys = [row[0] for row in rows]
            staged.key_runs = id_runs(keys)
            if sum(last - first + 1 for first, last in staged.key_runs) != len(keys):
                staged.key_runs = None
        if table.name == "hired_employees":
            staged.quarterly = (quarterly_counts_of_seconds if restored else quarterly_counts)(rows)
        return staged

    # -- derived data ---------------------------------------------------------------------------
    # Every write path calls these inside its transaction, so anything derived from the tables (the
    # reports' summary) is exact whenever the rows are. A path that writes rows any other way (a
    # bulk load, a restore, a Glue job) calls `after_insert` with its rows or `rebuild_derived()`.

    def after_insert(self, table: Table, rows: Sequence[Sequence[Any]], staged: StagedRows | None = None) -> None:
        """Typed rows were just inserted into `table` in the current transaction (`staged`: as for
        `bulk_insert`, whose counts are used when it holds these rows)."""
        if table.name == "hired_employees" and rows:
            staged = StagedRows.holding(staged, rows)
            if staged is not None and staged.quarterly is not None:
                self._add_quarterly_hires(staged.quarterly, sign=1)
            else:
                self._add_quarterly_hires(quarterly_counts(rows), sign=1)

    def after_delete(self, table: Table, rows: Sequence[Sequence[Any]]) -> None:
        """Typed rows were just deleted from `table` in the current transaction."""
        if table.name == "hired_employees" and rows:
            self._add_quarterly_hires(quarterly_counts(rows), sign=-1)

    def rebuild_derived(self) -> None:
        """Recompute everything derived from the tables (after writes that bypassed `after_insert`)."""
        when = self.q("datetime")
        quarter = self._quarter_sql(when)
        per_quarter = ", ".join(f"SUM(CASE WHEN {quarter} = {n} THEN 1 ELSE 0 END)" for n in (1, 2, 3, 4))
        columns = ", ".join(self.q(c) for c in (*QUARTERLY_HIRES_KEY, *QUARTERS))
        with self.transaction():
            self.execute(f"DELETE FROM {self.q(QUARTERLY_HIRES)}")
            self.execute(
                f"INSERT INTO {self.q(QUARTERLY_HIRES)} ({columns}) "
                f"SELECT {self._year_sql(when)}, {self.q('department_id')}, {self.q('job_id')}, {per_quarter} "
                f"FROM {self.q('hired_employees')} GROUP BY 1, 2, 3"
            )

    def _add_quarterly_hires(self, counts: dict[tuple[int, int, int], list[int]], sign: int) -> None:
        # Keys in one order in every transaction, so two writers lock summary rows in the same order.
        keys = sorted(counts)
        if sign > 0:
            self._upsert_quarterly_hires([(*k, *counts[k]) for k in keys])
            return
        table = self.q(QUARTERLY_HIRES)
        match = " AND ".join(f"{self.q(c)} = {self.placeholder}" for c in QUARTERLY_HIRES_KEY)
        subtract = ", ".join(f"{self.q(q)} = {self.q(q)} - {self.placeholder}" for q in QUARTERS)
        self.executemany(f"UPDATE {table} SET {subtract} WHERE {match}", [(*counts[k], *k) for k in keys])
        # A (year, department, job) with no hire left is no row, as if it never had one.
        total = " + ".join(self.q(q) for q in QUARTERS)
        self.executemany(f"DELETE FROM {table} WHERE {match} AND {total} <= 0", [tuple(k) for k in keys])

    def _upsert_quarterly_hires(self, rows: list[tuple[int, ...]]) -> None:
        """Add (year, department_id, job_id, q1, q2, q3, q4) rows, in this order, to the summary."""
        sql = self._upsert_sql(
            QUARTERLY_HIRES,
            (*QUARTERLY_HIRES_KEY, *QUARTERS),
            QUARTERLY_HIRES_KEY,
            dict.fromkeys(QUARTERS, "{old} + {new}"),
        )
        self.executemany(sql, rows)

    @abstractmethod
    def _year_sql(self, column: str) -> str:
        """SQL for the calendar year of a stored (UTC) datetime column."""

    @abstractmethod
    def _quarter_sql(self, column: str) -> str:
        """SQL for the calendar quarter (1-4) of a stored (UTC) datetime column."""

    # -- reports --------------------------------------------------------------------------------
    # Both read the summary by default; `from_table=True` runs the straightforward GROUP BY over
    # hired_employees instead (the reference the summary is checked against, and the benchmark's baseline).

    def _year_range(self, year: int) -> list[Any]:
        # A range on the indexed column rather than YEAR(datetime) = ?, so the index can serve it.
        return [self._encode(datetime(year, 1, 1)), self._encode(datetime(year, 12, 31, 23, 59, 59))]

    def quarterly_hires(
        self, year: int, from_table: bool = False
    ) -> list[tuple[int, str, int, str, int, int, int, int]]:
        """(department_id, department, job_id, job, Q1, Q2, Q3, Q4) for every department and job with
        hires in `year`. Unordered: the caller orders by name the same way on every backend."""
        columns = ("department_id", "job_id", *QUARTERS)
        if from_table:
            when = self.q("datetime")
            quarter = self._quarter_sql(when)
            per_quarter = ", ".join(
                f"SUM(CASE WHEN {quarter} = {n} THEN 1 ELSE 0 END) AS {self.q(f'q{n}')}" for n in (1, 2, 3, 4)
            )
            sql = (
                f"SELECT {self.q('department_id')}, {self.q('job_id')}, {per_quarter} FROM {self.q('hired_employees')} "
                f"WHERE {when} >= {self.placeholder} AND {when} <= {self.placeholder} GROUP BY 1, 2"
            )
            params = self._year_range(year)
        else:
            sql = (
                f"SELECT {', '.join(self.q(c) for c in columns)} FROM {self.q(QUARTERLY_HIRES)} "
                f"WHERE {self.q('year')} = {self.placeholder} AND {' + '.join(self.q(q) for q in QUARTERS)} > 0"
            )
            params = [year]
        # int(): MySQL's SUM is a DECIMAL.
        counts = [
            (int(d), int(j), int(a), int(b), int(c), int(e))
            for d, j, a, b, c, e in self._query_many_rows(sql, params, columns)
        ]
        # Names after counts: a department or job named by a count existed when it was read, and a
        # referenced row cannot be deleted, so every name is found.
        departments = self._names(TABLES["departments"], {c[0] for c in counts})
        jobs = self._names(TABLES["jobs"], {c[1] for c in counts})
        return [(d, departments[d], j, jobs[j], q1, q2, q3, q4) for d, j, q1, q2, q3, q4 in counts]

    def _names(self, table: Table, ids: set[int]) -> dict[int, str]:
        """id -> name (the table's second column) for `ids`."""
        columns = f"{self.q(table.key)}, {self.q(table.columns[1].name)}"
        rows = self._where_in(f"SELECT {columns} FROM {self.q(table.name)}", table.key, sorted(ids))
        return {int(i): n for i, n in rows}

    def _query_many_rows(self, sql: str, params: Sequence[Any], columns: Sequence[str]) -> list[Sequence[Any]]:
        """The rows of `sql` (whose result columns are named `columns`), for results of thousands of rows."""
        return self.query(sql, params)

    def department_hires(self, year: int, from_table: bool = False) -> tuple[list[tuple[int, str, int]], int]:
        """((id, department, hired) for each department with hires in `year`, number of departments)."""
        if from_table:
            when = self.q("datetime")
            counts = (
                f"SELECT {self.q('department_id')}, COUNT(*) AS {self.q('hired')} FROM {self.q('hired_employees')} "
                f"WHERE {when} >= {self.placeholder} AND {when} <= {self.placeholder} GROUP BY 1"
            )
            params = self._year_range(year)
        else:
            counts = (
                f"SELECT {self.q('department_id')}, SUM({' + '.join(self.q(q) for q in QUARTERS)}) AS {self.q('hired')} "
                f"FROM {self.q(QUARTERLY_HIRES)} WHERE {self.q('year')} = {self.placeholder} GROUP BY 1"
            )
            params = [year]
        # One statement, so the counts and the number of departments come from the same snapshot.
        sql = (
            f"SELECT d.{self.q('id')}, d.{self.q('department')}, c.{self.q('hired')}, "
            f"(SELECT COUNT(*) FROM {self.q('departments')}) "
            f"FROM ({counts}) c JOIN {self.q('departments')} d ON d.{self.q('id')} = c.{self.q('department_id')} "
            f"WHERE c.{self.q('hired')} > 0"
        )
        rows = self.query(sql, params)
        if not rows:
            n_departments = self.query(f"SELECT COUNT(*) FROM {self.q('departments')}")[0][0]
            return [], int(n_departments)
        return [(int(i), name, int(hired)) for i, name, hired, _ in rows], int(rows[0][3])

    def get_row(self, table: Table, key: int) -> tuple | None:
        rows = self.query(
            f"SELECT {self._cols(table)} FROM {self.q(table.name)} WHERE {self.q(table.key)} = {self.placeholder}",
            [key],
        )
        return self._decode(table, rows[0]) if rows else None

    def list_rows(self, table: Table, after: int = 0, limit: int = 100) -> list[tuple]:
        """Rows with id greater than `after`, in id order (keyset pagination)."""
        sql = (
            f"SELECT {self._cols(table)} FROM {self.q(table.name)} WHERE {self.q(table.key)} > {self.placeholder} "
            f"ORDER BY {self.q(table.key)} LIMIT {self.placeholder}"
        )
        return [self._decode(table, r) for r in self.query(sql, [after, limit])]

    def delete_row(self, table: Table, key: int) -> tuple | None:
        """Delete one row and return it; None when there was none. Raises ReferencedRow when other
        rows name it."""
        with self.transaction():
            row = self.get_row(table, key)
            if row is None:
                return None
            try:
                self.execute(f"DELETE FROM {self.q(table.name)} WHERE {self.q(table.key)} = {self.placeholder}", [key])
            except (IntegrityConflict, ReferencedRow) as exc:
                raise ReferencedRow(f"{table.name} {key} is referenced by other rows") from exc
            self.after_delete(table, [row])
        return row

    def counts(self) -> dict[str, int]:
        """Row count per table of the dictionary, and of the rejection log."""
        out = {}
        for name in (*LOAD_ORDER, REJECTIONS):
            out[name] = self.query(f"SELECT COUNT(*) FROM {self.q(name)}")[0][0]
        return out

    def iter_rows(self, table: Table, batch: int = 10000) -> Iterator[tuple]:
        """Every row of `table` in id order, fetched in keyset-paginated batches (bounded memory)."""
        return self._keyset(lambda after, limit: self.list_rows(table, after, limit), batch)

    # -- backups and restores (issue 5) ---------------------------------------------------------
    # A backup reads every table in one snapshot; a restore replaces whole tables in one transaction.
    # Both carry datetimes as whole seconds since 1970-01-01 UTC: the server converts them, which is
    # several times cheaper than building and parsing datetime objects in the driver.

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

    def _begin_snapshot(self, conn: Any) -> None:
        self._begin(conn)

    def export_rows(self, table: Table, batch: int = EXPORT_BATCH) -> Iterator[tuple]:
        """Every row of `table` in id order, fetched in keyset batches (bounded memory); datetime
        columns as whole seconds since 1970-01-01 UTC."""
        cols = ", ".join(
            f"{self._epoch_seconds_sql(self.q(c.name))} AS {self.q(c.name)}" if c.type == DATETIME else self.q(c.name)
            for c in table.columns
        )
        key = self.q(table.key)
        sql = (
            f"SELECT {cols} FROM {self.q(table.name)} WHERE {key} > {self.placeholder} "
            f"ORDER BY {key} LIMIT {self.placeholder}"
        )

        def fetch(after: int, limit: int) -> list:
            rows = self._query_many_rows(sql, [after, limit], table.column_names)
            rows.sort(key=itemgetter(0))  # a packed answer (see _query_many_rows) need not keep the order
            return rows

        return self._keyset(fetch, batch)

    def replace_tables(
        self, contents: Mapping[Table, Iterable[Sequence[Sequence[Any]] | StagedRows]], merge: bool = True
    ) -> dict[str, int]:
        """Replace every row of each table with the given chunks of rows, in one transaction.

        Rows are typed, in dictionary order, with datetimes as whole seconds since 1970-01-01 UTC, and
        already checked against the field rules. The tables keep their definitions, keys and foreign
        keys; references are checked once the new rows are in (both from the tables and into them),
        derived data is rebuilt, and only then is anything committed. On any failure (a repeated id:
        RowsRejected; a broken reference: ReferenceViolation; an error raised by the chunks; the
        connection) nothing changes. Returns the number of rows stored per table.

        With `merge` (where the backend can, `merging_restores`), a table that has rows is not emptied
        first: the rows are loaded over it, replacing those with the same id, and then the rows whose
        ids the chunks did not have are deleted, by id range. Restoring a backup over a table that
        changed little since then writes little. Ids in more than MAX_MERGE_RUNS runs raise TooScattered
        (nothing changed): call again without `merge`.
        """
        tables = in_load_order(list(contents))
        stored: dict[str, int] = {}
        merging: set[str] = set()
        with self.transaction():
            # Checked in bulk below: row by row, a parent table could not even be emptied.
            self._suspend_reference_checks()
            try:
                for table in reversed(tables):
                    # An empty table is only locked, not emptied: the server loads faster into a table
                    # this transaction found empty and did not write yet (MariaDB skips per-row undo).
                    if self.query(f"SELECT 1 FROM {self.q(table.name)} LIMIT 1{self._for_update}"):
                        if merge and self.merging_restores:
                            merging.add(table.name)
                        else:
                            self.execute(f"DELETE FROM {self.q(table.name)}")
                # The values the restored rows reference, collected on the way: scanning the rows just
                # loaded (uncommitted, so no index-only reads) would cost more than the load itself.
                named: dict[tuple[str, str], set[int]] = {}
                # The summary of the restored hired_employees rows, counted while they were staged: cheaper
                # than `rebuild_derived()` scanning the table again (None: recount it that way).
                quarterly: dict[tuple[int, int, int], list[int]] | None = None
                if any(table.name == "hired_employees" for table in tables):
                    quarterly = {}
                for table in tables:
                    stored[table.name] = 0
                    # Merging: the ids loaded so far, to delete the others after (and to catch a repeated
                    # id, which would replace its first row). Otherwise the server catches repeats.
                    keys = KeyRuns(table, MAX_MERGE_RUNS) if table.name in merging else None
                    # Replacing row by row costs more than deleting and loading when most rows differ:
                    # after a chunk like that, every row not loaded yet is deleted, and the rest loaded.
                    replacing = keys is not None
                    for rows in contents[table]:
                        staged = rows if isinstance(rows, StagedRows) else self.stage_rows(table, rows, restored=True)
                        try:
                            if len(staged):
                                if keys is not None:
                                    keys.add(staged.key_runs)
                                changed = self._load_restored_rows(table, staged, replace=replacing)
                                if replacing and changed > MERGE_CHANGED_SHARE * len(staged):
                                    replacing = False
                                    self._delete_ranges(table, keys.gaps())
                                stored[table.name] += len(staged)
                                for name, values in staged.named.items():
                                    named.setdefault((table.name, name), set()).update(values)
                                if table.name == "hired_employees" and quarterly is not None:
                                    if staged.quarterly is None:
                                        quarterly = None
                                    else:
                                        for key, counts in staged.quarterly.items():
                                            total = quarterly.setdefault(key, [0, 0, 0, 0])
                                            for q in range(4):
                                                total[q] += counts[q]
                        finally:
                            staged.discard()
                    if replacing:
                        self._delete_ranges(table, keys.gaps())
                problems = self.reference_problems(tables, named)
                if problems:
                    raise ReferenceViolation(problems)
                if quarterly is None:
                    self.rebuild_derived()
                else:
                    self.execute(f"DELETE FROM {self.q(QUARTERLY_HIRES)}")
                    if quarterly:
                        self._add_quarterly_hires(quarterly, sign=1)
            finally:
                self._resume_reference_checks()
        return stored

    merging_restores = False  # the backend's `_load_restored_rows` can replace rows (see `replace_tables`)

    def _delete_ranges(self, table: Table, ranges: Sequence[tuple[int | None, int | None]]) -> None:
        """Delete the rows whose keys fall in `ranges` ((first, last), inclusive; None: unbounded)."""
        key = self.q(table.key)
        for start in range(0, len(ranges), IN_CHUNK // 2):
            where, params = [], []
            for first, last in ranges[start : start + IN_CHUNK // 2]:
                if first is None and last is None:
                    where.append("1 = 1")
                elif first is None:
                    where.append(f"{key} <= {self.placeholder}")
                    params.append(last)
                elif last is None:
                    where.append(f"{key} >= {self.placeholder}")
                    params.append(first)
                else:
                    where.append(f"{key} BETWEEN {self.placeholder} AND {self.placeholder}")
                    params += [first, last]
            self.execute(f"DELETE FROM {self.q(table.name)} WHERE {' OR '.join(where)}", params)

    def reference_problems(
        self, tables: Sequence[Table], named: Mapping[tuple[str, str], set[int]] | None = None, limit: int = 100
    ) -> list[MissingReferences]:
        """References broken by the current contents of `tables`: from them to ids that do not exist,
        and into them from other tables to ids they no longer have. `named` may give, per (table,
        column), the values that column holds (then they are looked up rather than scanned for)."""
        names = {t.name for t in tables}
        checks = [(t, c, TABLES[c.references]) for t in tables for c in t.references]
        checks += [
            (d, c, t)
            for t in tables
            for d in dependents(t.name)
            if d.name not in names
            for c in d.references
            if c.references == t.name
        ]
        problems = []
        for child, column, parent in checks:
            values = (named or {}).get((child.name, column.name))
            if values is not None or (named is not None and child.name in names):
                values = values or set()
                ids = sorted(values - self.existing_ids(parent, values))[:limit]
            else:
                ids = self.missing_references(child, column.name, parent, limit)
            if ids:
                problems.append(MissingReferences(child.name, column.name, parent.name, ids, child.name in names))
        return problems

    def missing_references(self, child: Table, column: str, parent: Table, limit: int = 100) -> list[int]:
        """Values of `child.column` (ascending, at most `limit`) with no row of that id in `parent`."""
        pid = self.q(parent.key)
        # DISTINCT over the indexed column first: the server reads the index's distinct values only.
        sql = (
            f"SELECT x.v FROM (SELECT DISTINCT {self.q(column)} AS v FROM {self.q(child.name)}) x "
            f"LEFT JOIN {self.q(parent.name)} p ON p.{pid} = x.v WHERE p.{pid} IS NULL ORDER BY x.v LIMIT {int(limit)}"
        )
        return [int(r[0]) for r in self.query(sql)]

    _for_update = ""  # a locking read's suffix, where the backend has them

    def _epoch_seconds_sql(self, column: str) -> str:
        """SQL for a stored datetime column as whole seconds since 1970-01-01 UTC."""
        raise NotImplementedError

    def _from_epoch_seconds_sql(self, value: str) -> str:
        """SQL for the stored datetime of `value` seconds since 1970-01-01 UTC."""
        raise NotImplementedError

    def _suspend_reference_checks(self) -> None:
        """Stop checking foreign keys row by row until `_resume_reference_checks`, in this transaction."""

    def _resume_reference_checks(self) -> None:
        """Check foreign keys row by row again."""

    def _load_restored_rows(
        self, table: Table, rows: Sequence[Sequence[Any]] | StagedRows, replace: bool = False
    ) -> int:
        """Insert restored rows (see `replace_tables`; `replace`: over rows with the same ids, where
        `merging_restores`); RowsRejected when one repeats an id. Returns how many rows replaced a
        stored row with different values."""
        if replace:
            raise NotImplementedError("this backend does not merge restores")
        if isinstance(rows, StagedRows):
            rows = rows.rows or []
        marks = ", ".join(
            self._from_epoch_seconds_sql(self.placeholder) if c.type == DATETIME else self.placeholder
            for c in table.columns
        )
        try:
            self.executemany(f"INSERT INTO {self.q(table.name)} ({self._cols(table)}) VALUES ({marks})", rows)
        except IntegrityConflict as exc:
            raise RowsRejected(f"{table.name}: {exc}") from exc
        return 0

    # -- rejection log ------------------------------------------------------------------------

    def rejections_columns(self) -> list[str]:
        return ["fingerprint", "source", "table_name", "position", "raw", "reasons", "rejected_at"]

    def log_rejections(self, source: str, table: Table, rejected: Iterable[tuple[int, Any, list[str]]]) -> int:
        """Store (position, raw, reasons) entries; an entry already logged for the same source,
        position and raw row is updated, not repeated."""
        now = self._encode(datetime.now(UTC).replace(tzinfo=None, microsecond=0))
        rows = [
            (
                rejection_fingerprint(source, table.name, position, raw),
                source[:1024],
                table.name,
                position,
                raw_json(raw),
                json.dumps(reasons, ensure_ascii=False),
                now,
            )
            for position, raw, reasons in rejected
        ]
        if rows:
            self.executemany(self._upsert_rejections_sql(), rows)
        return len(rows)

    def list_rejections(
        self, table_name: str | None = None, after: int = 0, limit: int = 100, source: str | None = None
    ) -> list[Rejection]:
        """Rejection log entries with id greater than `after`, oldest first."""
        where, params = [f"{self.q('id')} > {self.placeholder}"], [after]
        if table_name is not None:
            where.append(f"{self.q('table_name')} = {self.placeholder}")
            params.append(table_name)
        if source is not None:
            where.append(f"{self.q('source')} = {self.placeholder}")
            params.append(source)
        sql = (
            f"SELECT {self.q('id')}, {self.q('source')}, {self.q('table_name')}, {self.q('position')}, "
            f"{self.q('raw')}, {self.q('reasons')}, {self.q('rejected_at')} FROM {self.q(REJECTIONS)} "
            f"WHERE {' AND '.join(where)} ORDER BY {self.q('id')} LIMIT {self.placeholder}"
        )
        params.append(limit)
        out = []
        for id_, src, tname, pos, raw, reasons, at in self.query(sql, params):
            if isinstance(at, str):
                at = datetime.fromisoformat(at)
            out.append(Rejection(id_, src, tname, pos, json.loads(raw), json.loads(reasons), at))
        return out

    def delete_rejections(self, ids: Iterable[int]) -> None:
        self._where_in(f"DELETE FROM {self.q(REJECTIONS)}", "id", list(ids))

    def update_rejection_reasons(self, reasons_by_id: dict[int, list[str]]) -> None:
        if reasons_by_id:
            self.executemany(
                f"UPDATE {self.q(REJECTIONS)} SET {self.q('reasons')} = {self.placeholder} WHERE {self.q('id')} = {self.placeholder}",
                [(json.dumps(r, ensure_ascii=False), i) for i, r in reasons_by_id.items()],
            )


def id_runs(ids: Iterable[int]) -> list[tuple[int, int]]:
    """The distinct ids as runs of consecutive numbers: (first, last) pairs, ascending."""
    runs: list[tuple[int, int]] = []
    for key in sorted(set(ids)):
        if runs and key == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], key)
        else:
            runs.append((key, key))
    return runs


class KeyRuns:
    """The keys of a table's restored rows so far, as runs of consecutive numbers (few, for the usual
    table of consecutive ids). Raises RowsRejected when a key repeats, TooScattered past `limit` runs."""

    def __init__(self, table: Table, limit: int):
        self.table, self.limit = table, limit
        self.runs: list[tuple[int, int]] = []

    def add(self, runs: list[tuple[int, int]] | None) -> None:
        if runs is None:
            raise RowsRejected(f"{self.table.name}: an id repeats")
        if not runs:
            return
        if self.runs and runs[0][0] > self.runs[-1][1]:  # the usual case: chunks in key order
            merged, incoming = self.runs, runs
        else:
            merged, incoming = [], sorted(self.runs + runs)
        for first, last in incoming:
            if merged and first <= merged[-1][1]:
                raise RowsRejected(f"{self.table.name}: id {first} repeats")
            if merged and first == merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], last)
            else:
                merged.append((first, last))
        self.runs = merged
        if len(self.runs) > self.limit:
            raise TooScattered(f"{self.table.name}: ids in more than {self.limit} runs")

    def gaps(self) -> list[tuple[int | None, int | None]]:
        """The key ranges between and around the runs ((first, last), None for unbounded): all of
        them, (None, None), when there are no keys."""
        out: list[tuple[int | None, int | None]] = []
        below = None
        for first, last in self.runs:
            out.append((below, first - 1))
            below = last + 1
        out.append((below, None))
        return out


def quarterly_counts(rows: Sequence[Sequence[Any]]) -> dict[tuple[int, int, int], list[int]]:
    """Hires per (year, department_id, job_id) in Q1..Q4 among typed hired_employees rows (UTC datetimes)."""
    names = TABLES["hired_employees"].column_names
    at, department, job = names.index("datetime"), names.index("department_id"), names.index("job_id")
    counts: dict[tuple[int, int, int], list[int]] = {}
    for row in rows:
        when = row[at]
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        key = (when.year, int(row[department]), int(row[job]))
        quarters = counts.get(key)
        if quarters is None:
            quarters = counts[key] = [0, 0, 0, 0]
        quarters[(when.month - 1) // 3] += 1
    return counts


_DAY = 86400


def quarterly_counts_of_seconds(rows: Sequence[Sequence[Any]]) -> dict[tuple[int, int, int], list[int]]:
    """`quarterly_counts` of typed hired_employees rows whose datetimes are whole seconds since 1970 UTC."""
    names = TABLES["hired_employees"].column_names
    at, department, job = names.index("datetime"), names.index("department_id"), names.index("job_id")
    epoch = datetime(1970, 1, 1)
    days: dict[int, tuple[int, int]] = {}  # day since 1970 -> (year, quarter index)
    counts: dict[tuple[int, int, int], list[int]] = {}
    for row in rows:
        day = row[at] // _DAY
        year_quarter = days.get(day)
        if year_quarter is None:
            when = epoch + timedelta(days=day)
            year_quarter = days[day] = (when.year, (when.month - 1) // 3)
        key = (year_quarter[0], row[department], row[job])
        quarters = counts.get(key)
        if quarters is None:
            quarters = counts[key] = [0, 0, 0, 0]
        quarters[year_quarter[1]] += 1
    return counts


def sql_types(integer: str, string: str, datetime_: str) -> dict[str, str]:
    return {INTEGER: integer, STRING: string, DATETIME: datetime_}


def tables_in_order() -> list[Table]:
    return [TABLES[name] for name in LOAD_ORDER]
