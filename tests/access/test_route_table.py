"""The route -> scope table against the app's routes, and the authorizer's policies."""

from __future__ import annotations

from chalice.app import AuthRequest

import app as app_module
from chalicelib.access.scopes import PUBLIC_ROUTES, ROUTE_SCOPES, scope_for
from chalicelib.api import access

ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc/api/GET/departments"


def test_every_route_that_is_not_a_get_is_in_the_table_and_every_entry_is_a_route():
    routes = {(m, path) for path, methods in app_module.app.routes.items() for m in methods}
    assert {r for r in routes if r[0] != "GET" and r[1] not in PUBLIC_ROUTES} <= set(ROUTE_SCOPES)
    assert set(ROUTE_SCOPES) <= routes


def test_every_route_but_status_has_the_authorizer():
    for path, methods in app_module.app.routes.items():
        for method, entry in methods.items():
            assert (entry.authorizer is None) == (path in PUBLIC_ROUTES), (method, path)
            assert entry.authorizer is None or entry.authorizer.config.header == "x-api-key"


def test_an_unknown_route_needs_admin_unless_it_is_a_get():
    assert scope_for("PATCH", "/something/new") == "admin" and scope_for("GET", "/something/new") == "read"


def test_the_bootstrap_key_gets_every_route_and_an_unknown_key_an_explicit_deny(monkeypatch, tmp_path):
    monkeypatch.setenv("API_KEY", "local-key")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'hr.db'}")
    allowed = access.policy(AuthRequest("TOKEN", "local-key", ARN), app_module.app.routes)
    assert allowed["principalId"] == "bootstrap" and allowed["context"]["scopes"] == "admin"
    resources = allowed["policyDocument"]["Statement"][0]["Resource"]
    assert "arn:aws:execute-api:eu-west-1:123456789012:abc/api/DELETE/admin/schema" in resources
    assert not any(r.endswith("/status") for r in resources)
    denied = access.policy(AuthRequest("TOKEN", "other", ARN), app_module.app.routes)
    assert denied["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [ARN]}
    ]


def test_the_bootstrap_key_is_refused_in_lambda(monkeypatch, tmp_path):
    monkeypatch.setenv("API_KEY", "local-key")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "hr-authorizer")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'hr.db'}")
    denied = access.policy(AuthRequest("TOKEN", "local-key", ARN), app_module.app.routes)
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"
