"""The production backend: MySQL 8 / Aurora MySQL / MariaDB through pymysql."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from itertools import starmap
from typing import Any

import pymysql

from chalicelib.db.base import (
    QUARTERLY_HIRES,
    QUARTERLY_HIRES_KEY,
    QUARTERS,
    REJECTIONS,
    Database,
    DatabaseError,
    DatabaseUnavailable,
    IntegrityConflict,
    ReferencedRow,
    ReferenceViolation,
    RowsRejected,
    StagedRows,
    sql_types,
    tables_in_order,
)
from chalicelib.db.mysql_keys import KEYS_DEFERRED, DeferredKeys
from chalicelib.db.summary import quarterly_counts_of_lines
from chalicelib.rules.compiler import RowSource, row_function
from chalicelib.rules.dictionary import DATETIME, INTEGER, STRING, Table
from chalicelib.rules.lines import LineShape, line_shape
from chalicelib.runtime.settings import DatabaseLogin

# Server error codes (https://mariadb.com/kb/en/mariadb-error-codes/).
_GONE = {2003, 2006, 2013, 2055}  # can't connect, server has gone away, lost connection
_RETRY = {1205, 1213}  # lock wait timeout, deadlock: the transaction was rolled back, try again
_NO_ACCESS = {1045, 1044, 1049}  # access denied (e.g. rotated credentials), unknown database
_REFERENCED = {1451}  # cannot delete a parent row
_CONFLICT = {1062, 1452}  # duplicate key, missing parent row
_NO_TABLE = {1146}
_IDLE_PING_SECONDS = 30.0
# LOAD DATA's default text format escapes (restores; values were checked against the rules already).
# The Glue load job writes the same text (glue/hrjobs/bulk_load.py).
TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# Tab, backslash and newline as hex literals: the same in every SQL mode (NO_BACKSLASH_ESCAPES included).
_TSV_FORMAT = "FIELDS TERMINATED BY X'09' ESCAPED BY X'5C' LINES TERMINATED BY X'0A'"
_NEEDS_TSV_ESCAPE = re.compile(r"[\\\t\n\r]").search


class _StagedFile(StagedRows):
    """Staged rows as a temporary file of LOAD DATA text (datetimes as text, or as seconds since 1970)."""

    def __init__(self, count: int, path: str, epoch_datetimes: bool):
        super().__init__(count)
        self.path: str | None = path
        self.epoch_datetimes = epoch_datetimes

    def discard(self) -> None:
        path, self.path = self.path, None
        if path:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _write_tsv(prefix: str, text: str) -> str:
    """A temporary file holding `text`, for LOAD DATA LOCAL; the caller removes it."""
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=".tsv")
    try:
        with open(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except BaseException:
        os.unlink(path)
        raise
    return path


def _tsv_escape(value: str) -> str:
    return value.translate(TSV_ESCAPES) if _NEEDS_TSV_ESCAPE(value) else value


def _tsv_line_source(table: Table) -> RowSource:
    fields = "\t".join(
        f"{{_tsv_escape(row[{i}])}}" if c.type == STRING else f"{{row[{i}]}}" for i, c in enumerate(table.columns)
    )
    return RowSource("tsv_line", "row", [f"return f'{fields}\\n'"], {"_tsv_escape": _tsv_escape})


def _tsv_line(table: Table) -> Any:
    """A function from a typed row of `table` to its line of LOAD DATA text, generated per table (one
    f-string per row; strings escaped only when they hold a tab, newline, carriage return or backslash)."""
    return row_function(_tsv_line_source, table)


def _tsv_template(shape: LineShape) -> str:
    """A `str.format` template from a line's match groups (see `rules.lines`) to its line of LOAD DATA
    text: the shape's texts are the stored values, and hold nothing to escape."""
    fields = []
    for column, at in zip(shape.table.columns, shape.groups):
        fields.append(f"{{{at}}} {{{at + 3}}}" if column.type == DATETIME else f"{{{at}}}")
    return "\t".join(fields) + "\n"


class MysqlDatabase(DeferredKeys, Database):
    dialect = "mysql"
    placeholder = "%s"
    summary_table_options = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
    column_types = sql_types("INT", "VARCHAR(255)", "DATETIME")

    def __init__(
        self, host: str, port: int, user: str, password: str, database: str, tls: bool = False, ca: str | None = None
    ):
        super().__init__()
        self.host, self.port, self.user, self._password, self.database = host, port, user, password, database
        # With TLS the server is verified against `ca` or the system's trust store (RDS Proxy presents an
        # Amazon-issued certificate); without, plain text: never PyMySQL's unverified opportunistic TLS.
        self.tls, self.ca = tls, ca
        self._ssl = DatabaseLogin(host, port, database, user, password, tls, ca).ssl_context()

    @classmethod
    def for_login(cls, login: DatabaseLogin) -> MysqlDatabase:
        return cls(login.host, login.port, login.user, login.password, login.name, login.tls, login.ca)

    def __repr__(self) -> str:
        return f"MysqlDatabase({self.user}@{self.host}:{self.port}/{self.database})"

    def _open(self, database: str | None = None) -> pymysql.connections.Connection:
        conn = pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self._password,
            database=self.database if database is None else (database or None),
            charset="utf8mb4",
            ssl=self._ssl,
            ssl_disabled=self._ssl is None,
            autocommit=True,
            local_infile=True,
            connect_timeout=5,
            # Report results come back packed in one JSON_ARRAYAGG (`_query_many_rows`), which MariaDB
            # caps at group_concat_max_len (1 MB by default): lifted once per connection, not per query.
            init_command="SET SESSION group_concat_max_len = 4294967295",
            read_timeout=120,
            write_timeout=120,
        )
        self._local.last_used = time.monotonic()
        return conn

    def _before_use(self, conn: Any) -> Any:
        # A connection kept across warm invocations may have been closed by the server (wait_timeout)
        # or by RDS Proxy; check it only when it has been idle, so busy paths pay no round trip.
        # A dead one is replaced by a new connection (pymysql's ping(reconnect=True) is deprecated).
        now = time.monotonic()
        if now - getattr(self._local, "last_used", now) > _IDLE_PING_SECONDS:
            try:
                conn.ping(reconnect=False)
            except Exception:
                self._discard()
                conn = self._conn()  # raises the translated error when no new connection opens
        self._local.last_used = now
        return conn

    def _begin(self, conn: Any) -> None:
        conn.begin()

    def _translate(self, exc: BaseException) -> DatabaseError | None:
        if isinstance(exc, DatabaseError):
            return exc
        if isinstance(exc, pymysql.err.InterfaceError):
            return DatabaseUnavailable(f"connection closed: {exc}", retryable=True)
        if not isinstance(exc, pymysql.err.MySQLError):
            return None
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        message = exc.args[1] if len(exc.args) > 1 else str(exc)
        if code in _GONE:
            return DatabaseUnavailable(f"database connection lost ({code}): {message}", retryable=code != 2003)
        if code in _RETRY:
            return DatabaseUnavailable(f"transaction rolled back ({code}): {message}", retryable=True)
        if code in _NO_ACCESS:
            from chalicelib.runtime.settings import forget_secrets

            forget_secrets()  # a rotated secret: fetch it again next time
            return DatabaseUnavailable(f"database refused access ({code}): {message}")
        if code in _REFERENCED:
            return ReferencedRow(message)
        if code in _CONFLICT:
            return IntegrityConflict(message)
        if code in _NO_TABLE:
            return DatabaseError(f"schema missing ({message}); run `schema create`")
        if isinstance(exc, pymysql.err.OperationalError):
            return DatabaseUnavailable(f"database error ({code}): {message}")
        return DatabaseError(f"database error ({code}): {message}")

    def q(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def bulk_insert(self, table: Table, rows: Sequence[Sequence[Any]], staged: StagedRows | None = None) -> None:
        """`LOAD DATA LOCAL INFILE` of the validated rows from a temporary tab-separated file.

        The values travel as data, never as SQL text. The file is `staged`'s when that holds these rows
        (written off the transaction's critical path, on the loader's parsing thread), else written
        now. With LOCAL the server skips a row that clashes on a key or reference and warns instead of
        failing, so a shortfall or a warning (a concurrent writer got in after classification) is raised
        as IntegrityConflict: the caller's transaction is rolled back and retried.
        """
        if not rows:
            return
        _, problem = self._load_staged(table, rows, StagedRows.holding(staged, rows))
        if problem:
            raise IntegrityConflict(problem)
        self.after_insert(table, rows, staged)

    def _load_staged(
        self,
        table: Table,
        rows: Sequence[Sequence[Any]],
        staged: StagedRows | None,
        restored: bool = False,
        replace: bool = False,
    ) -> tuple[int, str | None]:
        """`_load_data` of `staged`'s file, or of one written for `rows` and removed after."""
        own = not isinstance(staged, _StagedFile)
        if own:
            staged = self.stage_rows(table, rows, restored)
        try:
            return self._load_data(table, staged.path, len(staged), staged.epoch_datetimes, replace)
        finally:
            if own:
                staged.discard()

    def _load_data(
        self, table: Table, path: str, expected: int, epoch_datetimes: bool, replace: bool = False
    ) -> tuple[int, str | None]:
        """`LOAD DATA LOCAL INFILE` of the tab-separated `path` into `table` (datetime columns as whole
        seconds since 1970 UTC when `epoch_datetimes`; with `replace`, over rows with the same key).

        Returns (rows that replaced a different row, problem). With LOCAL the server cannot stop the
        client's stream, so it skips a row that clashes on a key or reference and warns instead of
        failing: the problem is a message when fewer than `expected` rows were stored or anything was
        warned, else None."""
        columns, assignments = [], []
        for column in table.columns:
            if epoch_datetimes and column.type == DATETIME:
                columns.append(f"@{column.name}")
                assignments.append(f"{self.q(column.name)} = {self._from_epoch_seconds_sql('@' + column.name)}")
            else:
                columns.append(self.q(column.name))
        cur = self.execute(
            f"LOAD DATA LOCAL INFILE %s {'REPLACE ' if replace else ''}INTO TABLE {self.q(table.name)} "
            f"CHARACTER SET utf8mb4 {_TSV_FORMAT} ({', '.join(columns)})"
            + (f" SET {', '.join(assignments)}" if assignments else ""),
            [path],
        )
        # A row that replaced a different one counts twice (deleted, inserted); any other, once.
        replaced = max(cur.rowcount - expected, 0) if replace else 0
        if (cur.rowcount >= expected if replace else cur.rowcount == expected) and not cur.warning_count:
            return replaced, None
        warnings = "; ".join(str(message) for _, _, message in self.query("SHOW WARNINGS LIMIT 10"))
        if replace:  # replaced rows count twice: a shortfall cannot be told from the count
            return replaced, f"{table.name}: loading {expected} rows raised warnings: {warnings}"
        return replaced, f"{table.name}: {expected - cur.rowcount} of {expected} rows not stored: {warnings}"

    def _encode(self, value: Any) -> Any:
        # A 'YYYY-MM-DD HH:MM:SS' string escapes several times faster in pymysql than a datetime.
        return value.isoformat(" ") if isinstance(value, datetime) else value

    # -- backups and restores -----------------------------------------------------------------

    _for_update = " FOR UPDATE"  # on an empty table: locks the whole range against concurrent inserts

    def _begin_snapshot(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")

    def _epoch_seconds_sql(self, column: str) -> str:
        return f"TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {column})"

    def _from_epoch_seconds_sql(self, value: str) -> str:
        # TIMESTAMPADD, not FROM_UNIXTIME: independent of the session time zone, and covers years 1000-9999.
        return f"TIMESTAMPADD(SECOND, {value}, '1970-01-01 00:00:00')"

    # -- staging tables, for restores whose rows arrive from outside this process (the Glue job) ------
    # A RENAME swap is not used: InnoDB re-points foreign keys at a renamed parent table, so renaming
    # `departments` away would leave hired_employees referencing the old copy.

    @staticmethod
    def staging_name(table: Table) -> str:
        return f"{table.name}__restore"

    def create_staging(self, table: Table) -> str:
        """An empty copy of `table` (columns, primary key, indexes; no foreign keys) to load into."""
        staging = self.q(self.staging_name(table))
        self.execute(f"DROP TABLE IF EXISTS {staging}")  # left by a run that died before its cleanup
        self.execute(f"CREATE TABLE {staging} LIKE {self.q(table.name)}")
        return self.staging_name(table)

    def drop_staging(self, table: Table) -> None:
        self.execute(f"DROP TABLE IF EXISTS {self.q(self.staging_name(table))}")

    def replace_from_staging(self, table: Table, expected_rows: int) -> None:
        """Swap the staged rows in, in one transaction: delete, insert from staging, check references
        both ways, rebuild derived data, commit. Raises ReferenceViolation, or DatabaseError when the
        staging table does not hold `expected_rows`; either way the table is unchanged."""
        staging = self.q(self.staging_name(table))
        columns = ", ".join(self.q(name) for name in table.column_names)
        with self.transaction():
            # Checked explicitly below, in both directions; per-row checks would also forbid restoring
            # a referenced table whose rows are all in the backup.
            self._suspend_reference_checks()
            try:
                (staged,) = self.query(f"SELECT COUNT(*) FROM {staging}")[0]
                if staged != expected_rows:
                    raise DatabaseError(f"staging table holds {staged} rows, the backup {expected_rows}")
                self.execute(f"DELETE FROM {self.q(table.name)}")
                self.execute(f"INSERT INTO {self.q(table.name)} ({columns}) SELECT {columns} FROM {staging}")
                problems = self.reference_problems([table])
                if problems:
                    raise ReferenceViolation(problems)
                self.rebuild_derived()
            finally:
                self._resume_reference_checks()

    def _suspend_reference_checks(self) -> None:
        # Session-wide, so always undone by `_resume_reference_checks` (a dropped connection takes it along).
        self.execute("SET SESSION foreign_key_checks = 0")

    def _resume_reference_checks(self) -> None:
        try:
            self.execute("SET SESSION foreign_key_checks = 1")
        except DatabaseError:
            self._discard()  # a connection in an unknown state is not reused

    def stage_rows(self, table: Table, rows: Sequence[Sequence[Any]], restored: bool = False) -> StagedRows:
        """The rows as a temporary file of LOAD DATA text (on disk, so a load or a restore can stage
        ahead of the database, e.g. while the old rows are being deleted, in bounded memory)."""
        path = _write_tsv(f"hr-{table.name}-", "".join(map(_tsv_line(table), rows)))
        return self._described(table, _StagedFile(len(rows), path, epoch_datetimes=restored), rows, restored)

    def stage_lines(self, table: Table, chunk: Any) -> StagedRows:
        """The valid rows of a `loading.lines.LineChunk` as a temporary file of LOAD DATA text: its lines
        in the common shape straight from their match groups, then its other valid rows."""
        shape = line_shape(table)
        text = "".join(starmap(_tsv_template(shape).format, chunk.matches))
        text += "".join(map(_tsv_line(table), (c.row for c in chunk.valid_others)))
        staged = _StagedFile(chunk.valid_count, _write_tsv(f"hr-{table.name}-", text), epoch_datetimes=False)
        if table.name == "hired_employees" and table.name not in self.summary_owed:
            staged.quarterly = quarterly_counts_of_lines(chunk)
        return staged

    merging_restores = True

    def _load_restored_rows(
        self, table: Table, rows: Sequence[Sequence[Any]] | StagedRows, replace: bool = False
    ) -> int:
        """`LOAD DATA LOCAL INFILE` of the rows' temporary tab-separated file (see `stage_rows`);
        `LOAD DATA … REPLACE` with `replace` (a merging restore, see `replace_tables`).

        With LOCAL the server cannot stop the client's stream, so it skips a row whose id repeats and
        warns instead of failing: every load is checked for a shortfall or a warning (RowsRejected).
        """
        staged = rows if isinstance(rows, StagedRows) else None
        replaced, problem = self._load_staged(
            table, rows if staged is None else [], staged, restored=True, replace=replace
        )
        if problem:
            raise RowsRejected(problem)
        return replaced

    def create_schema(self) -> None:
        try:
            self._conn()
        except DatabaseUnavailable as exc:
            cause = exc.__cause__
            if not (isinstance(cause, pymysql.err.MySQLError) and cause.args and cause.args[0] == 1049):
                raise
            # The database itself does not exist yet on a fresh server: create it, then the tables.
            self._create_database()
        super().create_schema()
        self.restore_deferred_keys()

    def _create_database(self) -> None:
        """Create this backend's database on the server (a fresh server has none)."""
        try:
            conn = self._open(database="")
            try:
                with conn.cursor() as cur:
                    cur.execute(f"CREATE DATABASE IF NOT EXISTS {self.q(self.database)} CHARACTER SET utf8mb4")
            finally:
                conn.close()
        except pymysql.err.MySQLError as error:
            raise self._translate(error) from error

    def _schema_statements(self) -> list[str]:
        statements = []
        for table in tables_in_order():
            parts = self.column_sql(table) + [f"PRIMARY KEY ({self.q(table.key)})"]
            parts += [definition for _, _, definition in self.secondary_keys(table)]
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {self.q(table.name)} ({', '.join(parts)}) "
                "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
            )
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {self.q(REJECTIONS)} ("
            f"{self.q('id')} BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
            f"{self.q('fingerprint')} CHAR(64) NOT NULL, "
            f"{self.q('source')} VARCHAR(1024) NOT NULL, "
            f"{self.q('table_name')} VARCHAR(64) NOT NULL, "
            f"{self.q('position')} BIGINT NOT NULL, "
            f"{self.q('raw')} MEDIUMTEXT NOT NULL, "
            f"{self.q('reasons')} TEXT NOT NULL, "
            f"{self.q('rejected_at')} DATETIME NOT NULL, "
            f"{self.q('row_id')} BIGINT NULL, "
            f"UNIQUE KEY {self.q('ux_fingerprint')} ({self.q('fingerprint')}), "
            f"KEY {self.q('ix_table')} ({self.q('table_name')}, {self.q('id')}), "
            f"KEY {self.q('ix_rejections_row')} ({self.q('table_name')}, {self.q('row_id')})"
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        )
        statements.append(self._quarterly_hires_ddl())
        statements.append(self._keys_deferred_ddl())
        return statements

    def _drop_statements(self) -> list[str]:
        return [*super()._drop_statements(), f"DROP TABLE IF EXISTS {self.q(KEYS_DEFERRED)}"]

    def _on_conflict(self, key: Sequence[str], assignments: Sequence[tuple[str, str]]) -> str:
        # MySQL upserts on any unique key; VALUES(col) is the incoming value.
        sets = ", ".join(f"{self.q(c)} = {expr.replace('{new}', f'VALUES({self.q(c)})')}" for c, expr in assignments)
        return f"ON DUPLICATE KEY UPDATE {sets}"

    def _upsert_quarterly_hires(self, rows: list[tuple[int, ...]]) -> None:
        # One statement whose rows travel as one JSON parameter, unpacked by the server (JSON_TABLE:
        # MySQL 8, MariaDB 10.6): pymysql would escape each of the tens of thousands of values of a file
        # chunk's summary in Python, on the transaction's critical path.
        # (The JSON columns are named v0..v6: the same names as the table's would be ambiguous below.)
        columns = (*QUARTERLY_HIRES_KEY, *QUARTERS)
        paths = ", ".join(f"v{i} {self.column_types[INTEGER]} PATH '$[{i}]'" for i in range(len(columns)))
        add = self._on_conflict(QUARTERLY_HIRES_KEY, [(q, f"{self.q(q)} + {{new}}") for q in QUARTERS])
        self.execute(
            f"INSERT INTO {self.q(QUARTERLY_HIRES)} ({', '.join(self.q(c) for c in columns)}) "
            f"SELECT {', '.join(f'v{i}' for i in range(len(columns)))} FROM JSON_TABLE(%s, '$[*]' COLUMNS ({paths})) j "
            f"ORDER BY v0, v1, v2 {add}",
            [json.dumps(rows)],
        )

    def _year_sql(self, column: str) -> str:
        return f"YEAR({column})"

    def _quarter_sql(self, column: str) -> str:
        return f"QUARTER({column})"

    def _query_many_rows(self, sql: str, params: Sequence[Any], columns: Sequence[str]) -> list[Sequence[Any]]:
        # pymysql decodes every field in pure Python; the server packs the rows into one JSON array
        # instead, which the C json parser reads faster end to end.
        # (The connection lifted MariaDB's JSON_ARRAYAGG size cap when it opened: see `_open`.)
        packed = ", ".join(f"r.{self.q(c)}" for c in columns)
        rows = self.query(f"SELECT JSON_ARRAYAGG(JSON_ARRAY({packed})) FROM ({sql}) r", params)
        return json.loads(rows[0][0]) if rows and rows[0][0] is not None else []
