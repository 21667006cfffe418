"""Reading requests: JSON bodies, batches of rows, whole numbers and pages; bad input is an ApiError (4xx).

Every JSON body goes through `json_body`, which accepts RFC 8259 JSON and nothing Python's parser would
let through beyond it: no NaN or Infinity, no number past what a column can hold or a float can carry,
no string that cannot be written as UTF-8 (a lone surrogate), no nesting deeper than any body needs.
Sizes are refused up front (413) before anything is parsed or written: `MAX_BODY_BYTES` for a body,
`MAX_ROW_BYTES` for one row of a batch.
"""

from __future__ import annotations

import json
import math
from typing import Any

from chalicelib.api.errors import ApiError
from chalicelib.rules.dictionary import MAX_BATCH_ROWS, MAX_INTEGER

MAX_PAGE = 1000
DEFAULT_PAGE = 100
# The content types of routes that take a JSON body (clients that send JSON as text are accepted too).
JSON_BODIES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]

# Lambda's synchronous payload limit: locally a body is refused where AWS would refuse it.
MAX_BODY_BYTES = 6 * 1024 * 1024
# A valid row is at most ~1.6 KB of JSON; far under MySQL's max_allowed_packet even for a whole batch's log.
MAX_ROW_BYTES = 16 * 1024
# Any key a table holds fits a signed 64-bit number (rejection-log ids are BIGINT).
MAX_CURSOR = 2**63 - 1
# 20 digits hold any 64-bit number; longer literals are refused before Python's int() sees them.
MAX_INTEGER_DIGITS = 20
# The deepest body any route takes is an object holding an array of scalars.
MAX_NESTING = 8


def _size(n: int) -> str:
    return f"{n:,} bytes ({n / 1024 / 1024:.1f} MiB)" if n >= 1024 * 1024 else f"{n:,} bytes"


def refuse_oversized_body(request: Any) -> None:
    """413 for a body over `MAX_BODY_BYTES`, before any route reads it."""
    size = len(request.raw_body or b"")
    if size > MAX_BODY_BYTES:
        raise ApiError(
            413,
            "payload too large",
            f"the body is {_size(size)}; the limit is {_size(MAX_BODY_BYTES)} (put bigger CSV files in S3 "
            "through POST /uploads/{table}/url)",
        )


def _invalid_json(detail: str) -> ApiError:
    return ApiError(400, "invalid JSON", detail)


def _constant(name: str) -> Any:
    raise _invalid_json(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise _invalid_json(f"a number of {digits} digits; numbers have at most {MAX_INTEGER_DIGITS}")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _invalid_json(f"the number {text[:40]} is out of range")
    return value


def _check_tree(body: Any) -> None:
    """Refuse nesting deeper than MAX_NESTING and strings (keys too) that are not valid Unicode text."""
    pending = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _invalid_json("a string holds a lone surrogate (\\ud800-\\udfff), which is not text") from None
        elif isinstance(value, (list, dict)):
            if depth > MAX_NESTING:
                raise _invalid_json(f"the body is nested deeper than {MAX_NESTING} levels")
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)


def json_body(request: Any) -> Any:
    """The request body as strict JSON (None for an empty body), or a 400."""
    raw = request.raw_body or b""
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid body", "the body is not UTF-8") from None
    try:
        body = json.loads(text, parse_constant=_constant, parse_int=_integer, parse_float=_float)
    except json.JSONDecodeError as exc:
        raise _invalid_json(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise _invalid_json(f"the body is nested deeper than {MAX_NESTING} levels") from None
    _check_tree(body)
    return body


def _row_bytes(row: dict) -> int:
    return len(json.dumps(row, ensure_ascii=False).encode("utf-8"))


def batch_rows(request: Any) -> list[dict]:
    """The body of a batch insert: a JSON array of 1 to 1000 objects, or a 400 (nothing is inserted); a
    row over `MAX_ROW_BYTES` is a 413 for the whole batch (nothing inserted, nothing logged)."""
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
    oversized = [i for i, row in enumerate(body) if _row_bytes(row) > MAX_ROW_BYTES]
    if oversized:
        raise ApiError(
            413,
            "row too large",
            f"rows at index {oversized[:10]} are over the limit of {_size(MAX_ROW_BYTES)} per row (as JSON)",
        )
    return body


def json_object(request: Any) -> dict:
    body = json_body(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "invalid body", "the body must be a JSON object")
    return body


def table_names(body: dict) -> list[str] | None:
    """The body's optional ``tables`` field: a list of table names (checked against the dictionary by the
    caller), None when absent; a 400 saying what is expected for anything else."""
    names = body.get("tables")
    if names is not None and not (isinstance(names, list) and all(isinstance(name, str) for name in names)):
        raise ApiError(400, "invalid request", 'tables must be a list of table names, e.g. ["departments", "jobs"]')
    return names


def optional_string(body: dict, field: str) -> str | None:
    """The body's optional string `field`, or a 400."""
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "invalid request", f"{field} must be a string")
    return value


def positive_int(value: Any, name: str, maximum: int = MAX_CURSOR) -> int:
    """A whole positive number written in ASCII digits, at most `maximum`, or a 400."""
    digits = value.lstrip("0") if isinstance(value, str) and value.isascii() and value.isdigit() else ""
    if not digits:
        shown = value if not isinstance(value, str) or len(value) <= 40 else f"{value[:40]}... ({len(value)} chars)"
        raise ApiError(400, f"invalid {name}", f"{name} must be a whole positive number, got {shown!r}")
    if len(digits) > MAX_INTEGER_DIGITS or int(digits) > maximum:
        shown = digits if len(digits) <= 40 else f"a number of {len(digits)} digits"
        raise ApiError(400, f"invalid {name}", f"{name} must be at most {maximum}, got {shown}")
    return int(digits)


def row_id(value: Any) -> int | None:
    """The id of a `/{table}/{id}` path, or a 400 when it is not a whole positive number; None when it is
    larger than any id a table can hold (no such row can exist: the caller answers 404 without a query)."""
    try:
        return positive_int(value, "id", MAX_INTEGER)
    except ApiError:
        if isinstance(value, str) and value.isascii() and value.isdigit() and value.strip("0"):
            return None
        raise


def page(request: Any) -> tuple[int, int]:
    """(after, limit) from ``?limit=&cursor=``: keyset pagination over ids."""
    params = request.query_params or {}
    limit = DEFAULT_PAGE
    if params.get("limit") is not None:
        limit = positive_int(params["limit"], "limit", MAX_PAGE)
    after = 0
    if params.get("cursor"):
        after = positive_int(params["cursor"], "cursor", MAX_CURSOR)
    return after, limit
