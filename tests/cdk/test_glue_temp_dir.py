"""The Glue jobs' --TempDir in the synthesized stacks: a prefix of a private scratch bucket whose objects
expire, where the jobs' role alone may list, read, write and delete (glue/hrjobs/runtime.py puts Spark's
checkpoints under it, glue/hrjobs/bulk_load.py the LOAD DATA part files)."""

from __future__ import annotations

import json

import pytest

from tests.cdk.template import (
    STAGES,
    as_list,
    logical_id,
    only,
    private_bucket,
    resources,
    role_statements,
)

PREFIX = "temp/"


def temp_bucket(synthesis, stage: str) -> str:
    return logical_id(synthesis, stage, "AWS::S3::Bucket", "GlueTemp")


def temp_statements(synthesis, stage: str) -> list[tuple[str, dict]]:
    """(policy id, statement) for every IAM policy statement that names the scratch bucket."""
    bucket_id = temp_bucket(synthesis, stage)
    return [
        (policy_id, statement)
        for policy_id, policy in resources(synthesis, stage, "AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if bucket_id in json.dumps(statement["Resource"])
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_every_glue_job_has_a_temp_dir_under_the_scratch_prefix(synthesis, stage):
    jobs = resources(synthesis, stage, "AWS::Glue::Job")
    assert len(jobs) == 3
    expected = {"Fn::Join": ["", ["s3://", {"Ref": temp_bucket(synthesis, stage)}, f"/{PREFIX}"]]}
    for name, job in jobs.items():
        assert job["Properties"]["DefaultArguments"]["--TempDir"] == expected, name


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_glue_role_may_list_read_write_and_delete_and_only_under_the_prefix(synthesis, stage):
    bucket_id = temp_bucket(synthesis, stage)
    role_id = logical_id(synthesis, stage, "AWS::IAM::Role", "GlueRole")
    found = temp_statements(synthesis, stage)
    assert {policy_id for policy_id, _ in found} == {logical_id(synthesis, stage, "AWS::IAM::Policy", "GlueRole")}
    mine = [s for s in role_statements(synthesis, stage, role_id) if bucket_id in json.dumps(s["Resource"])]
    assert [s for _, s in found] == mine
    objects = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{PREFIX}*"]]}
    by_action = {tuple(sorted(as_list(s["Action"]))): s for s in mine}
    assert set(by_action) == {("s3:DeleteObject", "s3:GetObject", "s3:PutObject"), ("s3:ListBucket",)}
    assert by_action["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]["Resource"] == objects
    listing = by_action["s3:ListBucket",]
    assert listing["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": f"{PREFIX}*"}}
    assert all(s["Effect"] == "Allow" for s in mine)
    # No wildcard S3 grant reaches the bucket some other way.
    for statement in role_statements(synthesis, stage, role_id):
        if any(a.startswith("s3:") for a in as_list(statement["Action"])):
            assert "*" not in as_list(statement["Resource"]), statement


@pytest.mark.parametrize("stage", STAGES)
def test_the_scratch_bucket_is_private_unversioned_and_encrypted_as_the_jobs_write(synthesis, stage):
    props = private_bucket(synthesis, stage, temp_bucket(synthesis, stage))
    assert "VersioningConfiguration" not in props  # a delete or an expiry removes the data
    _, configuration = only(synthesis, stage, "AWS::Glue::SecurityConfiguration")
    (s3_encryption,) = configuration["Properties"]["EncryptionConfiguration"]["S3Encryptions"]
    assert s3_encryption == {"S3EncryptionMode": "SSE-S3"}  # what the bucket's default encryption is


@pytest.mark.parametrize("stage", STAGES)
def test_scratch_objects_expire_after_the_longest_job_run(synthesis, stage):
    props = synthesis.templates[stage]["Resources"][temp_bucket(synthesis, stage)]["Properties"]
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert "Prefix" not in rule and "TagFilters" not in rule  # the whole bucket
    assert 1 <= rule["ExpirationInDays"] <= 7
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    # S3 deletes no sooner than ExpirationInDays after creation: after every run that may read the object.
    for name, job in resources(synthesis, stage, "AWS::Glue::Job").items():
        assert job["Properties"]["Timeout"] < rule["ExpirationInDays"] * 24 * 60, name
