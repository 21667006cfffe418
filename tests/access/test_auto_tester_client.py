"""The built-in `auto-tester` client: in AWS the auto-tester (and the smoke run after each deploy) sends
the stack's API key from Secrets Manager, and the authorizer knows it by that secret, with the `read`
scope only and the key itself as its usage key (the stack puts it on the usage plan)."""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib.access import clients
from chalicelib.runtime import settings as runtime
from chalicelib.runtime.settings import Settings
from tests.access.scenarios import encode, headers

STACK_KEY = "stack-api-key-0123456789abcdef"


@pytest.fixture
def stack_key(s3_bucket, monkeypatch):
    """The stack's key in a Secrets Manager secret (moto), named to the app as API_KEY_SECRET_ARN."""
    arn = boto3.client("secretsmanager").create_secret(Name="hr/api-key", SecretString=f"{STACK_KEY}\n")["ARN"]
    monkeypatch.setenv("API_KEY_SECRET_ARN", arn)
    runtime.forget_secrets()
    yield arn
    runtime.forget_secrets()


def call(client, method, path, key, body=None):
    response = client.http.request(method, path, headers=headers(key, "application/json"), body=encode(body))
    return response.status_code, json.loads(response.body) if response.body else None


def test_the_stacks_key_is_the_auto_tester_reading_and_metered_on_itself(stack_key, db):
    found = clients.resolve(db, Settings.from_env({"API_KEY_SECRET_ARN": stack_key}), STACK_KEY)
    assert found == clients.Client(clients.MONITOR, ("read",), usage_key=STACK_KEY)
    assert clients.resolve(db, Settings.from_env({"API_KEY_SECRET_ARN": stack_key}), STACK_KEY[:-1]) is None
    assert clients.resolve(db, Settings.from_env({}), STACK_KEY) is None  # no secret named: no such client


def test_the_auto_tester_reads_reports_and_rows_and_may_not_write(stack_key, client):
    assert call(client, "GET", "/hired_employees_2021", STACK_KEY)[0] == 200
    assert call(client, "GET", "/hired_employees_2021_quarters", STACK_KEY)[0] == 200
    assert call(client, "GET", "/departments", STACK_KEY)[0] == 200
    status, body = call(client, "POST", "/departments", STACK_KEY, [{"id": 1, "department": "Sales"}])
    assert status == 403 and body["error"] == "forbidden"
    assert call(client, "POST", "/admin/schema", STACK_KEY, {})[0] == 403
    assert call(client, "GET", "/departments", "not-the-stack-key")[0] == 403


def test_the_name_is_reserved_for_the_built_in_client(db):
    with pytest.raises(clients.ClientError, match="auto-tester"):
        clients.add(db, clients.MONITOR, "read")


def test_when_the_secret_cannot_be_read_that_key_is_refused_and_the_others_still_work(s3_bucket, db, monkeypatch):
    name_key = clients.add(db, "reports", "read")[1]
    missing = Settings.from_env({"API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone"})
    runtime.forget_secrets()
    assert clients.resolve(db, missing, STACK_KEY) is None
    assert clients.resolve(db, missing, name_key).name == "reports"
