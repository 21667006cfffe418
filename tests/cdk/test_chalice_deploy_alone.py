"""`chalice deploy --stage dev|prod` alone, against resources the CDK app (or an operator) made."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
STAGES = ("dev", "prod")


def policy(stage: str) -> dict:
    return json.loads((ROOT / ".chalice" / CONFIG["stages"][stage]["iam_policy_file"]).read_text())


def allowed(stage: str, action: str) -> list[str]:
    resources = []
    for statement in policy(stage)["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] == "Allow" and action in actions:
            resources += statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return resources


def matches(stage: str, action: str, arn: str) -> bool:
    return any(fnmatch.fnmatchcase(arn, pattern) for pattern in allowed(stage, action))


@pytest.mark.parametrize("stage", STAGES)
def test_stage_uses_its_own_hand_written_policy(stage):
    config = CONFIG["stages"][stage]
    assert CONFIG["autogen_policy"] is False and config.get("autogen_policy", False) is False
    assert config["iam_policy_file"] == f"policy-{stage}.json"


@pytest.mark.parametrize("stage", STAGES)
def test_policy_is_scoped_to_the_stage(stage):
    other = "prod" if stage == "dev" else "dev"
    for statement in policy(stage)["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [a for a in actions if a == "*" or a.endswith(":*")], statement["Sid"]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if resources == ["*"]:
            assert all(a.startswith("ec2:") for a in actions), statement["Sid"]
            continue
        for resource in resources:
            assert f"hr-migration-{stage}" in resource and f"hr-migration-{other}" not in resource


@pytest.mark.parametrize("stage", STAGES)
def test_policy_grants_what_the_functions_call_on_the_cdk_names(stage, synthesis):
    template = synthesis.templates[stage]["Resources"]
    secret_names = sorted(
        r["Properties"]["Name"] for r in template.values() if r["Type"] == "AWS::SecretsManager::Secret"
    )
    assert secret_names == [f"hr-migration-{stage}/{n}" for n in ("api-key-1", "db", "db-admin", "db-master")]
    # The master user's secret is for the users' bootstrap and rotation only, never the app's.
    assert not matches(
        stage,
        "secretsmanager:GetSecretValue",
        f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:hr-migration-{stage}/db-master-AbC123",
    )
    for name in secret_names[:3]:  # Secrets Manager appends "-" and six characters to the name
        assert matches(
            stage,
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{name}-AbC123",
        )
    assert not matches(
        stage,
        "secretsmanager:GetSecretValue",
        f"arn:aws:secretsmanager:eu-west-1:1:secret:hr-migration-{stage}/other-AbC123",
    )

    jobs = [r["Properties"]["Name"] for r in template.values() if r["Type"] == "AWS::Glue::Job"]
    assert [j for j in jobs if matches(stage, "glue:StartJobRun", f"arn:aws:glue:eu-west-1:1:job/{j}")] == [
        f"hr-migration-{stage}-load-csv"
    ]

    # CloudFormation names an unnamed bucket "<stack name>-<logical id, lower case>-<suffix>".
    [bucket_id] = [k for k, r in template.items() if r["Type"] == "AWS::S3::Bucket" and k.startswith("DataBucket")]
    bucket = f"hr-migration-{stage}-{bucket_id.lower()}-1a2b3c4d5e6f"
    assert matches(stage, "s3:ListBucket", f"arn:aws:s3:::{bucket}")
    assert matches(stage, "s3:PutObject", f"arn:aws:s3:::{bucket}/incoming/jobs.csv")
    assert matches(stage, "s3:GetObject", f"arn:aws:s3:::{bucket}/backups/20260101T000000000Z/jobs.avro")
    [logs_id] = [k for k, r in template.items() if r["Type"] == "AWS::S3::Bucket" and k.startswith("DataAccessLogs")]
    assert not matches(stage, "s3:GetObject", f"arn:aws:s3:::hr-migration-{stage}-{logs_id.lower()}-1a2b3c/x")

    assert matches(
        stage,
        "logs:PutLogEvents",
        f"arn:aws:logs:eu-west-1:1:log-group:/aws/lambda/hr-migration-{stage}-s3_loader:log-stream:x",
    )


@pytest.mark.parametrize("stage", STAGES)
def test_auto_tester_runs_outside_the_vpc_under_chalice_deploy_too(stage):
    tester = CONFIG["stages"][stage]["lambda_functions"]["auto_tester"]
    assert tester["subnet_ids"] == [] and tester["security_group_ids"] == []
    assert set(tester["environment_variables"]) == {"API_URL", "API_KEY_SECRET_ARN"}
