"""HTTP concerns shared by the routes: parsing requests, shaping responses, mapping errors.

Every error is JSON ``{"error": ..., "detail": ...}``; bad input is a 4xx, an unavailable database a
503, and nothing else ever shows a stack trace.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib import db as databases
from chalicelib.backups.service import BackupError
from chalicelib.rules.dictionary import MAX_BATCH_ROWS, UnknownTable
from chalicelib.runtime.log import logger
from chalicelib.runtime.settings import ConfigurationError, Settings

MAX_PAGE = 1000
DEFAULT_PAGE = 100
PUBLIC_ROUTES = frozenset({"/status"})
# Pages a person opens in a browser, which cannot send a header: the key may come as ?api_key= there.
# Only for the app's own check (local, tests); in AWS API Gateway reads the x-api-key header only.
QUERY_KEY_ROUTES = frozenset({"/reports"})


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: Any = None):
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False, default=str),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def error_response(status: int, error: str, detail: Any = None) -> Response:
    return json_response({"error": error, "detail": detail}, status)


def handles_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure of a view into a JSON error response with the right status."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            result = view(*args, **kwargs)
        except ApiError as exc:
            return error_response(exc.status, exc.error, exc.detail)
        except UnknownTable as exc:
            return error_response(404, "unknown table", str(exc))
        except databases.ReferencedRow as exc:
            return error_response(409, "row is referenced", str(exc))
        except BackupError as exc:
            return error_response(exc.status, exc.error, exc.detail)
        except (databases.DatabaseError, databases.InvalidDatabaseUrl, ConfigurationError) as exc:
            logger.error("database unavailable", extra={"detail": str(exc)})
            return error_response(503, "database unavailable", str(exc))
        except Exception:
            logger.exception("unhandled error")
            return error_response(500, "internal error", "the error was logged")
        return result if isinstance(result, Response) else json_response(result)

    return wrapper


def settings() -> Settings:
    return Settings.from_env()


def database() -> databases.Database:
    return databases.for_url(settings().database_url)


def admin_database() -> databases.Database:
    """The database as the admin user: only the schema routes use it (the app user has data rights only)."""
    return databases.for_url(settings().admin_database_url)


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


def paged(items: list, limit: int, last_key: Callable[[Any], int]) -> dict:
    return {"items": items, "next_cursor": str(last_key(items[-1])) if len(items) == limit else None}


def batch_status(inserted: int, unchanged: int, rejected: int) -> int:
    """201 all stored (or identical no-ops), 207 some rejected, 422 all rejected."""
    if not rejected:
        return 201
    return 207 if inserted or unchanged else 422
