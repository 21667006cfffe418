"""The checkers the AWS community runs on CDK output: IAM wildcards, cdk-nag AwsSolutions, cfn-lint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

STAGES = ("dev", "prod")
# CDK's own generated custom-resource providers add a DependsOn that a GetAtt already implies.
CFN_LINT_IGNORED = {"W3005": "redundant DependsOn in CDK-generated custom resource providers and proxy target groups"}


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def policy_statements(template: dict):
    """(resource id, statement) for every IAM statement in the template, wherever it is written."""
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        documents = []
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(props["PolicyDocument"])
        elif kind in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
        elif kind == "AWS::Serverless::Function":
            documents += [p for p in _as_list(props.get("Policies", [])) if isinstance(p, dict) and "Statement" in p]
        elif kind in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SecretsManager::ResourcePolicy"):
            documents.append(props.get("PolicyDocument") or props.get("ResourcePolicy"))
        for document in documents:
            for statement in _as_list(document["Statement"]):
                yield name, statement


def is_everything(action: str) -> bool:
    return action == "*" or action.endswith(":*")


def test_statement_walker_finds_a_planted_star_on_star():
    template = {
        "Resources": {
            "Bad": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
                },
            }
        }
    }
    found = [
        (n, s)
        for n, s in policy_statements(template)
        if s["Effect"] == "Allow" and any(map(is_everything, _as_list(s["Action"]))) and "*" in _as_list(s["Resource"])
    ]
    assert found == [("Bad", {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})]


@pytest.mark.parametrize("stage", STAGES)
def test_no_policy_allows_every_action_on_every_resource(synthesis, stage):
    statements = list(policy_statements(synthesis.templates[stage]))
    assert len(statements) > 20  # the walker sees the stack's policies
    offending = [
        (name, statement)
        for name, statement in statements
        if statement.get("Effect") == "Allow"
        and any(is_everything(a) for a in _as_list(statement.get("Action", [])))
        and "*" in _as_list(statement.get("Resource", []))
    ]
    assert offending == []
    not_actions = [(n, s) for n, s in statements if "NotAction" in s and s.get("Effect") == "Allow"]
    assert not_actions == []


def test_cdk_nag_aws_solutions_has_no_unacknowledged_errors(synthesis):
    assert synthesis.validation_report is not None, "cdk-nag did not run"
    reports = {r["pluginName"]: r for r in synthesis.validation_report["pluginReports"]}
    nag = reports["AwsSolutions"]
    errors = [
        f"{v['ruleName']} at {[c.get('constructPath') for c in v.get('violatingConstructs', [])]}: {v['description']}"
        for v in nag["violations"]
        if v["severity"] == "error"
    ]
    assert errors == []
    assert nag["conclusion"] == "success"
    for suppressed in nag["suppressedViolations"]:
        assert len(suppressed["reason"]) >= 30, suppressed["acknowledgedId"]
        assert suppressed["acknowledgedId"].startswith("AwsSolutions::AwsSolutions-")


def test_cdk_nag_checks_the_stacks(synthesis):
    """The acknowledged findings prove the rules ran over the real resources of both stages."""
    nag = {r["pluginName"]: r for r in synthesis.validation_report["pluginReports"]}["AwsSolutions"]
    paths = {c["constructPath"].split("/")[0] for s in nag["suppressedViolations"] for c in s["violatingConstructs"]}
    assert paths == set(STAGES)
    rds10 = [
        c["constructPath"]
        for s in nag["suppressedViolations"]
        if s["ruleName"] == "AwsSolutions-RDS10"
        for c in s["violatingConstructs"]
    ]
    assert rds10 == ["dev/Database/Cluster/Resource"]  # prod has deletion protection, so nothing to accept


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_is_clean(synthesis, stage):
    template = synthesis.outdir / f"{stage}.template.json"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--format",
            "parseable",
            "--regions",
            "us-east-1",
            "eu-west-1",
            "--ignore-checks",
            *CFN_LINT_IGNORED,
            "--",
            str(template),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
