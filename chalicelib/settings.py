"""Configuration from environment variables, parsed into one typed object.

Read per invocation (`Settings.from_env()`), not at import: Chalice's test client sets a stage's
variables only for the duration of each call, and Lambda containers never change them anyway.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Mapping
from urllib.parse import quote

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
    _env: Mapping[str, str] = field(repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
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
            _env=env,
        )

    @cached_property
    def database_url(self) -> str:
        """Resolved on first use, so a function that never touches the database (the auto-tester, a
        backup location check) never needs, or is granted, the database secret."""
        return database_url_from_env(self._env)


def _int(env, name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {value!r}") from None


def database_url_from_env(env) -> str:
    """`DB_SECRET_ARN` (+ `DB_HOST`, `DB_NAME`) in AWS; else `DATABASE_URL`; else the local SQLite file."""
    arn = env.get("DB_SECRET_ARN")
    if arn:
        secret = database_secret(arn)
        host = env.get("DB_HOST") or secret.get("host")
        if not host:
            raise ConfigurationError("DB_HOST is not set and the database secret names no host")
        port = secret.get("port") or 3306
        name = env.get("DB_NAME") or secret.get("dbname") or "hr"
        user = quote(str(secret["username"]), safe="")
        password = quote(str(secret["password"]), safe="")
        # TLS unless explicitly turned off (the CDK app's proxy and cluster refuse plain connections).
        tls = "false" if env.get("DB_TLS", "true").lower() in ("0", "false", "no") else "true"
        return f"mysql://{user}:{password}@{host}:{port}/{name}?tls={tls}"
    return env.get("DATABASE_URL") or DEFAULT_LOCAL_DATABASE


@lru_cache(maxsize=8)
def database_secret(arn: str) -> dict:
    """The database credentials secret (JSON: username, password, host, port, dbname), cached per container."""
    import boto3

    value = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    try:
        secret = json.loads(value)
    except ValueError:
        raise ConfigurationError(f"secret {arn} is not JSON") from None
    if not {"username", "password"} <= set(secret):
        raise ConfigurationError(f"secret {arn} lacks username/password")
    return secret


def forget_secrets() -> None:
    """Drop cached secrets (after a rotation made the cached credentials fail)."""
    database_secret.cache_clear()
