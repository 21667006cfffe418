"""Database access: one small interface (`Database`), three backends (MySQL via pymysql, the same SQL over
the RDS Data API, embedded SQLite).

Callers get a backend from `connect(url)` and never ask which one. The service's SQL lives in this
package, one module per job (base.py has the map): core, schema, rows, summary, report_sql, restore,
rejections, and each backend's own in mysql.py and sqlite.py. The Glue jobs are the one other place that
builds SQL, run by Spark over JDBC rather than through `Database`: glue/hrjobs/database.py (row counts,
id ranges), glue/hrjobs/avro_io.py (Spark SQL over Avro) and glue/load_csv.py (the logged fingerprints);
their restores and staging tables go through `MysqlDatabase`.
"""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, unquote, urlsplit

from chalicelib.db.base import (
    Database,
    DatabaseError,
    DatabaseUnavailable,
    IntegrityConflict,
    ReferencedRow,
    ReferencedTable,
    Rejection,
)
from chalicelib.runtime.settings import DatabaseLogin

__all__ = [
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "IntegrityConflict",
    "ReferencedRow",
    "ReferencedTable",
    "Rejection",
    "connect",
    "for_url",
    "InvalidDatabaseUrl",
    "login_from_url",
]


class InvalidDatabaseUrl(ValueError):
    pass


def connect(url: str) -> Database:
    """A new backend for `url`: ``sqlite:///path.db``, ``mysql://user:password@host:port/db?tls=true&ca=ca.pem``
    (see `login_from_url`) or ``rds-data://<cluster-arn>/<database>?secret=<secret-arn>`` (the RDS Data API)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        from chalicelib.db.sqlite import SqliteDatabase

        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if parts.netloc:  # sqlite://relative/path.db
            path = f"{parts.netloc}/{path}" if path else parts.netloc
        if not path:
            raise InvalidDatabaseUrl(f"no file in {url!r}; expected sqlite:///path/to/file.db")
        return SqliteDatabase(path)
    if parts.scheme in MYSQL_SCHEMES:
        from chalicelib.db.mysql import MysqlDatabase

        return MysqlDatabase.for_login(login_from_url(url))
    if parts.scheme == "rds-data":
        from chalicelib.db.data_api import DataApiDatabase

        secret = parse_qs(parts.query).get("secret", [""])[-1]
        name = unquote(parts.path.lstrip("/"))
        if not parts.netloc.startswith("arn:") or not secret.startswith("arn:") or not name or "/" in name:
            raise InvalidDatabaseUrl(f"expected rds-data://<cluster-arn>/<database>?secret=<secret-arn>, got {url!r}")
        return DataApiDatabase(resource_arn=unquote(parts.netloc), secret_arn=secret, database=name)
    raise InvalidDatabaseUrl(
        f"unsupported database URL {_redact(url)!r}; use sqlite:///..., mysql://... or rds-data://..."
    )


MYSQL_SCHEMES = ("mysql", "mysql+pymysql", "mariadb")


def login_from_url(url: str) -> DatabaseLogin:
    """The login a ``mysql://user:password@host:port/database`` URL names. Query parameters:
    ``tls=true`` verifies the server's certificate and host name against the system's trust store,
    ``ca=/path/ca.pem`` against that CA instead (and implies ``tls=true``); ``tls=false`` (the default
    without ``ca``) connects in plain text, never with unverified TLS."""
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if parts.scheme not in MYSQL_SCHEMES or not name or not parts.hostname:
        raise InvalidDatabaseUrl(f"expected mysql://user:password@host:port/database, got {_redact(url)!r}")
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - {"tls", "ca"})
    if unknown:
        raise InvalidDatabaseUrl(f"unknown parameter {', '.join(unknown)} in {_redact(url)!r}; use tls and ca")
    ca = query.get("ca", [""])[-1] or None
    tls = _flag(query.get("tls", ["true" if ca else "false"])[-1], url)
    if ca and not tls:
        raise InvalidDatabaseUrl(f"ca needs tls=true in {_redact(url)!r}")
    return DatabaseLogin(
        host=parts.hostname,
        port=parts.port or 3306,
        name=name,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        tls=tls,
        ca=ca,
    )


def _flag(value: str, url: str) -> bool:
    if value.lower() in ("1", "true", "yes", "required"):
        return True
    if value.lower() in ("0", "false", "no", ""):
        return False
    raise InvalidDatabaseUrl(f"tls must be true or false in {_redact(url)!r}")


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


_instances: dict[str, Database] = {}
_lock = threading.Lock()


def for_url(url: str) -> Database:
    """The process-wide backend for `url`: connections are reused across warm Lambda invocations."""
    with _lock:
        db = _instances.get(url)
        if db is None:
            db = _instances[url] = connect(url)
        return db


def forget(url: str) -> None:
    with _lock:
        db = _instances.pop(url, None)
    if db is not None:
        db.close()
