"""Who may call: the authorizer (a key -> its client and scopes -> an IAM policy), the one place that
puts it on every route, and the request middleware (log context, the precise scope check, the audit).

In AWS the authorizer is an API Gateway Lambda authorizer whose result API Gateway caches per key
(`CACHE_SECONDS`); under `chalice local` and the test client Chalice's local gateway runs the same
function (see local_gateway.py). Its policy is a superset, cache-safe: every route the client's scopes
could reach, with path parameters as wildcards (an ARN's `*` also spans `/`). The middleware then checks
the exact route against `scopes.ROUTE_SCOPES` with the scopes the authorizer put in the request context.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice.app import AuthRequest, AuthResponse, AuthRoute, Chalice, ChaliceAuthorizer

from chalicelib.access import audit, clients
from chalicelib.access.scopes import PUBLIC_ROUTES, allows, audited, scope_for
from chalicelib.api.chalice_errors import conform
from chalicelib.api.errors import ApiError, error_response
from chalicelib.api.parsing import refuse_oversized_body
from chalicelib.api.stage import database, settings
from chalicelib.db import DatabaseError
from chalicelib.runtime.log import logger

KEY_HEADER = "x-api-key"
CACHE_SECONDS = 60  # how long API Gateway reuses a key's policy: a revoked key works at most this long there
ANONYMOUS = "anonymous"
# Counts a write or admin answer carries, copied into its audit entry.
COUNTED = ("received", "inserted", "unchanged", "rejected", "schema")


def _resource(path: str) -> str:
    """A Chalice path as the policy's resource: each {parameter} a wildcard."""
    return "/".join("*" if part.startswith("{") else part for part in path.split("/"))


def policy(request: AuthRequest, routes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The authorizer's answer for the key in `request`: allowed routes, the client in the context."""
    logger.remove_keys(["request_id", "route", "client"])  # the previous request's, in a warm container
    client, stage = None, settings()
    try:
        client = clients.resolve(database(), stage, request.token or "")
    except DatabaseError as exc:  # no client can be checked: refuse, and say why in the log
        logger.error("authorizer cannot read the clients", extra={"detail": str(exc)})
    if client is not None and stage.meter_clients and not client.usage_key:
        # API Gateway would refuse it anyway (the routes require a key, taken from this answer): say why.
        logger.warning(
            "client has no usage key on the usage plan: refused (`clients --usage-plan ID rotate NAME` gives it one)",
            extra={"client": client.name},
        )
        client = None
    if client is None:
        logger.info("key refused", extra={"method_arn": request.method_arn})
        denied = AuthResponse(routes=[], principal_id=ANONYMOUS).to_dict(request)
        denied["policyDocument"]["Statement"] = [
            {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [request.method_arn]}
        ]
        return denied
    granted = [
        AuthRoute(_resource(path), [method])
        for path, methods in routes.items()
        if path not in PUBLIC_ROUTES
        for method in methods
        if allows(client.scopes, scope_for(method, path))
    ]
    answer = AuthResponse(
        routes=granted, principal_id=client.name, context={"client": client.name, "scopes": ",".join(client.scopes)}
    ).to_dict(request)
    if client.usage_key:  # API Gateway meters the call on this key's usage plan (the API's key source is AUTHORIZER)
        answer["usageIdentifierKey"] = client.usage_key
    return answer


def protect(app: Chalice, authorizer: ChaliceAuthorizer) -> None:
    """Put `authorizer` on every route of `app` but the public ones (call after registering blueprints)."""
    for path, methods in app.routes.items():
        if path in PUBLIC_ROUTES:
            continue
        for entry in methods.values():
            entry.authorizer = authorizer


def _json(body: Any) -> dict:
    try:
        found = json.loads(body) if isinstance(body, (str, bytes)) else body
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _details(request: Any, response: Any) -> dict[str, Any]:
    """What an audited call did, from its answer (counts, deleted row, job, backup id)."""
    body = _json(getattr(response, "body", None))
    details: dict[str, Any] = {}
    for name in COUNTED:
        if name in body:
            details[name] = len(body[name]) if isinstance(body[name], list) else body[name]
    if isinstance(body.get("deleted"), dict):
        details["deleted_id"] = body["deleted"].get("id")
    if "kind" in body and "id" in body:
        details["job"], details["kind"] = body["id"], body["kind"]
    params = body.get("params") if isinstance(body.get("params"), dict) else {}
    asked = _json(request.raw_body) if request.raw_body else {}
    backup = params.get("backup") or asked.get("backup") or (body.get("result") or {}).get("backup")
    if backup:
        details["backup"] = backup
    if request.query_params:
        details["query"] = dict(request.query_params)
    return details


def request_id(request: Any) -> str | None:
    """API Gateway's request id; the Lambda invocation's where the gateway gives none (locally)."""
    return (request.context or {}).get("requestId") or getattr(request.lambda_context, "aws_request_id", None)


def _record(request: Any, caller: dict, status: int, response: Any = None) -> None:
    context = request.context or {}
    try:
        audit.record(
            database(),
            client=caller.get("client") or ANONYMOUS,
            method=request.method,
            route=context.get("resourcePath") or "",
            status=status,
            table_name=(request.uri_params or {}).get("table"),
            details=_details(request, response) if response is not None else {},
            request_id=request_id(request),
        )
    except Exception:  # the action is done; losing its entry must not turn its answer into an error
        logger.exception("audit entry not stored")


def request_context(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """HTTP middleware: log lines carry the request id, route and client; oversized bodies never reach a
    view; the route's scope is checked; writes and admin actions are audited; errors Chalice answers
    itself come out shaped like ours."""
    context = event.context or {}
    route = context.get("resourcePath")
    caller = context.get("authorizer") or {}
    logger.append_keys(request_id=request_id(event), route=route, client=caller.get("client"))
    try:
        refuse_oversized_body(event)
    except ApiError as exc:
        return error_response(exc.status, exc.error, exc.detail)
    if route in PUBLIC_ROUTES:
        return conform(get_response(event))
    needed = scope_for(event.method, route or "")
    scopes = [s for s in (caller.get("scopes") or "").split(",") if s]
    if not caller.get("client") or not allows(scopes, needed):
        if audited(event.method, route or ""):
            _record(event, caller, 403)
        return error_response(403, "forbidden", f"this route needs the {needed} scope")
    response = conform(get_response(event))
    if audited(event.method, route or ""):
        _record(event, caller, response.status_code, response)
    return response
