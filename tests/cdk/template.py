"""The synthesized templates, read: the stages, their settings, and helpers that find resources and
the statements of a role, shared by the tests of tests/cdk."""

from __future__ import annotations

import json
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
CDK_DIR = PROJECT_DIR / "cdk"
sys.path.insert(0, str(CDK_DIR))
from hr_infra.settings import StageSettings, stages_from_context  # noqa: E402, F401

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
