"""The OpenAPI document: generated from the routes, committed in docs/, served, and valid OpenAPI 3."""

from __future__ import annotations

import json
from pathlib import Path

from openapi_spec_validator import validate

import app as app_module
from chalicelib.api import openapi

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_document_is_the_generated_one():
    committed = (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert committed == openapi.document_text(app_module.app.routes), "run `make openapi` and commit docs/openapi.json"


def test_every_route_of_the_app_is_an_operation_of_the_document():
    paths = openapi.document(app_module.app.routes)["paths"]
    routes = {(path, method.lower()) for path, methods in app_module.app.routes.items() for method in methods}
    operations = {(path, method) for path, methods in paths.items() for method in methods}
    assert routes == operations


def test_the_document_is_valid_openapi_3():
    validate(openapi.document(app_module.app.routes))


def test_the_document_is_served_with_the_key_and_refused_without(client, headers):
    served = client.http.get("/openapi.json", headers=headers)
    assert served.status_code == 200
    assert json.loads(served.body) == openapi.document(app_module.app.routes)
    assert client.http.get("/openapi.json").status_code == 403


def test_a_route_without_a_description_cannot_be_documented():
    routes = {
        "/new": {"GET": type("Entry", (), {"view_name": "undescribed", "view_args": [], "api_key_required": True})}
    }
    try:
        openapi.document(routes)
    except KeyError as exc:
        assert "undescribed" in str(exc)
    else:
        raise AssertionError("an undescribed route was documented")
