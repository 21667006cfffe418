"""The data bucket: `incoming/` CSV files, `rejected/` reports, `backups/` Avro files."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from .settings import StageSettings

INCOMING_PREFIX = "incoming/"
REJECTED_PREFIX = "rejected/"
BACKUPS_PREFIX = "backups/"


class DataBucket(Construct):
    """Encrypted, private, TLS-only and versioned; its server access logs go to a second bucket.

    In `dev` both buckets are emptied and deleted with the stack; in `prod` they are retained.
    """

    def __init__(self, scope: Construct, id: str, *, settings: StageSettings) -> None:
        super().__init__(scope, id)
        # What both buckets are: encrypted, private, TLS only, owned by this account; kept in prod only.
        private = {
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "enforce_ssl": True,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "removal_policy": RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
            "auto_delete_objects": not settings.is_prod,
        }
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            **private,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(settings.log_retention_days))],
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            **private,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                # Versioning protects against overwrites; old versions do not need to live forever.
                s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90)),
                s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(7)),
            ],
        )

    def notify_loader(self, loader: lambda_.IFunction) -> None:
        """Every object created under `incoming/` invokes `loader` (which gets the S3 event)."""
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(loader),
            s3.NotificationKeyFilter(prefix=INCOMING_PREFIX),
        )
