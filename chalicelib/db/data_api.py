"""The RDS Data API backend: the MySQL dialect (Aurora MySQL) over HTTPS through boto3's `rds-data` client.

No VPC, no driver, no connection pool: every statement is an `ExecuteStatement` (or a
`BatchExecuteStatement` for many rows) signed with the function's IAM role, the database credentials
coming from a Secrets Manager secret the service reads itself. Transactions are `BeginTransaction` /
`CommitTransaction` / `RollbackTransaction` around statements that carry the transaction's id.

The SQL is `MysqlDatabase`'s: a small DB-API-shaped session (`DataApiSession`, `DataApiCursor`) stands in
for the pymysql connection, turning its ``%s`` placeholders into the Data API's named parameters and its
records back into Python values, so the core's transactions and every capability's SQL run unchanged.
What needs a client-side file (LOAD DATA LOCAL: the file loader's fast path, restores) is refused with an
error naming the paths that do have it (the CLI with a mysql:// URL, the Glue jobs); the API's batch
inserts go in as `BatchExecuteStatement`s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pymysql

from chalicelib.db.errors import DatabaseError, DatabaseUnavailable
from chalicelib.db.mysql import MysqlDatabase
from chalicelib.db.rows import RowSql
from chalicelib.db.staging import StagedRows
from chalicelib.rules.dictionary import Table

# Data API limits (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.html): a request
# of at most 4 MiB, a result of at most 1 MiB. Batches are cut well below the first; reads that could
# pass the second page in batches small enough (see `export_rows`).
BATCH_REQUEST_BYTES = 1 << 20
EXPORT_BATCH = 2000
_ERROR_CODE = re.compile(r"error code:?\s*(\d+)", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"%s|%%")
# Data API errors that mean "not now": the cluster is resuming, throttled or briefly unreachable.
_RETRYABLE = {
    "DatabaseResumingException",
    "DatabaseUnavailableException",
    "ServiceUnavailableError",
    "InternalServerErrorException",
    "ThrottlingException",
}
_NO_ACCESS = {
    "AccessDeniedException",
    "ForbiddenException",
    "SecretsErrorException",
    "InvalidSecretException",
    "HttpEndpointNotEnabledException",
    "DatabaseNotFoundException",
    "InvalidResourceStateException",
}
# Result column types (the Data API's `typeName`) that come back as strings but are other values here.
_DATETIME_TYPES = {"DATETIME", "TIMESTAMP"}
_DECIMAL_TYPES = {"DECIMAL", "NUMERIC"}

BULK_REFUSED = (
    "the RDS Data API backend cannot run LOAD DATA (it has no client-side file): run bulk loads and "
    "restores through the Glue jobs or the CLI with a mysql:// DATABASE_URL"
)


class BulkLoadRefused(DatabaseError):
    """A path that needs LOAD DATA was asked of the Data API backend."""


def _field(value: Any) -> dict[str, Any]:
    """A Python value as a Data API `Field`."""
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (bytes, bytearray)):
        return {"blobValue": bytes(value)}
    if isinstance(value, (datetime, date, time, Decimal)):
        return {"stringValue": value.isoformat(" ") if isinstance(value, datetime) else str(value)}
    return {"stringValue": str(value)}


def _type_hint(value: Any) -> str | None:
    if isinstance(value, datetime):
        return "TIMESTAMP"
    if isinstance(value, date):
        return "DATE"
    if isinstance(value, Decimal):
        return "DECIMAL"
    return None


def named(sql: str, params: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """`sql` with pymysql's ``%s`` placeholders as named parameters ``:p0, :p1, ...`` (``%%`` is a
    literal ``%``, as in pymysql), and the Data API's `SqlParameter` list for `params`."""
    counter = iter(range(len(params) + 1))

    def mark(match: re.Match) -> str:
        return "%" if match.group() == "%%" else f":p{next(counter)}"

    text = _PLACEHOLDER.sub(mark, sql)
    used = next(counter)
    if used != len(params):
        raise DatabaseError(f"statement has {used} placeholders for {len(params)} parameters")
    parameters = []
    for i, value in enumerate(params):
        parameter = {"name": f"p{i}", "value": _field(value)}
        hint = _type_hint(value)
        if hint:
            parameter["typeHint"] = hint
        parameters.append(parameter)
    return text, parameters


def _value(field: dict[str, Any], type_name: str) -> Any:
    """A Data API `Field` of a result column typed `type_name` as the Python value pymysql would give."""
    if field.get("isNull"):
        return None
    for kind in ("longValue", "booleanValue", "doubleValue", "blobValue"):
        if kind in field:
            return field[kind]
    text = field.get("stringValue")
    if text is None:
        return None
    if type_name in _DATETIME_TYPES:
        return datetime.fromisoformat(text)
    if type_name in _DECIMAL_TYPES:
        return Decimal(text)
    return text


class DataApiCursor:
    """The part of a DB-API cursor the core uses: execute, executemany, fetchall, rowcount, description."""

    warning_count = 0

    def __init__(self, session: DataApiSession):
        self._session = session
        self.rowcount = -1
        self.description: list[tuple] | None = None
        self._rows: list[tuple] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        text, parameters = named(sql, params)
        answer = self._session.call("execute_statement", sql=text, parameters=parameters, includeResultMetadata=True)
        columns = answer.get("columnMetadata")
        if columns:
            types = [c.get("typeName", "").upper() for c in columns]
            self.description = [(c.get("label") or c.get("name"), c.get("type")) for c in columns]
            self._rows = [tuple(_value(f, t) for f, t in zip(record, types)) for record in answer.get("records", [])]
            self.rowcount = len(self._rows)
        else:
            self.description, self._rows = None, []
            self.rowcount = answer.get("numberOfRecordsUpdated", 0)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """`sql` once per row, as `BatchExecuteStatement`s of at most BATCH_REQUEST_BYTES each."""
        self.description, self._rows, self.rowcount = None, [], 0
        for batch in _batches(sql, rows):
            self._session.call("batch_execute_statement", sql=batch[0], parameterSets=batch[1])
            self.rowcount += len(batch[1])

    def fetchall(self) -> list[tuple]:
        rows, self._rows = self._rows, []
        return rows

    def close(self) -> None:
        self._rows = []

    def __enter__(self) -> DataApiCursor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _batches(sql: str, rows: Sequence[Sequence[Any]]) -> Iterator[tuple[str, list[list[dict[str, Any]]]]]:
    """(statement, parameter sets) for `rows`, cut where a request would pass BATCH_REQUEST_BYTES."""
    text, sets, size = None, [], 0
    for row in rows:
        text, parameters = named(sql, row)
        # A rough size of the row's JSON: names, field keys and values.
        weight = sum(24 + len(str(next(iter(p["value"].values())))) for p in parameters)
        if sets and size + weight > BATCH_REQUEST_BYTES:
            yield text, sets
            sets, size = [], 0
        sets.append(parameters)
        size += weight
    if sets:
        yield text, sets


class DataApiSession:
    """What the core calls a connection: the cluster, secret and database every call names, and the
    id of the transaction open on this thread (None: each statement commits on its own)."""

    def __init__(self, client: Any, resource_arn: str, secret_arn: str, database: str):
        self.client, self.resource_arn, self.secret_arn, self.database = client, resource_arn, secret_arn, database
        self.transaction_id: str | None = None

    def call(self, operation: str, **request: Any) -> dict[str, Any]:
        request.update(resourceArn=self.resource_arn, secretArn=self.secret_arn)
        if operation in ("execute_statement", "batch_execute_statement", "begin_transaction"):
            request["database"] = self.database
        if self.transaction_id and operation in ("execute_statement", "batch_execute_statement"):
            request["transactionId"] = self.transaction_id
        return getattr(self.client, operation)(**request)

    def begin(self) -> None:
        self.transaction_id = self.call("begin_transaction")["transactionId"]

    def commit(self) -> None:
        transaction_id, self.transaction_id = self.transaction_id, None
        if transaction_id:
            self.call("commit_transaction", transactionId=transaction_id)

    def rollback(self) -> None:
        transaction_id, self.transaction_id = self.transaction_id, None
        if transaction_id:
            self.call("rollback_transaction", transactionId=transaction_id)

    def cursor(self) -> DataApiCursor:
        return DataApiCursor(self)

    def close(self) -> None:
        try:
            self.rollback()
        except Exception:
            pass  # an abandoned transaction is rolled back by the service when it times out


class DataApiDatabase(MysqlDatabase):
    """`MysqlDatabase`'s SQL over the RDS Data API (see the module's docstring)."""

    merging_restores = False

    def __init__(self, resource_arn: str, secret_arn: str, database: str, client: Any = None):
        super().__init__(host="", port=0, user="", password="", database=database)
        self.resource_arn, self.secret_arn = resource_arn, secret_arn
        self._client = client

    def __repr__(self) -> str:
        return f"DataApiDatabase({self.resource_arn}/{self.database})"

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            # The cluster's region, from its ARN (arn:aws:rds:<region>:<account>:cluster:<name>); the
            # endpoint follows the usual configuration (AWS_ENDPOINT_URL_RDS_DATA points tests at a local one).
            region = self.resource_arn.split(":")[3] or None
            self._client = boto3.client("rds-data", region_name=region)
        return self._client

    def _open(self, database: str | None = None) -> DataApiSession:
        return DataApiSession(self.client, self.resource_arn, self.secret_arn, self.database)

    def _before_use(self, conn: Any) -> Any:
        return conn  # nothing to keep alive: every call is a request of its own

    def _begin_snapshot(self, conn: Any) -> None:
        # InnoDB's repeatable read fixes the snapshot at the transaction's first read.
        conn.begin()

    def _translate(self, exc: BaseException) -> DatabaseError | None:
        if isinstance(exc, DatabaseError):
            return exc
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, BotoCoreError):  # no answer at all: endpoint unreachable, timed out
            return DatabaseUnavailable(f"RDS Data API unreachable: {exc}", retryable=True)
        if not isinstance(exc, ClientError):
            return super()._translate(exc)
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        if code in _RETRYABLE:
            return DatabaseUnavailable(f"RDS Data API {code}: {message}", retryable=True)
        if code == "TransactionNotFoundException":  # timed out and rolled back by the service
            return DatabaseUnavailable(f"RDS Data API {code}: {message}", retryable=True)
        if code in _NO_ACCESS:
            return DatabaseUnavailable(f"RDS Data API refused access ({code}): {message}")
        server_code = _ERROR_CODE.search(message)
        if server_code:  # the server's own error, relayed: the same meaning as through pymysql
            number = int(server_code.group(1))
            error_class = pymysql.err.error_map.get(number, pymysql.err.InternalError)
            return super()._translate(error_class(number, message))
        return DatabaseError(f"RDS Data API {code}: {message}")

    def _epoch_seconds_sql(self, column: str) -> str:
        # A literal with no colon: no part of the statement may read as a named parameter (``:name``).
        return f"TIMESTAMPDIFF(SECOND, '1970-01-01', {column})"

    def _from_epoch_seconds_sql(self, value: str) -> str:
        return f"TIMESTAMPADD(SECOND, {value}, '1970-01-01')"

    def _query_many_rows(self, sql: str, params: Sequence[Any], columns: Sequence[str]) -> list[Sequence[Any]]:
        # One packed JSON value would pass the 1 MiB result cap sooner than records do.
        return self.query(sql, params)

    def export_rows(self, table: Table, batch: int = EXPORT_BATCH) -> Iterator[tuple]:
        return super().export_rows(table, min(batch, EXPORT_BATCH))

    # -- what needs LOAD DATA ------------------------------------------------------------------

    def bulk_insert(self, table: Table, rows: Sequence[Sequence[Any]], staged: StagedRows | None = None) -> None:
        RowSql.insert_rows(self, table, rows, staged)

    def stage_rows(self, table: Table, rows: Sequence[Sequence[Any]], restored: bool = False) -> StagedRows:
        if restored:
            raise BulkLoadRefused(BULK_REFUSED)
        return RowSql.stage_rows(self, table, rows, restored)

    def _load_restored_rows(self, table: Table, rows: Any, replace: bool = False) -> int:
        raise BulkLoadRefused(BULK_REFUSED)

    def create_staging(self, table: Table) -> str:
        raise BulkLoadRefused(BULK_REFUSED)

    def create_schema(self) -> None:
        # The database must exist already (the cluster's, made by CDK): the Data API names it in every call.
        super(MysqlDatabase, self).create_schema()
