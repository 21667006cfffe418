"""The three scopes and the one table that says which scope each route needs.

`read`: GET rows, reports, rejections, jobs. `write`: batch inserts, updates, uploads, replays. `admin`: schema
create and drop, truncates, deletes, backups, restores, the audit trail, cancelling and retrying jobs; `admin`
allows everything. A GET not in the table is `read`; any other route not in it is `admin` (closed by
default: a new route is for operators until someone says otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable

READ, WRITE, ADMIN = "read", "write", "admin"
SCOPES = (READ, WRITE, ADMIN)
PUBLIC_ROUTES = frozenset({"/status"})

# (method, Chalice resource path) -> scope
ROUTE_SCOPES: dict[tuple[str, str], str] = {
    ("POST", "/{table}"): WRITE,
    ("POST", "/uploads/{table}"): WRITE,
    ("POST", "/uploads/{table}/url"): WRITE,
    ("POST", "/rejections/replay"): WRITE,
    ("PUT", "/{table}/{id}"): WRITE,
    ("PATCH", "/{table}/{id}"): WRITE,
    ("DELETE", "/{table}/{id}"): ADMIN,
    ("POST", "/admin/schema"): ADMIN,
    ("POST", "/admin/tables/{table}/truncate"): ADMIN,
    ("DELETE", "/admin/schema"): ADMIN,
    ("GET", "/backups"): ADMIN,
    ("POST", "/backups"): ADMIN,
    ("POST", "/restores/{table}"): ADMIN,
    ("GET", "/audit"): ADMIN,
    ("DELETE", "/background-jobs/{job_id}"): ADMIN,
    ("POST", "/background-jobs/{job_id}/retry"): ADMIN,
}


class InvalidScopes(ValueError):
    """A scope list that names no scope or one that does not exist."""


def scope_for(method: str, route: str) -> str:
    """The scope a call of `method` on the resource path `route` needs."""
    return ROUTE_SCOPES.get((method.upper(), route), READ if method.upper() == "GET" else ADMIN)


def allows(scopes: Iterable[str], needed: str) -> bool:
    granted = set(scopes)
    return ADMIN in granted or needed in granted


def parse_scopes(text: str) -> tuple[str, ...]:
    """``read,write`` -> ("read", "write") in the canonical order; InvalidScopes for anything else."""
    given = {s.strip().lower() for s in (text or "").split(",") if s.strip()}
    unknown = given - set(SCOPES)
    if unknown or not given:
        raise InvalidScopes(f"scopes must be some of {', '.join(SCOPES)}, got {text!r}")
    return tuple(s for s in SCOPES if s in given)


def audited(method: str, route: str) -> bool:
    """Every write and every admin action goes into the audit trail."""
    return route not in PUBLIC_ROUTES and scope_for(method, route) != READ
