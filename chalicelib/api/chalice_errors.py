"""Errors Chalice answers by itself, in the shape of every other error: ``{"error": ..., "detail": ...}``.

Inside the app, Chalice's handler builds ``{"Code", "Message"}`` bodies (405 for a method a path lacks,
415 for a content type a route does not take, 400 for a binary answer without Accept, 500 for an
unhandled exception): `conform`, run by the HTTP middleware, rewrites them. Before the app runs, the
local gateway (`chalice local` and `chalice.test.Client`) answers an unknown path with 403 "Missing
Authentication Token", as API Gateway does, and its HTTP server refuses methods it has no handler for:
`shape_local_gateway_errors` rewrites those bodies and routes every method to the gateway. In AWS,
API Gateway's own answers get the shape from the CDK app's gateway responses.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from chalice import Response

from chalicelib.api.errors import error_response
from chalicelib.api.stage import settings

# Chalice's error codes -> our error titles (an unlisted code keeps a title from its status).
TITLES = {
    "MethodNotAllowedError": "method not allowed",
    "UnsupportedMediaType": "unsupported media type",
    "BadRequest": "not acceptable",
    "InternalServerError": "internal error",
}
STATUS_TITLES = {400: "bad request", 401: "unauthorized", 403: "forbidden", 404: "not found", 500: "internal error"}


def _title(status: int, code: Any) -> str:
    return TITLES.get(code) or STATUS_TITLES.get(status) or ("request refused" if status < 500 else "internal error")


def conform(response: Response) -> Response:
    """`response` itself, unless it is an error in Chalice's ``{"Code", "Message"}`` shape: then ours."""
    body = response.body
    if response.status_code < 400 or not (isinstance(body, dict) and "Code" in body and "Message" in body):
        return response
    headers = {k: v for k, v in (response.headers or {}).items() if k.lower() != "content-type"}
    shaped = error_response(response.status_code, _title(response.status_code, body["Code"]), body["Message"])
    shaped.headers.update(headers)
    return shaped


def _gateway_body(status: int, method: str, path: str, body: bytes | None) -> bytes:
    try:
        message = json.loads(body or b"{}").get("message") or ""
    except (ValueError, AttributeError):
        message = ""
    if message == "Missing Authentication Token":
        message = f"{message}: no route for {method} {path.split('?')[0]} (API Gateway answers 403 here too)"
    detail = message or f"refused by the gateway with {status}"
    return json.dumps({"error": _title(status, None), "detail": detail}).encode()


def shape_local_gateway_errors() -> None:
    """Make the local gateway answer its own errors in our shape (once; nothing to do in Lambda)."""
    if settings().in_lambda:
        return
    try:
        from chalice import local
    except ImportError:  # a deployment package ships chalice.app alone
        return
    handle = local.LocalGateway.handle_request
    if getattr(handle, "shapes_errors", False):
        return

    @functools.wraps(handle)
    def handle_request(self, method, path, headers, body):
        try:
            return handle(self, method, path, headers, body)
        except local.LocalGatewayException as exc:
            exc.body = _gateway_body(exc.CODE, method, path, exc.body)
            exc.headers = {**(exc.headers or {}), "Content-Type": "application/json"}
            raise

    handle_request.shapes_errors = True
    local.LocalGateway.handle_request = handle_request
    handler = local.ChaliceRequestHandler
    # A method http.server has no do_<METHOD> for would be a 501 HTML page: the gateway answers these
    # instead, as API Gateway does (405 on a known path).
    for method in ("TRACE", "CONNECT", "QUERY"):
        setattr(handler, f"do_{method}", handler._generic_handle)
    # What http.server still refuses by itself (a malformed request line, headers too long) comes as JSON.
    handler.error_content_type = "application/json"
    handler.error_message_format = '{"error": "request refused", "detail": "%(code)d %(message)s: %(explain)s"}'
