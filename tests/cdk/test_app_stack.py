"""The synthesized stacks' Chalice app: its API, keys, logs, environment, schedules and packages."""

from __future__ import annotations

import json
import zipfile

import pytest

from tests.cdk.template import (
    SETTINGS,
    STAGES,
    as_list,
    data_bucket,
    in_vpc,
    logical_id,
    only,
    resources,
    role_statements,
)

# -- the Chalice app -------------------------------------------------------------------------------


def swagger(synthesis, stage) -> dict:
    return synthesis.templates[stage]["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]


@pytest.mark.parametrize("stage", STAGES)
def test_every_route_but_status_requires_the_api_key(synthesis, stage):
    paths = swagger(synthesis, stage)["paths"]
    assert "/status" in paths
    for path, methods in paths.items():
        for method, operation in methods.items():
            if method == "options":
                continue
            secured = {"api_key": []} in operation.get("security", [])
            assert secured is (path != "/status"), f"{method.upper()} {path}"
    assert swagger(synthesis, stage)["securityDefinitions"]["api_key"]["in"] == "header"


@pytest.mark.parametrize("stage", STAGES)
def test_api_key_value_comes_from_secrets_manager_and_sits_on_a_throttled_usage_plan(synthesis, stage):
    settings = SETTINGS[stage]
    key_id, key = only(synthesis, stage, "AWS::ApiGateway::ApiKey")
    secret_id = logical_id(synthesis, stage, "AWS::SecretsManager::Secret", f"KeyValue{settings.api_key_generation}")
    assert key["Properties"]["Enabled"] is True
    assert json.dumps(key["Properties"]["Value"]).count(secret_id) == 1
    assert "{{resolve:secretsmanager:" in json.dumps(key["Properties"]["Value"])
    generator = synthesis.templates[stage]["Resources"][secret_id]["Properties"]["GenerateSecretString"]
    assert generator["ExcludePunctuation"] is True and generator["PasswordLength"] >= 20
    plan_id, plan = only(synthesis, stage, "AWS::ApiGateway::UsagePlan")
    assert plan["Properties"]["Throttle"] == {
        "BurstLimit": settings.api_throttle_burst,
        "RateLimit": settings.api_throttle_rate_per_second,
    }
    assert plan["Properties"]["Quota"] == {"Limit": settings.api_quota_per_day, "Period": "DAY"}
    assert plan["Properties"]["ApiStages"] == [{"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}]
    _, plan_key = only(synthesis, stage, "AWS::ApiGateway::UsagePlanKey")
    assert plan_key["Properties"] == {"KeyId": {"Ref": key_id}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": plan_id}}


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_logs_to_a_group_with_retention(synthesis, stage):
    functions = resources(synthesis, stage, "AWS::Serverless::Function")
    groups = resources(synthesis, stage, "AWS::Logs::LogGroup").values()
    named = {json.dumps(g["Properties"].get("LogGroupName")): g for g in groups}
    for name in functions:
        group = named.get(json.dumps({"Fn::Join": ["", ["/aws/lambda/", {"Ref": name}]]}))
        assert group is not None, f"no log group for {name}"
        assert group["Properties"]["RetentionInDays"] == SETTINGS[stage].log_retention_days
    for group in groups:
        assert "RetentionInDays" in group["Properties"], group["Properties"].get("LogGroupName")


@pytest.mark.parametrize("stage", STAGES)
def test_api_access_is_logged_as_json_to_a_group_with_retention(synthesis, stage):
    api = synthesis.templates[stage]["Resources"]["RestAPI"]
    setting = api["Properties"]["AccessLogSetting"]
    group_id = setting["DestinationArn"]["Fn::GetAtt"][0]
    group = synthesis.templates[stage]["Resources"][group_id]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == SETTINGS[stage].log_retention_days
    assert json.loads(setting["Format"])["requestId"] == "$context.requestId"
    assert {"status", "apiKeyId", "latencyMs"} <= set(json.loads(setting["Format"]))
    # API Gateway's account-level logging role, set before the API's stage is.
    assert SETTINGS[stage].api_gateway_account_role
    account_id, account = only(synthesis, stage, "AWS::ApiGateway::Account")
    assert account_id in as_list(api.get("DependsOn", []))
    role = synthesis.templates[stage]["Resources"][account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }
    assert "AmazonAPIGatewayPushToCloudWatchLogs" in json.dumps(role["Properties"]["ManagedPolicyArns"])


@pytest.mark.parametrize("stage", STAGES)
def test_functions_get_the_stage_environment(synthesis, stage):
    functions = resources(synthesis, stage, "AWS::Serverless::Function")
    for name, function in functions.items():
        if name == "AutoTester" or not in_vpc(stage, name):  # see test_data_api_access.py for the others
            continue
        variables = function["Properties"]["Environment"]["Variables"]
        assert set(variables) >= {"DB_SECRET_ARN", "DB_HOST", "DB_NAME"}
        if name == "ClientKey":  # the authorizer reads the clients, never a file
            assert not {"DATA_BUCKET", "LOADER_MAX_BYTES", "GLUE_LOAD_JOB"} & set(variables)
            continue
        assert variables["DATA_BUCKET"] == {"Ref": data_bucket(synthesis, stage)[0]}
        if name == "S3Loader":  # the one function that starts the load job
            assert variables["GLUE_LOAD_JOB"] == {"Ref": logical_id(synthesis, stage, "AWS::Glue::Job", "LoadCsv")}
        else:
            assert "GLUE_LOAD_JOB" not in variables
        assert variables["LOADER_MAX_BYTES"] == str(SETTINGS[stage].loader_max_bytes)
        assert "API_KEY" not in variables  # API Gateway checks the key in AWS


@pytest.mark.parametrize("stage", STAGES)
def test_auto_tester_runs_on_the_configured_schedule_outside_the_vpc_with_the_key_secret(synthesis, stage):
    tester = resources(synthesis, stage, "AWS::Serverless::Function")["AutoTester"]["Properties"]
    assert tester["Handler"] == "app.auto_tester"
    assert tester["Events"] == {
        "AutoTesterEvent": {"Type": "Schedule", "Properties": {"Schedule": SETTINGS[stage].auto_tester_rate}}
    }
    assert "VpcConfig" not in tester
    variables = tester["Environment"]["Variables"]
    secret_id = logical_id(synthesis, stage, "AWS::SecretsManager::Secret", "KeyValue")
    assert variables["API_KEY_SECRET_ARN"] == {"Ref": secret_id}
    assert variables["API_URL"] == {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/"}
    assert not {"DB_SECRET_ARN", "DB_HOST", "DATA_BUCKET"} & set(variables)
    role_id = tester["Role"]["Fn::GetAtt"][0]
    statements = role_statements(synthesis, stage, role_id)
    readable = [s["Resource"] for s in statements if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
    assert readable == [{"Ref": secret_id}]
    assert not [s for s in statements if any(a.startswith(("s3:", "glue:", "ec2:")) for a in as_list(s["Action"]))]


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_loader_may_start_glue_runs_and_only_of_the_load_job(synthesis, stage):
    functions = resources(synthesis, stage, "AWS::Serverless::Function")
    load_job = logical_id(synthesis, stage, "AWS::Glue::Job", "LoadCsv")
    for name, function in functions.items():
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        starts = [s for s in role_statements(synthesis, stage, role_id) if "glue:StartJobRun" in as_list(s["Action"])]
        if name == "S3Loader":
            assert len(starts) == 1
            assert json.dumps(starts[0]["Resource"]).count(load_job) == 1
            assert not isinstance(starts[0]["Resource"], list)
        elif name == "JobWorker":  # backups and restores handed to Glue (tests/cdk/test_jobs_stack.py)
            assert load_job not in json.dumps(starts)
        else:
            assert starts == [], name
    assert "S3Loader" in functions, "app.py has no s3_loader function yet"


def _asset_names(synthesis, resource: dict, uri: str) -> set[str]:
    key = resource["Properties"][uri]["Key"].split(".zip")[0]
    assets = json.loads((synthesis.outdir / "dev.assets.json").read_text())["files"]
    with zipfile.ZipFile(synthesis.outdir / assets[key]["source"]["path"]) as package:
        return set(package.namelist())


def test_functions_deploy_the_app_and_a_layer_the_run_time_dependencies(synthesis):
    """The functions' zip holds only the app; the layer every function uses holds each package it imports."""
    api = resources(synthesis, "dev", "AWS::Serverless::Function")["APIHandler"]
    assert {name.split("/")[0] for name in _asset_names(synthesis, api, "CodeUri")} <= {
        "app.py",
        "chalicelib",
        "chalice",
    }
    (layer_id, layer), *others = resources(synthesis, "dev", "AWS::Serverless::LayerVersion").items()
    assert not others
    site = "python/lib/python3.11/site-packages/"
    installed = {name.removeprefix(site).split("/")[0] for name in _asset_names(synthesis, layer, "ContentUri")}
    assert {"pymysql", "fastavro", "aws_lambda_powertools"} <= installed
    assert "requests" in installed, "chalicelib/autotester/checks.py imports requests: add it to requirements.txt"
    for name, function in resources(synthesis, "dev", "AWS::Serverless::Function").items():
        assert {"Ref": layer_id} in function["Properties"].get("Layers", []), name
