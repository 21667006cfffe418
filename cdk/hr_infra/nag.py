"""Acknowledging cdk-nag (AwsSolutions) findings: each one names the finding and says why it stands."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, reason: str, *findings: str) -> None:
    """Accept `findings` (``IAM5[Resource::*]``, ``RDS11``...) on `scope` and its children, for `reason`."""
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=f"{PACK}::{PACK}-{finding}", reason=reason) for finding in findings)
    )


def bucket_objects(bucket: s3.IBucket, prefix: str = "") -> str:
    """The IAM5 finding for a grant on every object of `bucket` under `prefix` (``<Logical.Arn>/prefix*``)."""
    resource = bucket.node.default_child
    assert isinstance(resource, CfnResource)
    return f"IAM5[Resource::<{Stack.of(bucket).resolve(Stack.of(bucket).get_logical_id(resource))}.Arn>/{prefix}*]"


# What grant_read_write on a bucket expands to; object-level wildcards are the grant, not an excess.
S3_READ_WRITE_ACTIONS = tuple(
    f"IAM5[Action::s3:{action}]" for action in ("Abort*", "DeleteObject*", "GetBucket*", "GetObject*", "List*")
)


def acknowledge_cdk_handlers(stack: Stack) -> None:
    """The singleton Lambda functions CDK adds for S3 notifications and bucket auto-delete, if present."""
    for child in stack.node.children:
        name = child.node.id
        if name.startswith("BucketNotificationsHandler"):
            acknowledge(
                child,
                "CDK's bucket-notification handler: AWSLambdaBasicExecutionRole for its own logs; "
                "PutBucketNotification has no narrower resource in CDK's generated policy",
                "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "IAM5[Resource::*]",
            )


def allow_tracing(role: iam.IRole) -> None:
    """Let `role`'s functions send X-Ray traces (actions without resource-level permissions: acknowledged)."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="XRayTraces",
            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            resources=["*"],
        )
    )
    acknowledge(
        role,
        "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions",
        "IAM5[Resource::*]",
    )
