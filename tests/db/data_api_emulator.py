"""A local RDS Data API: the `rds-data` wire protocol (rest-json over HTTP) over the suite's MariaDB.

Point boto3 at it with ``endpoint_url`` (or ``AWS_ENDPOINT_URL_RDS_DATA``). Every request is checked
against botocore's own service model for `rds-data` (operation by URI, input shape) before it runs and
every response against the operation's output shape before it is sent, so the emulator cannot answer
what the real API would not; a mismatch is recorded in `violations` (tests assert there are none) and
answered with an error. What it keeps of the service's behaviour: named parameters (``:name``, read
anywhere in the text), TIMESTAMP type hints in the service's format, one connection per transaction
and a pooled one per statement outside transactions, server errors relayed as ``BadRequestException``
("Database error code: N. Message: ..."), unknown transactions as ``TransactionNotFoundException``, a
wrong secret as ``SecretsErrorException``, and the 1 MiB result cap.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session
import pymysql
from botocore.validate import ParamValidator
from pymysql.constants import FIELD_TYPE

from chalicelib.runtime.settings import DatabaseLogin

CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:hr-test"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hr-test-db-AbCdEf"
RESULT_LIMIT = 1 << 20
_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$")
# MySQL column type -> (JDBC type number, the Data API's typeName)
_TYPES = {
    FIELD_TYPE.TINY: (-6, "TINYINT"),
    FIELD_TYPE.SHORT: (5, "SMALLINT"),
    FIELD_TYPE.LONG: (4, "INT"),
    FIELD_TYPE.INT24: (4, "MEDIUMINT"),
    FIELD_TYPE.LONGLONG: (-5, "BIGINT"),
    FIELD_TYPE.DECIMAL: (3, "DECIMAL"),
    FIELD_TYPE.NEWDECIMAL: (3, "DECIMAL"),
    FIELD_TYPE.DOUBLE: (8, "DOUBLE"),
    FIELD_TYPE.FLOAT: (7, "FLOAT"),
    FIELD_TYPE.DATETIME: (93, "DATETIME"),
    FIELD_TYPE.TIMESTAMP: (93, "TIMESTAMP"),
    FIELD_TYPE.DATE: (91, "DATE"),
    FIELD_TYPE.VAR_STRING: (12, "VARCHAR"),
    FIELD_TYPE.STRING: (1, "CHAR"),
    FIELD_TYPE.BLOB: (-1, "TEXT"),
    FIELD_TYPE.LONG_BLOB: (-1, "LONGTEXT"),
    FIELD_TYPE.MEDIUM_BLOB: (-1, "MEDIUMTEXT"),
    FIELD_TYPE.JSON: (-1, "JSON"),
}


class ServiceError(Exception):
    """An error the service answers with: its code (an error shape of the model) and message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class DataApiEmulator:
    """The endpoint, serving on 127.0.0.1 from a thread while started."""

    def __init__(self, login: DatabaseLogin):
        self.login = {
            "host": login.host,
            "port": login.port,
            "user": login.user,
            "password": login.password,
            "ssl": login.ssl_context(),
        }
        self.model = botocore.session.get_session().get_service_model("rds-data")
        self.operations = {
            self.model.operation_model(name).http["requestUri"]: self.model.operation_model(name)
            for name in self.model.operation_names
        }
        self.validator = ParamValidator()
        self.violations: list[str] = []
        self.calls: list[str] = []
        self._transactions: dict[str, tuple[pymysql.connections.Connection, threading.Lock]] = {}
        self._idle: dict[str | None, list[pymysql.connections.Connection]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- serving ---------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve in a thread; returns the endpoint URL."""
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as the real endpoint; headers and body go out as written (no delayed-ACK wait).
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, headers, payload = emulator.handle(self.path, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for conn, _ in self._transactions.values():
            conn.close()
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._transactions.clear()
        self._idle.clear()

    def handle(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of the answer to a POST of `body` to `path`."""
        operation = self.operations.get(path.split("?")[0])
        try:
            if operation is None:
                raise self._violation(f"no rds-data operation at {path}", "BadRequestException")
            request = _from_wire(json.loads(body or b"{}"), operation.input_shape)
            report = self.validator.validate(request, operation.input_shape)
            if report.has_errors():
                raise self._violation(f"{operation.name} request: {report.generate_report()}", "BadRequestException")
            self.calls.append(operation.name)
            answer = getattr(self, "_" + _snake(operation.name))(request)
            report = self.validator.validate(answer, operation.output_shape)
            if report.has_errors():
                raise self._violation(f"{operation.name} response: {report.generate_report()}")
            payload = json.dumps(_to_wire(answer, operation.output_shape)).encode()
            if len(payload) > RESULT_LIMIT:
                raise ServiceError("BadRequestException", "Database returned more than the allowed response size limit")
            return 200, {}, payload
        except ServiceError as error:
            return self._error(error)

    def _violation(self, message: str, code: str = "InternalServerErrorException") -> ServiceError:
        self.violations.append(message)
        return ServiceError(code, message)

    def _error(self, error: ServiceError) -> tuple[int, dict[str, str], bytes]:
        shape = self.model.shape_for(error.code)
        body = {"message": error.message} if "message" in shape.members else {}
        return shape.metadata["error"]["httpStatusCode"], {"x-amzn-ErrorType": error.code}, json.dumps(body).encode()

    # -- operations --------------------------------------------------------------------------------

    def _connect(self, request: dict[str, Any]) -> pymysql.connections.Connection:
        """A connection to the request's database, from the pool (as the service keeps one) or new."""
        if request["secretArn"] != SECRET_ARN:
            raise ServiceError("SecretsErrorException", f"secret {request['secretArn']} not found")
        if request["resourceArn"] != CLUSTER_ARN:
            raise ServiceError("BadRequestException", f"cluster {request['resourceArn']} not found")
        database = request.get("database")
        with self._lock:
            idle = self._idle.get(database)
            if idle:
                return idle.pop()
        try:
            conn = pymysql.connect(
                **self.login, database=database, charset="utf8mb4", autocommit=True, connect_timeout=5
            )
        except pymysql.err.MySQLError as error:
            raise _relayed(error) from error
        conn.pooled_for = database
        return conn

    def _release(self, conn: pymysql.connections.Connection, healthy: bool = True) -> None:
        if not healthy or not conn.open:
            conn.close()
            return
        with self._lock:
            self._idle.setdefault(conn.pooled_for, []).append(conn)

    def _begin_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        conn = self._connect(request)
        conn.begin()
        transaction_id = base64.b64encode(uuid.uuid4().bytes * 3).decode()
        with self._lock:
            self._transactions[transaction_id] = (conn, threading.Lock())
        return {"transactionId": transaction_id}

    def _end(self, request: dict[str, Any], commit: bool) -> None:
        with self._lock:
            held = self._transactions.pop(request["transactionId"], None)
        if held is None:
            raise ServiceError("TransactionNotFoundException", f"Transaction {request['transactionId']} is not found")
        conn, lock = held
        with lock:
            try:
                conn.commit() if commit else conn.rollback()
            except pymysql.err.MySQLError as error:
                self._release(conn, healthy=False)
                raise _relayed(error) from error
            self._release(conn)

    def _commit_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        self._end(request, commit=True)
        return {"transactionStatus": "Transaction Committed"}

    def _rollback_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        self._end(request, commit=False)
        return {"transactionStatus": "Rollback Complete"}

    def _execute_statement(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._run(request, [request.get("parameters", [])], batch=False)

    def _batch_execute_statement(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._run(request, request.get("parameterSets") or [[]], batch=True)

    def _run(self, request: dict[str, Any], parameter_sets: list[list[dict]], batch: bool) -> dict[str, Any]:
        transaction_id = request.get("transactionId")
        if transaction_id:
            with self._lock:
                held = self._transactions.get(transaction_id)
            if held is None:
                raise ServiceError("TransactionNotFoundException", f"Transaction {transaction_id} is not found")
            conn, lock = held
            with lock:
                return self._statements(conn, request, parameter_sets, batch)
        conn = self._connect(request)
        healthy = False
        try:
            if batch:
                conn.begin()  # a batch outside a transaction commits as a whole
            answer = self._statements(conn, request, parameter_sets, batch)
            if batch:
                conn.commit()
            healthy = True
            return answer
        finally:
            self._release(conn, healthy)

    def _statements(
        self,
        conn: pymysql.connections.Connection,
        request: dict[str, Any],
        parameter_sets: list[list[dict]],
        batch: bool,
    ) -> dict[str, Any]:
        updates = []
        try:
            with conn.cursor() as cur:
                for parameters in parameter_sets:
                    sql, args = _bind(request["sql"], parameters)
                    cur.execute(sql, args)
                    updates.append({"generatedFields": []})
                if batch:
                    return {"updateResults": updates}
                return self._result(cur, request)
        except pymysql.err.MySQLError as error:
            if batch and not request.get("transactionId"):
                conn.rollback()
            raise _relayed(error) from error

    @staticmethod
    def _result(cur: Any, request: dict[str, Any]) -> dict[str, Any]:
        if cur.description is None:
            return {"numberOfRecordsUpdated": max(cur.rowcount, 0), "generatedFields": []}
        answer: dict[str, Any] = {
            "numberOfRecordsUpdated": 0,
            "records": [[_field(value) for value in row] for row in cur.fetchall()],
        }
        if request.get("includeResultMetadata"):
            answer["columnMetadata"] = [_column(d) for d in cur.description]
        return answer


def _relayed(error: pymysql.err.MySQLError) -> ServiceError:
    code = error.args[0] if error.args and isinstance(error.args[0], int) else 0
    message = error.args[1] if len(error.args) > 1 else str(error)
    if code in (2003, 2006, 2013):
        return ServiceError("ServiceUnavailableError", "")
    return ServiceError("BadRequestException", f"Database error code: {code}. Message: {message}")


def _bind(sql: str, parameters: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """`sql` with its ``:name`` parameters as pymysql ``%s`` placeholders, and their values in order."""
    values = {p["name"]: _parameter_value(p) for p in parameters}
    args: list[Any] = []

    def mark(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise ServiceError("BadRequestException", f"No value specified for parameter: {name}")
        args.append(values[name])
        return "%s"

    return _PARAMETER.sub(mark, sql.replace("%", "%%")), args


def _parameter_value(parameter: dict[str, Any]) -> Any:
    field = parameter["value"]
    if len(field) != 1:
        raise ServiceError("BadRequestException", f"parameter {parameter['name']} must set exactly one value")
    kind, value = next(iter(field.items()))
    if kind == "isNull":
        return None
    if kind == "arrayValue":
        raise ServiceError("BadRequestException", "Array parameters are not supported")
    if parameter.get("typeHint") == "TIMESTAMP" and not _TIMESTAMP.match(str(value)):
        raise ServiceError("BadRequestException", f"Text '{value}' could not be parsed as a timestamp")
    return value


def _field(value: Any) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, dt.datetime):
        return {"stringValue": value.strftime("%Y-%m-%d %H:%M:%S" + (".%f" if value.microsecond else ""))}
    if isinstance(value, (dt.date, Decimal)):
        return {"stringValue": str(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"blobValue": bytes(value)}
    return {"stringValue": str(value)}


def _column(description: tuple) -> dict[str, Any]:
    name, type_code, _, _, precision, scale, nullable = description
    jdbc, type_name = _TYPES.get(type_code, (1111, "OTHER"))
    return {
        "name": name,
        "label": name,
        "type": jdbc,
        "typeName": type_name,
        "nullable": 1 if nullable else 0,
        "precision": int(precision or 0),
        "scale": int(scale or 0),
    }


def _from_wire(value: Any, shape: Any) -> Any:
    """A parsed JSON request as botocore's Python shapes: blobs travel base64-encoded."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: _from_wire(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_from_wire(v, shape.member) for v in value]
    if shape.type_name == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


def _to_wire(value: Any, shape: Any) -> Any:
    if shape.type_name == "structure":
        return {k: _to_wire(v, shape.members[k]) for k, v in value.items()}
    if shape.type_name == "list":
        return [_to_wire(v, shape.member) for v in value]
    if shape.type_name == "blob":
        return base64.b64encode(value).decode()
    return value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
