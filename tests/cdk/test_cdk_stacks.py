"""The synthesized dev and prod stacks: one test per promise the CDK app makes."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

PROJECT_DIR = Path(__file__).resolve().parents[2]
CDK_DIR = PROJECT_DIR / "cdk"
sys.path.insert(0, str(CDK_DIR))
from hr_infra.settings import StageSettings, stages_from_context  # noqa: E402

CONTEXT = json.loads((CDK_DIR / "cdk.json").read_text())["context"]["hr:stages"]
SETTINGS = {s.stage: s for s in stages_from_context(CONTEXT)}
STAGES = ("dev", "prod")
# The functions that move out of the VPC when a stage's apiDatabaseAccess is "data-api".
API_FUNCTIONS = ("APIHandler", "ClientKey")


def in_vpc(stage: str, function: str) -> bool:
    """Whether `function` runs in the VPC on pymysql in `stage` (else outside it, on the Data API)."""
    return not (SETTINGS[stage].api_uses_data_api and function in API_FUNCTIONS)


def resources(synthesis, stage: str, type_: str) -> dict[str, dict]:
    return {k: v for k, v in synthesis.templates[stage]["Resources"].items() if v["Type"] == type_}


def only(synthesis, stage: str, type_: str) -> tuple[str, dict]:
    found = resources(synthesis, stage, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def logical_id(synthesis, stage: str, type_: str, contains: str) -> str:
    ids = [k for k in resources(synthesis, stage, type_) if contains in k]
    assert len(ids) == 1, f"expected one {type_} named like {contains!r}, found {ids}"
    return ids[0]


def role_statements(synthesis, stage: str, role_id: str) -> list[dict]:
    statements = []
    for policy in resources(synthesis, stage, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_synthesis_succeeds_for_both_stages(synthesis):
    assert synthesis.error is None, synthesis.error
    assert set(synthesis.templates) == set(STAGES)
    # app.py has its s3_loader, so the stack has nothing to warn about it.
    assert [w for w in synthesis.warnings if "no-s3-loader" in w] == []


# -- network ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_vpc_has_no_route_to_the_internet(synthesis, stage):
    template = synthesis.template(stage)
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    for subnet in resources(synthesis, stage, "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_aws_services_are_reached_through_vpc_endpoints(synthesis, stage):
    endpoints = resources(synthesis, stage, "AWS::EC2::VPCEndpoint").values()
    services = {json.dumps(e["Properties"]["ServiceName"]): e["Properties"].get("VpcEndpointType") for e in endpoints}
    gateway = [s for s, kind in services.items() if kind == "Gateway"]
    interface = [s for s, kind in services.items() if kind == "Interface"]
    assert len(gateway) == 1 and ".s3" in gateway[0]
    for service in ("secretsmanager", "glue", "logs"):
        assert any(f".{service}" in s for s in interface), f"no {service} interface endpoint in {interface}"
    for endpoint in endpoints:
        if endpoint["Properties"].get("VpcEndpointType") == "Interface":
            assert endpoint["Properties"]["PrivateDnsEnabled"] is True


@pytest.mark.parametrize("stage", STAGES)
def test_database_sits_in_isolated_db_subnets_and_lambdas_in_app_subnets(synthesis, stage):
    _, group = only(synthesis, stage, "AWS::RDS::DBSubnetGroup")
    db_subnets = [ref["Ref"] for ref in group["Properties"]["SubnetIds"]]
    assert len(db_subnets) == 2 and all("dbSubnet" in s for s in db_subnets)
    functions = resources(synthesis, stage, "AWS::Serverless::Function")
    for name in ("APIHandler", "S3Loader"):
        if name not in functions or not in_vpc(stage, name):
            continue
        subnets = [ref["Ref"] for ref in functions[name]["Properties"]["VpcConfig"]["SubnetIds"]]
        assert len(subnets) == 2 and all("appSubnet" in s for s in subnets)
    routes = resources(synthesis, stage, "AWS::EC2::Route")
    assert routes == {}, "isolated subnets have no routes besides the local one and the S3 gateway endpoint"


# -- database --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_database_is_encrypted_private_aurora_mysql_8_with_generated_secret(synthesis, stage):
    _, cluster = only(synthesis, stage, "AWS::RDS::DBCluster")
    props = cluster["Properties"]
    assert props["Engine"] == "aurora-mysql"
    assert props["EngineVersion"].startswith("8.0.mysql_aurora.3.")
    assert props["StorageEncrypted"] is True
    assert "ServerlessV2ScalingConfiguration" in props
    assert props["DatabaseName"] == "hr"
    password = json.dumps(props["MasterUserPassword"])
    assert "{{resolve:secretsmanager:" in password and ":SecretString:password::}}" in password
    _, secret = next(
        (k, v) for k, v in resources(synthesis, stage, "AWS::SecretsManager::Secret").items() if "Database" in k
    )
    generator = secret["Properties"]["GenerateSecretString"]
    assert json.loads(generator["SecretStringTemplate"]) == {"username": "hradmin"}
    for instance in resources(synthesis, stage, "AWS::RDS::DBInstance").values():
        assert instance["Properties"]["PubliclyAccessible"] is False
    _, parameters = only(synthesis, stage, "AWS::RDS::DBClusterParameterGroup")
    assert parameters["Properties"]["Parameters"]["require_secure_transport"] == "ON"


@pytest.mark.parametrize("stage", STAGES)
def test_database_secrets_have_host_port_and_dbname_and_are_rotated(synthesis, stage):
    attachments = resources(synthesis, stage, "AWS::SecretsManager::SecretTargetAttachment")
    assert len(attachments) == 3  # the master user's, the app user's, the admin user's
    for attachment in attachments.values():
        assert attachment["Properties"]["TargetType"] == "AWS::RDS::DBCluster"  # adds host, port, dbname, engine
    schedules = resources(synthesis, stage, "AWS::SecretsManager::RotationSchedule")
    days = SETTINGS[stage].db_secret_rotation_days
    assert len(schedules) == 3
    for schedule in schedules.values():
        assert schedule["Properties"]["RotationRules"]["ScheduleExpression"] == f"rate({days} days)"


@pytest.mark.parametrize("stage", STAGES)
def test_database_has_automated_backups_and_prod_has_deletion_protection(synthesis, stage):
    _, cluster = only(synthesis, stage, "AWS::RDS::DBCluster")
    assert cluster["Properties"]["BackupRetentionPeriod"] == SETTINGS[stage].backup_retention_days
    assert cluster["Properties"]["DeletionProtection"] is (stage == "prod")
    assert cluster["DeletionPolicy"] == ("Snapshot" if stage == "prod" else "Delete")


@pytest.mark.parametrize("stage", STAGES)
def test_rds_proxy_fronts_the_cluster_and_lambdas_use_it(synthesis, stage):
    proxy_id, proxy = only(synthesis, stage, "AWS::RDS::DBProxy")
    assert proxy["Properties"]["EngineFamily"] == "MYSQL"
    assert proxy["Properties"]["RequireTLS"] is True
    secrets = sorted(auth["SecretArn"]["Ref"] for auth in proxy["Properties"]["Auth"])
    assert [s.rstrip("0123456789ABCDEF") for s in secrets] == [
        "DatabaseClusterSecretAttachment",
        "DatabaseUsersAdminSecretAttachment",
        "DatabaseUsersAppSecretAttachment",
    ]
    _, target = only(synthesis, stage, "AWS::RDS::DBProxyTargetGroup")
    assert target["Properties"]["DBClusterIdentifiers"] == [
        {"Ref": logical_id(synthesis, stage, "AWS::RDS::DBCluster", "Cluster")}
    ]
    client = "APIHandler" if in_vpc(stage, "APIHandler") else "S3Loader"  # the loader stays in the VPC
    api = resources(synthesis, stage, "AWS::Serverless::Function")[client]["Properties"]["Environment"]["Variables"]
    assert api["DB_HOST"] == {"Fn::GetAtt": [proxy_id, "Endpoint"]}
    assert api["DB_SECRET_ARN"]["Ref"].startswith("DatabaseUsersAppSecretAttachment")
    if client == "APIHandler":
        assert api["ADMIN_DB_SECRET_ARN"]["Ref"].startswith("DatabaseUsersAdminSecretAttachment")
    assert api["DB_NAME"] == "hr"


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_proxy_and_rotation_reach_the_database_and_every_client_the_proxy(synthesis, stage):
    def sources(group_name: str) -> list[str]:
        group = logical_id(synthesis, stage, "AWS::EC2::SecurityGroup", group_name)
        return sorted(
            rule["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0]
            for rule in resources(synthesis, stage, "AWS::EC2::SecurityGroupIngress").values()
            if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}
        )

    to_cluster = sources("DatabaseClusterSecurityGroup")
    assert (
        len(to_cluster) == 2 and [s for s in to_cluster if "Proxy" in s] and [s for s in to_cluster if "Rotation" in s]
    )
    to_proxy = sources("DatabaseProxySecurityGroup")
    assert len(to_proxy) == 3
    assert [s for s in to_proxy if "App" in s] and [s for s in to_proxy if "Glue" in s]
    assert [s for s in to_proxy if "Bootstrap" in s]
    for group in resources(synthesis, stage, "AWS::EC2::SecurityGroup").values():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            assert rule.get("CidrIp") != "0.0.0.0/0"


# -- data bucket -----------------------------------------------------------------------------------


def data_bucket(synthesis, stage):
    bucket_id = logical_id(synthesis, stage, "AWS::S3::Bucket", "DataBucket")
    return bucket_id, synthesis.templates[stage]["Resources"][bucket_id]


def private_bucket(synthesis, stage: str, bucket_id: str) -> dict:
    """The bucket's properties, checked: SSE-S3, public access blocked, access-logged, TLS only."""
    props = synthesis.templates[stage]["Resources"][bucket_id]["Properties"]
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    blocks = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(blocks, True)
    assert "LoggingConfiguration" in props
    policy = next(
        p
        for p in resources(synthesis, stage, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    )
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false" for s in denies)
    return props


@pytest.mark.parametrize("stage", STAGES)
def test_data_bucket_is_encrypted_private_versioned_and_tls_only(synthesis, stage):
    bucket_id, _ = data_bucket(synthesis, stage)
    assert private_bucket(synthesis, stage, bucket_id)["VersioningConfiguration"] == {"Status": "Enabled"}


@pytest.mark.parametrize("stage", STAGES)
def test_objects_are_auto_deleted_in_dev_only(synthesis, stage):
    bucket_id, bucket = data_bucket(synthesis, stage)
    auto_delete = [
        r
        for r in resources(synthesis, stage, "Custom::S3AutoDeleteObjects").values()
        if r["Properties"]["BucketName"] == {"Ref": bucket_id}
    ]
    if stage == "dev":
        assert len(auto_delete) == 1 and bucket["DeletionPolicy"] == "Delete"
    else:
        assert auto_delete == [] and bucket["DeletionPolicy"] == "Retain"
        assert resources(synthesis, stage, "Custom::S3AutoDeleteObjects") == {}


@pytest.mark.parametrize("stage", STAGES)
def test_incoming_objects_notify_the_loader(synthesis, stage):
    functions = resources(synthesis, stage, "AWS::Serverless::Function")
    assert "S3Loader" in functions, "app.py has no @app.lambda_function(name='s3_loader') yet"
    bucket_id, _ = data_bucket(synthesis, stage)
    _, notifications = only(synthesis, stage, "Custom::S3BucketNotifications")
    assert notifications["Properties"]["BucketName"] == {"Ref": bucket_id}
    config = notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert config == [
        {
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
            "LambdaFunctionArn": {"Fn::GetAtt": ["S3Loader", "Arn"]},
        }
    ]
    permissions = [
        p["Properties"]
        for p in resources(synthesis, stage, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "s3.amazonaws.com"
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": ["S3Loader", "Arn"]},
            "Principal": "s3.amazonaws.com",
            "SourceAccount": {"Ref": "AWS::AccountId"},
            "SourceArn": {"Fn::GetAtt": [bucket_id, "Arn"]},
        }
    ]


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
        assert set(variables) >= {"DB_SECRET_ARN", "DB_HOST", "DB_NAME", "DATA_BUCKET", "LOADER_MAX_BYTES"}
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


# -- Glue ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_three_glue_5_jobs_with_script_and_shared_modules_assets_in_the_vpc(synthesis, stage):
    jobs = resources(synthesis, stage, "AWS::Glue::Job")
    assert sorted(j["Properties"]["Name"] for j in jobs.values()) == sorted(
        f"hr-migration-{stage}-{n}" for n in ("load-csv", "backup-avro", "restore-avro")
    )
    connection_id, connection = only(synthesis, stage, "AWS::Glue::Connection")
    conn = connection["Properties"]["ConnectionInput"]
    assert conn["ConnectionType"] == "JDBC"
    assert conn["ConnectionProperties"]["JDBC_ENFORCE_SSL"] == "true"
    assert "jdbc:mysql://" in json.dumps(conn["ConnectionProperties"]["JDBC_CONNECTION_URL"])
    assert conn["PhysicalConnectionRequirements"]["SubnetId"]["Ref"].startswith("NetworkVpcappSubnet")
    secret_id = logical_id(synthesis, stage, "AWS::SecretsManager::SecretTargetAttachment", "UsersAppSecret")
    proxy_id, _ = only(synthesis, stage, "AWS::RDS::DBProxy")
    assets = json.loads(next(synthesis.outdir.glob(f"{stage}.assets.json")).read_text())["files"]
    for job in jobs.values():
        props = job["Properties"]
        assert props["GlueVersion"] == "5.0"
        assert props["Command"]["Name"] == "glueetl" and props["Command"]["PythonVersion"] == "3"
        assert props["Connections"] == {"Connections": [{"Ref": connection_id}]}
        assert "SecurityConfiguration" in props
        args = props["DefaultArguments"]
        assert args["--DB_SECRET_ARN"] == {"Ref": secret_id}
        assert args["--DB_HOST"] == {"Fn::GetAtt": [proxy_id, "Endpoint"]}  # verified TLS via the proxy
        assert args["--enable-continuous-cloudwatch-log"] == "true"
        script_hash = json.dumps(props["Command"]["ScriptLocation"]).split("/")[-1].split(".py")[0]
        assert assets[script_hash]["source"]["path"].endswith(".py")
        assert ".zip" in json.dumps(args["--extra-py-files"])


def test_glue_shared_modules_zip_holds_chalicelib_hrjobs_and_pymysql(synthesis):
    template = synthesis.templates["dev"]
    job = next(iter(resources(synthesis, "dev", "AWS::Glue::Job").values()))
    zip_key = json.dumps(job["Properties"]["DefaultArguments"]["--extra-py-files"]).split("/")[-1].split(".zip")[0]
    assets = json.loads((synthesis.outdir / "dev.assets.json").read_text())["files"]
    archive = synthesis.outdir / assets[zip_key]["source"]["path"]
    with zipfile.ZipFile(archive) as zip_file:
        names = set(zip_file.namelist())
        assert {
            "chalicelib/__init__.py",
            "chalicelib/rules/dictionary.py",
            "chalicelib/rules/validation.py",
            "chalicelib/backups/layout.py",
            "chalicelib/db/mysql.py",
            "hrjobs/__init__.py",
            "pymysql/__init__.py",
            "pymysql/connections.py",
        } <= names
        assert (
            zip_file.read("chalicelib/rules/dictionary.py")
            == (PROJECT_DIR / "chalicelib/rules/dictionary.py").read_bytes()
        )
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert {info.date_time for info in zip_file.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert template  # the zip came from this synthesis


def test_glue_shared_modules_zip_is_reproducible():
    from hr_infra.glue_jobs import GlueJobs

    first = GlueJobs._stage_shared_modules(PROJECT_DIR).read_bytes()
    second = GlueJobs._stage_shared_modules(PROJECT_DIR).read_bytes()
    assert first == second


# -- monitoring and outputs ------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_alarms_cover_lambda_errors_auto_tester_failures_and_the_database(synthesis, stage):
    alarms = list(resources(synthesis, stage, "AWS::CloudWatch::Alarm").values())
    topic_id, _ = only(synthesis, stage, "AWS::SNS::Topic")
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    errors = {
        a["Properties"]["Dimensions"][0]["Value"]["Ref"]
        for a in alarms
        if a["Properties"].get("MetricName") == "Errors" and a["Properties"]["Namespace"] == "AWS/Lambda"
    }
    assert errors == set(resources(synthesis, stage, "AWS::Serverless::Function"))
    from chalicelib.autotester import checks as autotester

    failures = [a["Properties"] for a in alarms if a["Properties"].get("Namespace") == autotester.DEFAULT_NAMESPACE]
    assert len(failures) == 1
    assert failures[0]["MetricName"] == autotester.FAILURES_METRIC
    assert failures[0]["Dimensions"] == [{"Name": "service", "Value": autotester.DEFAULT_SERVICE}]
    assert failures[0]["TreatMissingData"] == "breaching"
    db = [a["Properties"]["MetricName"] for a in alarms if a["Properties"].get("Namespace") == "AWS/RDS"]
    assert sorted(db) == ["ACUUtilization", "CPUUtilization", "DatabaseConnections"]
    _, rule = only(synthesis, stage, "AWS::Events::Rule")
    assert rule["Properties"]["EventPattern"]["detail"]["state"] == ["FAILED", "TIMEOUT", "ERROR"]
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": topic_id}


@pytest.mark.parametrize("stage", STAGES)
def test_auto_tester_metrics_namespace_matches_what_the_function_is_told(synthesis, stage):
    from chalicelib.autotester import checks as autotester

    variables = resources(synthesis, stage, "AWS::Serverless::Function")["AutoTester"]["Properties"]["Environment"][
        "Variables"
    ]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == autotester.DEFAULT_NAMESPACE
    assert variables["POWERTOOLS_SERVICE_NAME"] == autotester.DEFAULT_SERVICE


@pytest.mark.parametrize("stage", STAGES)
def test_outputs_name_the_api_url_the_bucket_and_the_api_key(synthesis, stage):
    template = synthesis.template(stage)
    key_id, _ = only(synthesis, stage, "AWS::ApiGateway::ApiKey")
    template.has_output(
        "ApiUrl", {"Value": {"Fn::Sub": Match.string_like_regexp(r"^https://\$\{RestAPI\}\.execute-api")}}
    )
    template.has_output("DataBucketName", {"Value": {"Ref": data_bucket(synthesis, stage)[0]}})
    template.has_output("ApiKeyId", {"Value": {"Ref": key_id}})
    for name in (
        "ApiKeySecretArn",
        "DbSecretArn",
        "DbProxyEndpoint",
        "GlueLoadJobName",
        "AppSubnetIds",
        "LambdaSecurityGroupId",
        "AlarmTopicArn",
    ):
        template.has_output(name, {})


# -- settings --------------------------------------------------------------------------------------


def test_stage_settings_reject_unknown_and_missing_keys():
    raw = dict(CONTEXT["dev"])
    with pytest.raises(ValueError, match="unknown settings"):
        StageSettings.from_context("dev", {**raw, "dbSize": 3})
    raw.pop("vpcCidr")
    with pytest.raises(ValueError, match="missing setting 'vpcCidr'"):
        StageSettings.from_context("dev", raw)
    with pytest.raises(ValueError, match="logRetentionDays"):
        StageSettings.from_context("dev", {**CONTEXT["dev"], "logRetentionDays": 31})
    with pytest.raises(ValueError, match="unknown stage"):
        stages_from_context(CONTEXT, "staging")


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
