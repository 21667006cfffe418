"""Reading requests: JSON bodies, batches of rows, whole numbers and pages; bad input is an ApiError (400)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.api.errors import ApiError
from chalicelib.rules.dictionary import MAX_BATCH_ROWS

MAX_PAGE = 1000
DEFAULT_PAGE = 100
# The content types of routes that take a JSON body (clients that send JSON as text are accepted too).
JSON_BODIES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]


def json_body(request: Any) -> Any:
    """The request body as JSON (None for an empty body), or a 400."""
    raw = request.raw_body or b""
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "invalid body", "the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid JSON", f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None


def batch_rows(request: Any) -> list[dict]:
    """The body of a batch insert: a JSON array of 1 to 1000 objects, or a 400 (nothing is inserted)."""
    body = json_body(request)
    if not isinstance(body, list):
        raise ApiError(400, "invalid batch", "the body must be a JSON array of row objects")
    if not body:
        raise ApiError(400, "invalid batch", "the batch is empty; send 1 to 1000 rows")
    if len(body) > MAX_BATCH_ROWS:
        raise ApiError(400, "invalid batch", f"the batch has {len(body)} rows; send at most {MAX_BATCH_ROWS}")
    not_objects = [i for i, item in enumerate(body) if not isinstance(item, dict)]
    if not_objects:
        raise ApiError(400, "invalid batch", f"items must be JSON objects; not objects at index {not_objects[:10]}")
    return body


def json_object(request: Any) -> dict:
    body = json_body(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "invalid body", "the body must be a JSON object")
    return body


def positive_int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"invalid {name}", f"{name} must be a whole positive number, got {value!r}") from None
    if number <= 0:
        raise ApiError(400, f"invalid {name}", f"{name} must be a whole positive number, got {value!r}")
    return number


def page(request: Any) -> tuple[int, int]:
    """(after, limit) from ``?limit=&cursor=``: keyset pagination over ids."""
    params = request.query_params or {}
    limit = DEFAULT_PAGE
    if params.get("limit") is not None:
        limit = positive_int(params["limit"], "limit")
        if limit > MAX_PAGE:
            raise ApiError(400, "invalid limit", f"limit must be at most {MAX_PAGE}")
    after = 0
    if params.get("cursor"):
        after = positive_int(params["cursor"], "cursor")
    return after, limit
