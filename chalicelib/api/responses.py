"""Shaping answers: JSON responses, pages of items and the status of a batch."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice import Response


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False, default=str),
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
