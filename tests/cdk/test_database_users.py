"""The database users in AWS: an app and an admin user, each with its own rotated secret, created by a
bootstrap custom resource from chalicelib.db.users; each role reads only the secrets it needs."""

from __future__ import annotations

import json

import pytest

from tests.cdk.template import API_FUNCTIONS, SETTINGS, STAGES, logical_id, resources, role_statements


def secrets_read_by(synthesis, stage: str, role_id: str) -> set[str]:
    return {
        resource["Ref"].rstrip("0123456789ABCDEF")
        for statement in role_statements(synthesis, stage, role_id)
        if "secretsmanager:GetSecretValue" in statement["Action"]
        for resource in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
        if isinstance(resource, dict) and "Ref" in resource
    }


MASTER, APP, ADMIN, API_KEY = (
    "DatabaseClusterSecretAttachment",
    "DatabaseUsersAppSecretAttachment",
    "DatabaseUsersAdminSecretAttachment",
    "AppAccessKeyValue",  # the stack's API key: the authorizer knows the auto-tester by it
)


@pytest.mark.parametrize("stage", STAGES)
def test_the_users_are_bootstrapped_from_chalicelib_as_the_master_through_the_proxy(synthesis, stage):
    [users] = resources(synthesis, stage, "Custom::DatabaseUsers").values()
    assert len(users["Properties"]["Definition"]) == 64  # the definition's hash: a change re-applies the grants
    function_id = logical_id(synthesis, stage, "AWS::Lambda::Function", "DatabaseUsersBootstrap")
    function = synthesis.templates[stage]["Resources"][function_id]["Properties"]
    assert function["Handler"] == "chalicelib.db.users.bootstrap"
    environment = function["Environment"]["Variables"]
    proxy_id = logical_id(synthesis, stage, "AWS::RDS::DBProxy", "Proxy")
    assert environment["DB_HOST"] == {"Fn::GetAtt": [proxy_id, "Endpoint"]}
    role_id = function["Role"]["Fn::GetAtt"][0]
    assert secrets_read_by(synthesis, stage, role_id) == {MASTER, APP, ADMIN}
    names = sorted(r["Properties"]["Name"] for r in resources(synthesis, stage, "AWS::SecretsManager::Secret").values())
    assert f"hr-migration-{stage}/db-admin" in names and f"hr-migration-{stage}/db-master" in names


@pytest.mark.parametrize("stage", STAGES)
def test_each_role_reads_only_the_secrets_it_needs(synthesis, stage):
    app_role = logical_id(synthesis, stage, "AWS::IAM::Role", "AppAppRole")
    loader_role = logical_id(synthesis, stage, "AWS::IAM::Role", "AppLoaderRole")
    glue_role = logical_id(synthesis, stage, "AWS::IAM::Role", "GlueRole")
    functions = resources(synthesis, stage, "AWS::Serverless::Function")
    # The scheduled functions share the app role: the app user's secret, never the admin's or the API key.
    for name in ("ScheduledBackup", "ScheduledPurge", "ScheduledCheck", "JobReaper"):
        assert functions[name]["Properties"]["Role"]["Fn::GetAtt"][0] == app_role, name
    assert secrets_read_by(synthesis, stage, app_role) == {APP}
    assert secrets_read_by(synthesis, stage, loader_role) == {APP}
    assert secrets_read_by(synthesis, stage, glue_role) == {APP}
    if not SETTINGS[stage].api_uses_data_api:  # else the Data API's grants (test_data_api_access.py)
        # The schema routes use the admin user; the authorizer reads the stack's API key.
        api_role, authorizer_role = (functions[n]["Properties"]["Role"]["Fn::GetAtt"][0] for n in API_FUNCTIONS)
        assert secrets_read_by(synthesis, stage, api_role) == {APP, ADMIN}
        assert secrets_read_by(synthesis, stage, authorizer_role) == {APP, API_KEY}
    assert "ADMIN_DB_SECRET_ARN" not in json.dumps(functions["S3Loader"]["Properties"].get("Environment", {}))
