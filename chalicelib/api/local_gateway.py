"""Make Chalice's local gateway (`chalice local`, `chalice.test.Client`) call the authorizer as API
Gateway does for this app.

Chalice's local gateway reads the token from the `Authorization` header whatever `header=` the
authorizer names, and answers refusals in its own shape. API Gateway reads the named header, and the
CDK app's gateway responses answer refusals as ``{"error": "forbidden", "detail": ...}``. In Lambda the
local gateway is not even packaged, and nothing here runs.
"""

from __future__ import annotations

import json
from typing import Any

# Pages a person opens in a browser, which cannot send a header: locally the key may come as ?api_key=.
# API Gateway reads the header only.
QUERY_KEY_ROUTES = frozenset({"/reports"})
REFUSED = "User is not authorized to access this resource"


def install() -> None:
    """Patch the local gateway once, if it is importable (it is not in Lambda)."""
    try:
        from chalice import local
    except ImportError:
        return
    gateway = local.LocalGatewayAuthorizer
    if getattr(gateway, "_hr_reads_named_header", False):
        return
    run_authorizer = gateway.authorize

    def prepare(self: Any, arn: str, lambda_event: dict, lambda_context: Any) -> dict:
        event = dict(lambda_event)
        route = self._route_for_event(lambda_event)
        header = (route.authorizer.config.header or "Authorization").lower()
        headers = {k.lower(): v for k, v in (lambda_event.get("headers") or {}).items()}
        token = headers.get(header)
        if token is None and lambda_event["requestContext"].get("resourcePath") in QUERY_KEY_ROUTES:
            token = ((lambda_event.get("multiValueQueryStringParameters") or {}).get("api_key") or [None])[-1]
        # A missing key is refused like a wrong one (403), as the API's gateway responses answer it.
        event.update(type="TOKEN", authorizationToken=token or "", methodArn=arn)
        return event

    def authorize(self: Any, raw_path: str, lambda_event: dict, lambda_context: Any) -> Any:
        try:
            return run_authorizer(self, raw_path, lambda_event, lambda_context)
        except (local.ForbiddenError, local.NotAuthorizedError) as exc:
            # A 403 in the gateway's own shape; chalice_errors gives every gateway answer ours.
            raise local.ForbiddenError(exc.headers, json.dumps({"message": REFUSED}).encode()) from None

    gateway._prepare_authorizer_event = prepare
    gateway.authorize = authorize
    gateway._hr_reads_named_header = True
