"""`apiDatabaseAccess`: in "data-api" stages the API's functions run outside the VPC on the RDS Data API,
granted it on the cluster only; in "vpc" stages nothing of it is deployed. cdk.json keeps a stage of each."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "cdk"))
from hr_infra.database import DATA_API_ACTIONS, ENGINE_VERSION, check_data_api_engine
from hr_infra.database_users import APP_USER
from hr_infra.settings import StageSettings
from tests.cdk.template import (
    API_FUNCTIONS,
    CONTEXT,
    SETTINGS,
    STAGES,
    as_list,
    logical_id,
    only,
    resources,
    role_statements,
)

DATA_API_STAGES = [s for s in STAGES if SETTINGS[s].api_uses_data_api]
VPC_STAGES = [s for s in STAGES if not SETTINGS[s].api_uses_data_api]
# Functions that stay in the VPC on pymysql whatever the setting: LOAD DATA (loader, worker), long scans.
BULK_FUNCTIONS = ("S3Loader", "JobWorker", "ScheduledBackup", "JobReaper", "ScheduledPurge", "ScheduledCheck")
APP_SECRET, ADMIN_SECRET = "DatabaseUsersAppSecretAttachment", "DatabaseUsersAdminSecretAttachment"


def test_cdk_json_keeps_a_stage_of_each_mode_so_synthesis_covers_both():
    assert DATA_API_STAGES == ["dev"] and VPC_STAGES == ["prod"]


def test_the_setting_defaults_to_the_vpc_and_refuses_other_values():
    raw = {k: v for k, v in CONTEXT["prod"].items() if k != "apiDatabaseAccess"}
    assert StageSettings.from_context("prod", raw).api_database_access == "vpc"
    with pytest.raises(ValueError, match="apiDatabaseAccess must be one of \\['vpc', 'data-api'\\]"):
        StageSettings.from_context("prod", {**raw, "apiDatabaseAccess": "http"})


def test_synthesis_refuses_the_data_api_on_an_engine_without_it():
    check_data_api_engine(ENGINE_VERSION.aurora_mysql_full_version)  # the cluster's engine has it
    check_data_api_engine("8.0.mysql_aurora.3.07.0")
    for version in ("8.0.mysql_aurora.3.06.1", "5.7.mysql_aurora.2.12.3"):
        with pytest.raises(ValueError, match="from version 3.07 on.*'vpc'"):
            check_data_api_engine(version)


def functions(synthesis, stage: str) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in resources(synthesis, stage, "AWS::Serverless::Function").items()}


def cluster_arn(synthesis, stage: str) -> dict:
    cluster_id, _ = only(synthesis, stage, "AWS::RDS::DBCluster")
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":rds:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":cluster:",
                {"Ref": cluster_id},
            ],
        ]
    }


def secret_id(synthesis, stage: str, prefix: str) -> str:
    return logical_id(synthesis, stage, "AWS::SecretsManager::SecretTargetAttachment", prefix)


def data_api_url(synthesis, stage: str, secret_prefix: str) -> dict:
    first, *rest = cluster_arn(synthesis, stage)["Fn::Join"][1]
    secret = {"Ref": secret_id(synthesis, stage, secret_prefix)}
    return {"Fn::Join": ["", [f"rds-data://{first}", *rest, "/hr?secret=", secret]]}


def role_of(function: dict) -> str:
    return function["Role"]["Fn::GetAtt"][0]


def allowed(statements: list[dict], prefix: str) -> list[tuple[str, object]]:
    """(action, resource) pairs of `statements` for actions starting with `prefix`."""
    return [
        (action, resource)
        for s in statements
        if s["Effect"] == "Allow"
        for action in as_list(s["Action"])
        if action.startswith(prefix)
        for resource in as_list(s["Resource"])
    ]


@pytest.mark.parametrize("stage", DATA_API_STAGES)
def test_data_api_stage_enables_the_data_api_on_its_cluster(synthesis, stage):
    _, cluster = only(synthesis, stage, "AWS::RDS::DBCluster")
    assert cluster["Properties"]["EnableHttpEndpoint"] is True
    # What an operator needs for the CLI's --database rds-data://<arn>/hr?secret=<DbSecretArn>.
    assert synthesis.templates[stage]["Outputs"]["DbClusterArn"]["Value"] == cluster_arn(synthesis, stage)
    # The RDS Proxy stays: the bulk functions, the Glue jobs and the users' bootstrap still connect through it.
    only(synthesis, stage, "AWS::RDS::DBProxy")


@pytest.mark.parametrize("stage", DATA_API_STAGES)
def test_api_functions_run_outside_the_vpc_told_the_data_api_url_of_the_app_user(synthesis, stage):
    found = functions(synthesis, stage)
    for name in API_FUNCTIONS:
        function = found[name]
        assert "VpcConfig" not in function, name
        variables = function["Environment"]["Variables"]
        assert variables["DATABASE_URL"] == data_api_url(synthesis, stage, APP_SECRET), name
        assert not {"DB_SECRET_ARN", "DB_HOST", "DB_NAME", "ADMIN_DB_SECRET_ARN"} & set(variables), name
    handler = found["APIHandler"]["Environment"]["Variables"]
    assert handler["ADMIN_DATABASE_URL"] == data_api_url(synthesis, stage, ADMIN_SECRET)  # /admin/schema only
    authorizer = found["ClientKey"]["Environment"]["Variables"]
    assert not {"ADMIN_DATABASE_URL", "DATA_BUCKET"} & set(authorizer)  # it reads the clients, nothing else


@pytest.mark.parametrize("stage", DATA_API_STAGES)
def test_the_data_api_secret_logs_in_as_the_least_privileged_app_user(synthesis, stage):
    app_secret = logical_id(synthesis, stage, "AWS::SecretsManager::Secret", "DatabaseUsersAppSecret")
    generator = synthesis.templates[stage]["Resources"][app_secret]["Properties"]["GenerateSecretString"]
    # {"username": "hr_app", "masterarn": <the master secret, which the multi-user rotation logs in with>}
    first, master, last = generator["SecretStringTemplate"]["Fn::Join"][1]
    template = json.loads(first + "master-secret-arn" + last)
    assert template["username"] == APP_USER == "hr_app"
    assert master["Ref"].startswith("DatabaseClusterSecretAttachment")
    attachment = synthesis.templates[stage]["Resources"][secret_id(synthesis, stage, APP_SECRET)]
    assert attachment["Properties"]["SecretId"] == {"Ref": app_secret}


@pytest.mark.parametrize("stage", DATA_API_STAGES)
def test_api_roles_may_call_the_data_api_on_that_cluster_and_read_their_users_secrets_only(synthesis, stage):
    found = functions(synthesis, stage)
    app_role = logical_id(synthesis, stage, "AWS::IAM::Role", "AppAppRole")
    expected_secrets = {
        "APIHandler": {secret_id(synthesis, stage, APP_SECRET), secret_id(synthesis, stage, ADMIN_SECRET)},
        # ... and the stack's API key, by which the authorizer knows the auto-tester (read scope).
        "ClientKey": {
            secret_id(synthesis, stage, APP_SECRET),
            logical_id(synthesis, stage, "AWS::SecretsManager::Secret", "KeyValue"),
        },
    }
    roles = {role_of(found[name]) for name in API_FUNCTIONS}
    assert len(roles) == 2 and app_role not in roles  # one role each, neither the bulk functions' role
    for name in API_FUNCTIONS:
        statements = role_statements(synthesis, stage, role_of(found[name]))
        data_api = allowed(statements, "rds-data:")
        assert sorted(action for action, _ in data_api) == sorted(DATA_API_ACTIONS), name
        assert set(DATA_API_ACTIONS) == {
            "rds-data:ExecuteStatement",
            "rds-data:BatchExecuteStatement",
            "rds-data:BeginTransaction",
            "rds-data:CommitTransaction",
            "rds-data:RollbackTransaction",
        }
        assert all(resource == cluster_arn(synthesis, stage) for _, resource in data_api), name
        secrets = allowed(statements, "secretsmanager:")
        assert {action for action, _ in secrets} == {"secretsmanager:GetSecretValue"}, name
        assert {resource["Ref"] for _, resource in secrets} == expected_secrets[name], name
        # Outside the VPC: no network interfaces; no RDS Proxy or IAM database login either.
        assert allowed(statements, "ec2:") == [] and allowed(statements, "rds-db:") == [], name


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_api_roles_of_a_data_api_stage_may_call_the_data_api(synthesis, stage):
    callers = {
        policy["Properties"]["Roles"][0]["Ref"]
        for policy in resources(synthesis, stage, "AWS::IAM::Policy").values()
        if allowed(as_list(policy["Properties"]["PolicyDocument"]["Statement"]), "rds-data:")
    }
    found = functions(synthesis, stage)
    expected = {role_of(found[name]) for name in API_FUNCTIONS} if SETTINGS[stage].api_uses_data_api else set()
    assert callers == expected


@pytest.mark.parametrize("stage", STAGES)
def test_bulk_functions_stay_in_the_vpc_on_pymysql_through_the_proxy(synthesis, stage):
    found = functions(synthesis, stage)
    proxy_id, _ = only(synthesis, stage, "AWS::RDS::DBProxy")
    for name in BULK_FUNCTIONS:
        assert found[name]["VpcConfig"]["SubnetIds"], name
        variables = found[name]["Environment"]["Variables"]
        assert variables["DB_HOST"] == {"Fn::GetAtt": [proxy_id, "Endpoint"]}, name
        assert "DATABASE_URL" not in variables, name
        statements = role_statements(synthesis, stage, role_of(found[name]))
        assert allowed(statements, "ec2:CreateNetworkInterface"), name


@pytest.mark.parametrize("stage", VPC_STAGES)
def test_vpc_stage_deploys_nothing_of_the_data_api(synthesis, stage):
    _, cluster = only(synthesis, stage, "AWS::RDS::DBCluster")
    assert "EnableHttpEndpoint" not in cluster["Properties"]
    assert "DbClusterArn" not in synthesis.templates[stage]["Outputs"]
    found = functions(synthesis, stage)
    app_role = logical_id(synthesis, stage, "AWS::IAM::Role", "AppAppRole")
    roles = {role_of(found[name]) for name in API_FUNCTIONS}
    assert len(roles) == 2 and app_role not in roles  # in the VPC too, one role each, not the app role
    for name in API_FUNCTIONS:
        assert found[name]["VpcConfig"]["SubnetIds"], name
        assert allowed(role_statements(synthesis, stage, role_of(found[name])), "ec2:CreateNetworkInterface"), name
        assert "DATABASE_URL" not in found[name]["Environment"]["Variables"], name
    assert "rds-data" not in json.dumps(synthesis.templates[stage])
