"""The data bucket (`incoming/` CSV files, `rejected/` reports, `backups/` Avro files) and the Glue
jobs' scratch bucket (`--TempDir`)."""

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
# The Glue jobs' --TempDir in the scratch bucket: Spark checkpoints and the LOAD DATA part files.
GLUE_TEMP_PREFIX = "temp/"


class DataBucket(Construct):
    """Encrypted, private, TLS-only and versioned; its server access logs go to a second bucket.

    The Glue jobs' scratch bucket is private and logged the same way, but not versioned: its objects
    (rows of the files being loaded, personal data) expire, and a delete or an expiry removes them.

    In `dev` the buckets are emptied and deleted with the stack; in `prod` they are retained.
    """

    def __init__(self, scope: Construct, id: str, *, settings: StageSettings) -> None:
        super().__init__(scope, id)
        # What every bucket is: encrypted, private, TLS only, owned by this account; kept in prod only.
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
        # What the buckets that hold data add: TLS 1.2 at least, server access logs.
        logged = {**private, "minimum_tls_version": 1.2, "server_access_logs_bucket": self.access_logs}
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            **logged,
            versioned=True,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                # Versioning protects against overwrites; old versions do not need to live forever.
                s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90)),
                s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(7)),
            ],
        )
        # S3 expires an object at the first midnight (UTC) after `days` days, so every object outlives
        # the longest job run that may still read it (its checkpoints are read during the run).
        temp_days = settings.glue_timeout_minutes // (24 * 60) + 1
        self.glue_temp = s3.Bucket(
            self,
            "GlueTemp",
            **logged,
            server_access_logs_prefix="glue-temp/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(temp_days), abort_incomplete_multipart_upload_after=Duration.days(1)
                )
            ],
        )

    def notify_loader(self, loader: lambda_.IFunction) -> None:
        """Every object created under `incoming/` invokes `loader` (which gets the S3 event)."""
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(loader),
            s3.NotificationKeyFilter(prefix=INCOMING_PREFIX),
        )
