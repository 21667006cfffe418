"""Configuration from environment variables, parsed into one typed object.

Read per invocation (`Settings.from_env()`), not at import: Chalice's test client sets a stage's
variables only for the duration of each call, and Lambda containers never change them anyway.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from urllib.parse import quote, urlencode

DEFAULT_LOCAL_DATABASE = "sqlite:///.local/hr.db"


class ConfigurationError(RuntimeError):
    """The service is deployed or started with settings it cannot run with."""


@dataclass(frozen=True)
class Settings:
    api_key: str | None  # checked by the app itself only outside Lambda (API Gateway checks it in AWS)
    in_lambda: bool
    data_bucket: str | None
    backup_dir: str | None
    glue_load_job: str | None
    loader_max_bytes: int
    api_url: str | None
    api_key_secret_arn: str | None
    # The stage's API Gateway usage plan, where `clients add` puts each client's usage key. Unset locally.
    usage_plan_id: str | None
    # API Gateway meters every client, so the authorizer refuses a client without a usage key. The CDK
    # stage sets METER_CLIENTS on the authorizer: it cannot be given the plan's id, which depends on the
    # API, which depends on the authorizer.
    meter_clients: bool
    _env: Mapping[str, str] = field(repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            api_key=env.get("API_KEY") or None,
            # chalice local and the test client run in-process; only real Lambda sets the function name.
            in_lambda=bool(env.get("AWS_LAMBDA_FUNCTION_NAME")) and not env.get("CHALICE_LOCAL"),
            data_bucket=env.get("DATA_BUCKET") or None,
            backup_dir=env.get("BACKUP_DIR") or None,
            glue_load_job=env.get("GLUE_LOAD_JOB") or None,
            loader_max_bytes=_int(env, "LOADER_MAX_BYTES", 50 * 1024 * 1024),
            api_url=env.get("API_URL") or None,
            api_key_secret_arn=env.get("API_KEY_SECRET_ARN") or None,
            usage_plan_id=env.get("USAGE_PLAN_ID") or None,
            meter_clients=_flag(env, "METER_CLIENTS"),
            _env=env,
        )

    @cached_property
    def database_url(self) -> str:
        """Resolved on first use, so a function that never touches the database (the auto-tester, a
        backup location check) never needs, or is granted, the database secret."""
        return database_url_from_env(self._env)

    @cached_property
    def admin_database_url(self) -> str:
        """The admin user's database, read only by the schema routes: `ADMIN_DB_SECRET_ARN` in AWS,
        else `ADMIN_DATABASE_URL`; without either (local SQLite, a one-user server), `database_url`."""
        return database_url_from_env(self._env, admin=True)


def _flag(env, name: str) -> bool:
    value = (env.get(name) or "false").lower()
    if value not in ("1", "true", "yes", "0", "false", "no"):
        raise ConfigurationError(f"{name} must be true or false, got {value!r}")
    return value in ("1", "true", "yes")


def _int(env, name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {value!r}") from None


def database_url_from_env(env, admin: bool = False) -> str:
    """`DB_SECRET_ARN` (+ `DB_HOST`, `DB_NAME`, `DB_TLS`, `DB_CA`) in AWS; else `DATABASE_URL`; else the
    local SQLite file. With `admin`, `ADMIN_DB_SECRET_ARN` / `ADMIN_DATABASE_URL` first."""
    # The names spelled out: the deploy contract tests find every variable the code reads by its literal.
    arn = env.get("ADMIN_DB_SECRET_ARN") if admin else env.get("DB_SECRET_ARN")
    if arn:
        login = database_login(database_secret(arn), env.get("DB_HOST"), env.get("DB_NAME"), default_name="hr")
        # TLS unless explicitly turned off (the CDK app's proxy and cluster refuse plain connections).
        tls = env.get("DB_TLS", "true").lower() not in ("0", "false", "no")
        return replace(login, tls=tls, ca=env.get("DB_CA") or None).url()
    url = env.get("ADMIN_DATABASE_URL") if admin else env.get("DATABASE_URL")
    if url:
        return url
    return database_url_from_env(env) if admin else DEFAULT_LOCAL_DATABASE


def _secret_string(arn: str, client=None) -> str:
    """A Secrets Manager secret's string (the client's errors are raised as they are)."""
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    return client.get_secret_value(SecretId=arn)["SecretString"]


def read_secret(arn: str, client=None) -> dict:
    """A Secrets Manager secret's JSON (the client's errors are raised as they are)."""
    value = _secret_string(arn, client)
    try:
        secret = json.loads(value)
    except ValueError:
        raise ConfigurationError(f"secret {arn} is not JSON") from None
    if not isinstance(secret, dict):
        raise ConfigurationError(f"secret {arn} is not a JSON object")
    return secret


def read_secret_text(arn: str, client=None) -> str:
    """A plain-text Secrets Manager secret (an API key), stripped; an empty one is a ConfigurationError."""
    value = _secret_string(arn, client).strip()
    if not value:
        raise ConfigurationError(f"secret {arn} is empty")
    return value


TEXT_SECRET_SECONDS = 300.0  # a warm container sees a rotated plain-text secret within this long
_text_secrets: dict[str, tuple[float, str]] = {}


def cached_secret_text(arn: str) -> str:
    """`read_secret_text`, cached per container for `TEXT_SECRET_SECONDS`."""
    now = time.monotonic()
    found = _text_secrets.get(arn)
    if found is None or now - found[0] > TEXT_SECRET_SECONDS:
        found = _text_secrets[arn] = (now, read_secret_text(arn))
    return found[1]


@lru_cache(maxsize=8)
def database_secret(arn: str) -> dict:
    """The database credentials secret (JSON: username, password, host, port, dbname), cached per container."""
    return read_secret(arn)


@dataclass(frozen=True)
class DatabaseLogin:
    """Where a MySQL database is and how to log in to it: the one credential type of the app, the CLI
    and the Glue jobs. With `tls` the server's certificate is verified (host name included) against
    `ca` (a PEM file), or against the system's trust store without one; without `tls`, plain text."""

    host: str
    port: int
    name: str
    user: str
    password: str = field(repr=False)
    tls: bool = True
    ca: str | None = None

    def url(self) -> str:
        """The login as a database URL (``mysql://user:password@host:port/name?tls=true&ca=...``)."""
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        query = {"tls": "true" if self.tls else "false", **({"ca": self.ca} if self.ca else {})}
        return f"mysql://{user}:{password}@{self.host}:{self.port}/{quote(self.name, safe='')}?{urlencode(query)}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS settings a client connection uses (None: plain text)."""
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=self.ca)  # verifies the chain and the host name


def database_login(
    secret: Mapping[str, object], host: str | None = None, name: str | None = None, default_name: str | None = None
) -> DatabaseLogin:
    """Where the database is and how to log in, from its secret's JSON (``username``, ``password``,
    ``host``, ``port``, ``dbname``; the app and the Glue jobs read the same secret). `host` and `name`
    win over the secret's (an RDS-managed secret holds only the credentials); without any database
    name, `default_name`."""
    host = host or secret.get("host")
    name = name or secret.get("dbname") or default_name
    missing = [key for key in ("username", "password") if key not in secret]
    missing += [key for key, value in (("host", host), ("dbname", name)) if not value]
    if missing:
        raise ConfigurationError(
            f"database secret lacks {', '.join(missing)} (DB_HOST and DB_NAME can give the host and database)"
        )
    return DatabaseLogin(
        str(host), int(secret.get("port") or 3306), str(name), str(secret["username"]), str(secret["password"])
    )


def forget_secrets() -> None:
    """Drop cached secrets (after a rotation made the cached credentials fail)."""
    database_secret.cache_clear()
    _text_secrets.clear()
