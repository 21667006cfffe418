"""Each client metered by its own API Gateway key on the stage's usage plan (moto for API Gateway)."""

from __future__ import annotations

import uuid

import pytest
from chalice.app import AuthRequest

import app as app_module
from chalicelib import db as databases
from chalicelib.access import clients, usage
from chalicelib.api import access
from chalicelib.runtime.settings import ConfigurationError, Settings
from tests.access.cli import NO_BOOTSTRAP, run

ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc/api/GET/departments"


@pytest.fixture
def apigateway(s3_bucket, monkeypatch):
    """API Gateway on moto (conftest's s3_bucket: fake credentials, moto on) with a usage plan, which
    USAGE_PLAN_ID names as it does for the CLI of a deployed stage."""
    import boto3

    client = boto3.client("apigateway")
    client.plan_id = client.create_usage_plan(name="hr-migration-test")["id"]
    monkeypatch.setenv("USAGE_PLAN_ID", client.plan_id)
    return client


def usage_keys(apigateway) -> dict[str, dict]:
    """The API keys that still exist, by name (moto keeps a deleted key's plan entry: ask for the key)."""
    return {key["name"]: key for key in apigateway.get_api_keys(includeValues=True)["items"]}


def test_clients_add_makes_the_clients_own_usage_key_on_the_plan(database_url, apigateway, capsys, monkeypatch):
    name = f"reports-{uuid.uuid4().hex[:8]}"
    code, lines = run(database_url, capsys, "clients", "add", name, "--scope", "read")
    assert code == 0 and f"usage plan {apigateway.plan_id}" in lines[1]
    key = usage_keys(apigateway)[name]
    assert key["enabled"] is True and len(key["value"]) >= 20 and key["tags"] == {"usage-plan": apigateway.plan_id}
    (on_plan,) = apigateway.get_usage_plan_keys(usagePlanId=apigateway.plan_id)["items"]
    assert (on_plan["id"], on_plan["type"]) == (key["id"], "API_KEY")

    # The authorizer names it to API Gateway, which meters the call on the plan (key source AUTHORIZER).
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("METER_CLIENTS", "true")
    answer = access.policy(AuthRequest("TOKEN", lines[-1], ARN), app_module.app.routes)
    assert answer["principalId"] == name and answer["usageIdentifierKey"] == key["value"]
    assert key["value"] != lines[-1]  # the usage key identifies the client; the secret is its x-api-key

    code, lines = run(database_url, capsys, "clients", "list")
    assert f"{name}\tread\t1 valid key(s)\tmetered" in lines


def test_rotate_keeps_the_usage_key_and_revoke_deletes_it(database_url, apigateway, capsys):
    name = f"hr-system-{uuid.uuid4().hex[:8]}"
    assert run(database_url, capsys, "clients", "add", name, "--scope", "write")[0] == 0
    before = usage_keys(apigateway)[name]
    assert run(database_url, capsys, "clients", "rotate", name)[0] == 0
    assert usage_keys(apigateway)[name] == before

    code, lines = run(database_url, capsys, "clients", "revoke", name)
    assert code == 0 and "deleted from API Gateway" in lines[-1]
    assert name not in usage_keys(apigateway)


def test_a_client_added_without_a_plan_gets_its_usage_key_on_rotate(database_url, apigateway, capsys, monkeypatch):
    name = f"older-{uuid.uuid4().hex[:8]}"
    monkeypatch.delenv("USAGE_PLAN_ID")
    code, lines = run(database_url, capsys, "clients", "add", name, "--scope", "read")
    assert code == 0 and lines[1].startswith("not metered") and name not in usage_keys(apigateway)
    code, lines = run(database_url, capsys, "clients", "--usage-plan", apigateway.plan_id, "rotate", name)
    assert code == 0 and name in usage_keys(apigateway)
    db = databases.connect(database_url)
    assert clients.resolve(db, NO_BOOTSTRAP, lines[-1]).usage_key == usage_keys(apigateway)[name]["value"]


def test_when_api_gateway_refuses_no_client_is_stored_and_no_key_is_left(database_url, apigateway, capsys, monkeypatch):
    from botocore.exceptions import ClientError

    def refuse(**kwargs):  # e.g. an operator whose policy lacks the plan: refused after the key was made
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not on this plan"}}, "CreateUsagePlanKey"
        )

    apigateway.meta.events.register("before-call.api-gateway.CreateUsagePlanKey", refuse)
    monkeypatch.setattr(usage, "_apigateway", lambda client=None: apigateway)
    name = f"nowhere-{uuid.uuid4().hex[:8]}"
    code, lines = run(database_url, capsys, "clients", "add", name, "--scope", "read")
    assert code == 1 and "did not put" in lines[-1] and "AccessDeniedException" in lines[-1]
    assert name not in usage_keys(apigateway)
    assert all(c["name"] != name for c in clients.listing(databases.connect(database_url)))


def test_a_failed_insert_deletes_the_usage_key_it_made(database_url, apigateway, monkeypatch):
    db = databases.connect(database_url)
    name = f"raced-{uuid.uuid4().hex[:8]}"

    def lost_the_race(*args):  # another operator added the same name meanwhile
        return False

    monkeypatch.setattr(clients.table, "insert_client", lost_the_race)
    with pytest.raises(clients.ClientError, match="exists already"):
        clients.add(db, name, "read", usage_plan_id=apigateway.plan_id)
    assert name not in usage_keys(apigateway)


def test_where_clients_are_metered_the_authorizer_refuses_an_unmetered_client_and_says_why(
    database_url, apigateway, monkeypatch, caplog
):
    db = databases.connect(database_url)
    name = f"unmetered-{uuid.uuid4().hex[:8]}"
    _, key = clients.add(db, name, "read")  # no plan given: no usage key
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("USAGE_PLAN_ID")
    monkeypatch.setenv("METER_CLIENTS", "true")  # what the CDK stage tells its authorizer
    denied = access.policy(AuthRequest("TOKEN", key, ARN), app_module.app.routes)
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny" and "usageIdentifierKey" not in denied
    (warning,) = [r for r in caplog.records if "no usage key" in r.getMessage()]
    assert warning.levelname == "WARNING" and warning.client == name
    monkeypatch.delenv("METER_CLIENTS")  # a stage that meters nothing (locally) lets it in
    assert access.policy(AuthRequest("TOKEN", key, ARN), app_module.app.routes)["principalId"] == name


def test_usage_keys_are_random_and_long_enough_for_api_gateway(apigateway):
    values = {usage.create(apigateway.plan_id, f"c{i}", apigateway) for i in range(3)}
    assert len(values) == 3 and all(len(v) >= 20 for v in values)


def test_meter_clients_is_a_yes_or_no():
    assert Settings.from_env({"METER_CLIENTS": "true"}).meter_clients is True
    assert Settings.from_env({"USAGE_PLAN_ID": "abc123"}).meter_clients is False  # the CLI's, not the authorizer's
    with pytest.raises(ConfigurationError, match="METER_CLIENTS"):
        Settings.from_env({"METER_CLIENTS": "maybe"})
