"""What every answer of the API must be: strict JSON (RFC 8259), and errors shaped {"error", "detail"}."""

from __future__ import annotations

import json
from typing import Any


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(body: bytes | str) -> Any:
    """The body parsed as RFC 8259 JSON: NaN, Infinity and -Infinity are refused."""
    return json.loads(body, parse_constant=_refuse_constant)


def assert_error_body(response: Any, statuses: range | tuple[int, ...] = range(400, 500)) -> dict:
    """The response is an error with a status in `statuses` and a strict-JSON {"error", "detail"} body."""
    assert response.status_code in statuses, (response.status_code, response.body[:500])
    body = strict_json(response.body)
    assert isinstance(body, dict) and set(body) == {"error", "detail"}, body
    assert body["error"] and body["detail"], body
    return body
