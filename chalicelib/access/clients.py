"""Clients of the API: add one with its scopes (its key is shown once), list, rotate and revoke them,
and resolve a presented key to its client.

The stage's configured `API_KEY` is a bootstrap admin (`bootstrap`) outside Lambda only: it lets a
developer run `chalice local` and the tests before any client exists. In AWS every caller is a client,
and one is built in: the auto-tester (`monitor`), whose key is the stack's API key in Secrets Manager
(`API_KEY_SECRET_ARN`), with the `read` scope only.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from chalicelib.access import usage
from chalicelib.access.keys import key_hash, new_key
from chalicelib.access.scopes import ADMIN, READ, SCOPES, parse_scopes
from chalicelib.db import Database
from chalicelib.db import clients as table
from chalicelib.runtime.log import logger
from chalicelib.runtime.settings import Settings, cached_secret_text

BOOTSTRAP = "bootstrap"
MONITOR = "auto-tester"
RESERVED = (BOOTSTRAP, MONITOR)  # built-in clients' names, never given to a stored client
DEFAULT_GRACE_SECONDS = 24 * 3600
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ClientError(Exception):
    """A client request that cannot be done (the message says why)."""


class ClientNotFound(ClientError):
    pass


@dataclass(frozen=True)
class Client:
    name: str
    scopes: tuple[str, ...]
    usage_key: str | None = None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _client(row: dict) -> Client:
    return Client(row["name"], tuple(s for s in SCOPES if s in row["scopes"].split(",")), row["usage_key"])


def add(db: Database, name: str, scopes: str, usage_plan_id: str | None = None) -> tuple[Client, str]:
    """A new client and its key (the key is returned once and stored only as a hash). With a usage plan,
    the client also gets its own usage key on it (an API Gateway API key), made before the client is
    stored and deleted again if storing fails."""
    if not NAME.match(name or "") or name in RESERVED:
        raise ClientError(
            f"a client name is 1-64 letters, digits, '.', '_' or '-' (not {' or '.join(map(repr, RESERVED))}), "
            f"got {name!r}"
        )
    granted = parse_scopes(scopes)
    if table.get_client(db, name) is not None:
        raise _exists(name)
    key, now = new_key(), _now_ms()
    with _new_usage_key(usage_plan_id, name) as usage_key, db.transaction():
        if not table.insert_client(db, name, ",".join(granted), usage_key, now):
            raise _exists(name)
        table.add_key(db, name, key_hash(key), now)
    return Client(name, granted, usage_key), key


@contextmanager
def _new_usage_key(plan_id: str | None, name: str, wanted: bool = True) -> Iterator[str | None]:
    """A new usage key for `name` on the plan (None without a plan, or not `wanted`), deleted from API
    Gateway again if the block storing it fails."""
    usage_key = usage.create(plan_id, name) if plan_id and wanted else None
    try:
        yield usage_key
    except BaseException:
        if usage_key:
            usage.delete(plan_id, name, usage_key)
        raise


def _exists(name: str) -> ClientError:
    return ClientError(f"a client named {name!r} exists already (revoked clients keep their name)")


def rotate(
    db: Database, name: str, grace_seconds: int = DEFAULT_GRACE_SECONDS, usage_plan_id: str | None = None
) -> str:
    """A new key for the client; its older keys stay valid `grace_seconds` more. The usage key is kept (it
    names the client, not its secret); a client without one gets one when a usage plan is given."""
    if grace_seconds < 0:
        raise ClientError("the grace period cannot be negative")
    row = table.get_client(db, name)
    if row is None:
        raise ClientNotFound(f"no client named {name!r}")
    if row["revoked_at"] is not None:
        raise ClientError(f"client {name!r} is revoked; add a new client instead")
    key, now = new_key(), _now_ms()
    with _new_usage_key(usage_plan_id, name, wanted=not row["usage_key"]) as usage_key, db.transaction():
        table.expire_keys(db, name, now + grace_seconds * 1000)
        table.add_key(db, name, key_hash(key), now)
        if usage_key:
            table.set_usage_key(db, name, usage_key)
    return key


def revoke(db: Database, name: str, usage_plan_id: str | None = None) -> Client:
    """The client's keys stop working with the next request that is not answered from a cache. With a
    usage plan, its usage key is deleted from API Gateway too, which also ends a cached allow there."""
    row = table.get_client(db, name)
    if row is None or not table.revoke_client(db, name, _now_ms()):
        raise ClientNotFound(f"no client named {name!r}")
    if usage_plan_id and row["usage_key"]:
        try:
            usage.delete(usage_plan_id, name, row["usage_key"])
        except usage.UsageKeyError as exc:
            raise ClientError(f"client {name!r} is revoked, but its usage key is left: {exc}") from None
    return _client(row)


def listing(db: Database) -> list[dict]:
    now = _now_ms()
    keys = table.valid_key_counts(db, now)
    return [
        {
            "name": row["name"],
            "scopes": list(_client(row).scopes),
            "keys": keys.get(row["name"], 0),
            "created_at": row["created_at"],
            "revoked": row["revoked_at"] is not None,
            "metered": bool(row["usage_key"]),
        }
        for row in table.list_clients(db)
    ]


def bootstrap(settings: Settings, key: str) -> Client | None:
    """The stage's bootstrap admin when `key` is its API_KEY (never in Lambda)."""
    if settings.in_lambda or not settings.api_key or not key:
        return None
    return Client(BOOTSTRAP, (ADMIN,)) if _same_key(key, settings.api_key) else None


def _same_key(presented: str, expected: str) -> bool:
    """`presented` is `expected`, compared in constant time (any text a caller sends, lone surrogates too)."""
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode())


def monitor(settings: Settings, key: str) -> Client | None:
    """The auto-tester (scheduled, and the smoke run after each deploy) when `key` is the stack's API key
    (`API_KEY_SECRET_ARN`): it reads, nothing else. API Gateway meters it on that same key, which the
    stack puts on the usage plan."""
    if not settings.api_key_secret_arn or not key:
        return None
    try:
        value = cached_secret_text(settings.api_key_secret_arn)
    except Exception as exc:  # Secrets Manager unreachable, the secret gone: this key is refused, others work
        logger.error("the auto-tester's key cannot be read", extra={"detail": str(exc)})
        return None
    return Client(MONITOR, (READ,), usage_key=value) if _same_key(key, value) else None


def resolve(db: Database, settings: Settings, key: str) -> Client | None:
    """The client holding `key` (valid, not revoked), or None."""
    if not key:
        return None
    found = bootstrap(settings, key)
    if found is not None:
        return found
    row = table.client_for_key(db, key_hash(key), _now_ms())
    return _client(row) if row else monitor(settings, key)
