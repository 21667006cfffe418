"""The service's MySQL users and what each may do: the one definition the CDK app's bootstrap function
(`bootstrap`) and the test suite both apply.

    app     the API, the S3 loader, the scheduled functions, the CLI's data commands and the Glue jobs:
            data work only, plus creating and dropping the Glue restore's own staging tables
    admin   schema changes (`schema create` / `drop`, the /admin/schema routes, migrations)
    master  the cluster's generated user: bootstrap (this module) and emergencies only
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.rules.dictionary import DATETIME, iter_tables

APP_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE TEMPORARY TABLES", "LOCK TABLES", "REFERENCES")
# `CREATE TABLE <staging> LIKE <table>`, fill, swap in, drop: only on the staging tables' own names.
STAGING_PRIVILEGES = ("CREATE", "DROP", "SELECT", "INSERT", "DELETE")
# A large first load builds a table's secondary keys after its rows (chalicelib/db/mysql_keys.py): ALTER on
# the tables that have such keys (MySQL's ALTER TABLE wants CREATE on the table too, and a grant on a table
# not created yet must hold CREATE), and REFERENCES (database-wide: it only lets a foreign key name a table,
# which needs ALTER on the referencing one) for their foreign keys.
DEFERRED_KEYS_PRIVILEGES = ("ALTER", "CREATE")
ADMIN_PRIVILEGES = ("ALL PRIVILEGES",)
ANY_HOST = "%"


def database_pattern(database: str) -> str:
    """`database` quoted for GRANT, where ``_`` and ``%`` would otherwise match any character(s)."""
    escaped = database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return "`" + escaped.replace("`", "``") + "`"


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def staging_tables() -> list[str]:
    from chalicelib.db.mysql import MysqlDatabase

    return [MysqlDatabase.staging_name(table) for table in iter_tables()]


def deferred_keys_grants() -> list[tuple[str, str]]:
    """(privileges, table) the app user needs to defer a table's secondary keys for a load."""
    return [
        (", ".join(DEFERRED_KEYS_PRIVILEGES), table.name)
        for table in iter_tables()
        if table.references or any(column.type == DATETIME for column in table.columns)
    ]


def app_grants(database: str) -> list[str]:
    """GRANT statements (user and host as the two parameters of each) for the app user on `database`."""
    grants = [f"GRANT {', '.join(APP_PRIVILEGES)} ON {database_pattern(database)}.* TO %s@%s"]
    grants += [
        f"GRANT {', '.join(STAGING_PRIVILEGES)} ON {_quoted(database)}.{_quoted(name)} TO %s@%s"
        for name in staging_tables()
    ]
    grants += [
        f"GRANT {privileges} ON {_quoted(database)}.{_quoted(name)} TO %s@%s"
        for privileges, name in deferred_keys_grants()
    ]
    return grants


def app_revokes(database: str) -> list[str]:
    """The REVOKE statements undoing `app_grants` (for a database that is going away)."""
    revokes = [f"REVOKE ALL PRIVILEGES ON {database_pattern(database)}.* FROM %s@%s"]
    tables = [*staging_tables(), *(name for _, name in deferred_keys_grants())]
    revokes += [f"REVOKE ALL PRIVILEGES ON {_quoted(database)}.{_quoted(name)} FROM %s@%s" for name in tables]
    return revokes


def admin_grants(database: str) -> list[str]:
    return [f"GRANT {', '.join(ADMIN_PRIVILEGES)} ON {database_pattern(database)}.* TO %s@%s"]


def ensure_user(cursor: Any, user: str, password: str, host: str = ANY_HOST) -> None:
    """Create the user, or reset its password: idempotent. Every service user must use TLS."""
    cursor.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s REQUIRE SSL", (user, host, password))
    cursor.execute("ALTER USER %s@%s IDENTIFIED BY %s REQUIRE SSL", (user, host, password))


def grant(cursor: Any, statements: Iterable[str], user: str, host: str = ANY_HOST) -> None:
    for statement in statements:
        cursor.execute(statement, (user, host))


def apply(cursor: Any, database: str, app: Mapping[str, str], admin: Mapping[str, str]) -> None:
    """Create both users (secrets' ``username``/``password``) and give them their rights on `database`."""
    cursor.execute(f"CREATE DATABASE IF NOT EXISTS {_quoted(database)} CHARACTER SET utf8mb4")
    for secret, statements in ((app, app_grants(database)), (admin, admin_grants(database))):
        ensure_user(cursor, secret["username"], secret["password"])
        grant(cursor, statements, secret["username"])


def bootstrap(event: Mapping[str, Any], context: Any = None) -> dict:
    """CloudFormation custom resource handler (CDK provider framework): on Create and Update, log in as
    the master user over verified TLS, apply the users from their secrets, then create the service's
    tables as the admin user (`create_schema`); the users come from their secrets (``MASTER_SECRET_ARN``,
    ``APP_SECRET_ARN``, ``ADMIN_SECRET_ARN``; ``DB_HOST``, ``DB_NAME``; ``DB_CA`` for a private CA).
    Delete keeps the users: a retained cluster still needs them."""
    import os
    from dataclasses import replace

    import pymysql

    from chalicelib.runtime import settings

    if event.get("RequestType") in ("Create", "Update"):
        env = os.environ
        secret = settings.read_secret(env["MASTER_SECRET_ARN"])
        master = settings.database_login(secret, env.get("DB_HOST"), env["DB_NAME"])
        master = replace(master, tls=True, ca=env.get("DB_CA") or None)
        conn = pymysql.connect(
            host=master.host,
            port=master.port,
            user=master.user,
            password=master.password,
            ssl=master.ssl_context(),
            autocommit=True,
            connect_timeout=10,
        )
        try:
            with conn.cursor() as cursor:
                app = settings.read_secret(env["APP_SECRET_ARN"])
                admin = settings.read_secret(env["ADMIN_SECRET_ARN"])
                apply(cursor, master.name, app, admin)
        finally:
            conn.close()
        create_schema(replace(master, user=admin["username"], password=admin["password"]))
    return {"PhysicalResourceId": "database-users"}


def create_schema(login: Any) -> None:
    """The service's tables, created as the admin user where missing (idempotent): the deploy makes them,
    so the first request after it, the smoke run's auto-tester included, finds them; no caller of the API
    needs the admin scope for that."""
    from chalicelib.db.mysql import MysqlDatabase

    database = MysqlDatabase.for_login(login)
    try:
        database.create_schema()
    finally:
        database.close()
