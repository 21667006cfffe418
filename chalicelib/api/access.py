"""Who may call: the x-api-key check, and the middleware that runs it with the request's log context."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.api.chalice_errors import conform
from chalicelib.api.errors import ApiError, error_response
from chalicelib.api.parsing import refuse_oversized_body
from chalicelib.api.stage import settings
from chalicelib.runtime.log import logger

PUBLIC_ROUTES = frozenset({"/status"})
# Pages a person opens in a browser, which cannot send a header: the key may come as ?api_key= there.
# Only for the app's own check (local, tests); in AWS API Gateway reads the x-api-key header only.
QUERY_KEY_ROUTES = frozenset({"/reports"})


def api_key_refusal(request: Any) -> Response | None:
    """403 unless the request carries the configured API key (public routes excepted).

    In Lambda, API Gateway enforces the key (`api_key_required=True`) before the function runs; under
    `chalice local` and the test client it does not, so the app checks it itself there, and refuses
    everything when no key is configured.
    """
    route = (request.context or {}).get("resourcePath")
    if route in PUBLIC_ROUTES:
        return None
    config = settings()
    if config.in_lambda:
        return None
    if not config.api_key:
        return error_response(403, "forbidden", "no API key is configured for this stage (API_KEY)")
    given = (request.headers or {}).get("x-api-key") or ""
    if not given and route in QUERY_KEY_ROUTES:
        given = (request.query_params or {}).get("api_key") or ""
    if not hmac.compare_digest(given.encode(), config.api_key.encode()):
        where = "x-api-key header or api_key parameter" if route in QUERY_KEY_ROUTES else "x-api-key header"
        return error_response(403, "forbidden", f"missing or wrong {where}")
    return None


def request_context(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """HTTP middleware: log lines carry the request id and route; refused keys and oversized bodies never
    reach a view; errors Chalice answers itself come out shaped like ours."""
    context = event.context or {}
    logger.append_keys(request_id=context.get("requestId"), route=context.get("resourcePath"))
    try:
        refusal = api_key_refusal(event)
        if refusal is None:
            refuse_oversized_body(event)
    except ApiError as exc:
        return error_response(exc.status, exc.error, exc.detail)
    return refusal or conform(get_response(event))
