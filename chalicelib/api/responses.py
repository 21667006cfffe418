"""Shaping answers: JSON responses, pages of items and the status of a batch."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from chalice import Response


def _finite(value: Any) -> Any:
    """`value` with every non-finite float written as the string a client would have sent."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def json_text(body: Any) -> str:
    """`body` as strict RFC 8259 JSON: never a bare NaN or Infinity, never a string UTF-8 cannot carry."""
    try:
        text = json.dumps(body, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:  # a non-finite float from stored or computed data
        text = json.dumps(_finite(body), ensure_ascii=False, default=str, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate stored before input refused them: escape it
        text = json.dumps(_finite(body), ensure_ascii=True, default=str, allow_nan=False)
    return text


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        body=json_text(body),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def paged(items: list, limit: int, last_key: Callable[[Any], int]) -> dict:
    return {"items": items, "next_cursor": str(last_key(items[-1])) if len(items) == limit else None}


def batch_status(inserted: int, unchanged: int, rejected: int) -> int:
    """201 all stored (or identical no-ops), 207 some rejected, 422 all rejected."""
    if not rejected:
        return 201
    return 207 if inserted or unchanged else 422
