"""The API Gateway side of access control on the synthesized templates: every refused key answered like
`chalice local` answers it, each client metered by its own key (key source AUTHORIZER, the plan named to
the authorizer), and the operator's policy for `clients` limited to this stage's usage keys."""

from __future__ import annotations

import json

import botocore.session
import pytest

from chalicelib.access import usage
from tests.cdk.template import STAGES, as_list, logical_id, only, resources, role_statements

# The statuses `chalice local` and the test client answer for these (tests/access/test_scopes_over_http.py).
REFUSED_KEYS = ("UNAUTHORIZED", "ACCESS_DENIED", "INVALID_API_KEY", "MISSING_AUTHENTICATION_TOKEN")


def rest_api(synthesis, stage: str) -> dict:
    return synthesis.templates[stage]["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]


@pytest.mark.parametrize("stage", STAGES)
def test_every_gateway_response_is_a_type_api_gateway_knows(synthesis, stage):
    known = set(botocore.session.get_session().get_service_model("apigateway").shape_for("GatewayResponseType").enum)
    responses = rest_api(synthesis, stage)["x-amazon-apigateway-gateway-responses"]
    assert set(responses) <= known, sorted(set(responses) - known)


@pytest.mark.parametrize("stage", STAGES)
def test_a_missing_unknown_or_unmetered_key_is_a_403_forbidden_as_under_chalice_local(synthesis, stage):
    responses = rest_api(synthesis, stage)["x-amazon-apigateway-gateway-responses"]
    for kind in REFUSED_KEYS:
        body = json.loads(
            responses[kind]["responseTemplates"]["application/json"].replace(
                "$context.error.messageString", json.dumps("Unauthorized")
            )
        )
        assert (responses[kind]["statusCode"], body) == ("403", {"error": "forbidden", "detail": "Unauthorized"}), kind


@pytest.mark.parametrize("stage", STAGES)
def test_api_gateway_meters_the_key_the_authorizer_names(synthesis, stage):
    assert rest_api(synthesis, stage)["x-amazon-apigateway-api-key-source"] == "AUTHORIZER"
    plan_id, _ = only(synthesis, stage, "AWS::ApiGateway::UsagePlan")
    functions = resources(synthesis, stage, "AWS::Serverless::Function")
    assert functions["ClientKey"]["Properties"]["Environment"]["Variables"]["METER_CLIENTS"] == "true"
    for name, function in functions.items():
        if name != "ClientKey":
            assert "METER_CLIENTS" not in function["Properties"].get("Environment", {}).get("Variables", {}), name
    synthesis.template(stage).has_output("UsagePlanId", {"Value": {"Ref": plan_id}})


@pytest.mark.parametrize("stage", STAGES)
def test_the_clients_admin_policy_reaches_this_plans_usage_keys_only(synthesis, stage):
    plan_id, _ = only(synthesis, stage, "AWS::ApiGateway::UsagePlan")
    policy_id, policy = only(synthesis, stage, "AWS::IAM::ManagedPolicy")
    synthesis.template(stage).has_output("ClientsAdminPolicyArn", {"Value": {"Ref": policy_id}})
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {
        "CreateUsageKeysTaggedWithThePlan",
        "DeleteUsageKeysOfThePlan",
        "PutAndFindKeysOnThePlan",
    }
    for statement in statements.values():
        assert statement["Effect"] == "Allow" and all(a.startswith("apigateway:") for a in as_list(statement["Action"]))
        assert "*" not in as_list(statement["Resource"])
    tagged = {"StringEquals": {f"aws:RequestTag/{usage.PLAN_TAG}": {"Ref": plan_id}}}
    assert statements["CreateUsageKeysTaggedWithThePlan"]["Condition"] == tagged
    assert statements["DeleteUsageKeysOfThePlan"]["Condition"] == {
        "StringEquals": {f"aws:ResourceTag/{usage.PLAN_TAG}": {"Ref": plan_id}}
    }
    on_plan = json.dumps(statements["PutAndFindKeysOnThePlan"]["Resource"])
    assert json.dumps({"Ref": plan_id}) in on_plan and on_plan.endswith('/keys"]]}')
    assert "Condition" not in statements["PutAndFindKeysOnThePlan"]


@pytest.mark.parametrize("stage", STAGES)
def test_the_authorizer_knows_the_auto_tester_by_the_stacks_key_metered_on_the_plan(synthesis, stage):
    """The auto-tester sends the stack's API key; the authorizer reads it from the same secret (read scope,
    chalicelib.access.clients.monitor) and names it as the usage key, which sits on the plan."""
    secret_id = logical_id(synthesis, stage, "AWS::SecretsManager::Secret", "KeyValue")
    authorizer = resources(synthesis, stage, "AWS::Serverless::Function")["ClientKey"]["Properties"]
    assert authorizer["Environment"]["Variables"]["API_KEY_SECRET_ARN"] == {"Ref": secret_id}
    statements = role_statements(synthesis, stage, authorizer["Role"]["Fn::GetAtt"][0])
    readable = [
        r for s in statements if "secretsmanager:GetSecretValue" in as_list(s["Action"]) for r in as_list(s["Resource"])
    ]
    assert {"Ref": secret_id} in readable
    key_id, key = only(synthesis, stage, "AWS::ApiGateway::ApiKey")
    assert secret_id in json.dumps(key["Properties"]["Value"])  # the key's value is the secret's
    _, plan_key = only(synthesis, stage, "AWS::ApiGateway::UsagePlanKey")
    assert plan_key["Properties"]["KeyId"] == {"Ref": key_id}
