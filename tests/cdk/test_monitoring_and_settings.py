"""The synthesized stacks' alarms and outputs, and the stage settings the CDK app reads."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from tests.cdk.template import (
    CONTEXT,
    STAGES,
    StageSettings,
    data_bucket,
    only,
    resources,
    stages_from_context,
)

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
