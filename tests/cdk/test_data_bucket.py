"""The synthesized stacks' data bucket: private, encrypted, versioned, and wired to the loader."""

from __future__ import annotations

import pytest

from tests.cdk.template import (
    STAGES,
    data_bucket,
    only,
    private_bucket,
    resources,
)


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
