"""checkov findings on the deployed (SAM-transformed) templates that stand, each with its reason.

(check id, resource prefix ``Type.LogicalId``) -> reason; tests/cdk/test_deployed_scan.py fails on any
other finding and on an acknowledgement that no finding uses any more. `DATA_API_ACKNOWLEDGED` hold only
for stages whose API uses the RDS Data API (`acknowledgements`).
"""

_FN = "AWS::Lambda::Function."
_CDK_HANDLERS = (
    "AWSCDKTriggerCustomResourceProvider",
    "BucketNotificationsHandler",
    "CustomS3AutoDeleteObjectsCustomResourceProvider",
    "CustomVpcRestrictDefaultSGCustomResourceProvider",
    "DatabaseUsersProviderframeworkonEvent",
)
_ON_FAILURE_QUEUE = (
    "Failed asynchronous events go to an on-failure destination queue (EventInvokeConfig), not a legacy DLQ"
)
_SQS_MANAGED = (
    "Encrypted with SQS-managed server-side encryption (SqsManagedSseEnabled), which checkov does not recognise"
)
_CDK_REASON = "CDK's own deploy-time handler, invoked by CloudFormation only while a stack deploys"

CHECKOV_ACKNOWLEDGED: dict[tuple[str, str], str] = {
    (
        "CKV_AWS_120",
        "AWS::ApiGateway::Stage.RestAPIapiStage",
    ): "No response caching: every insert changes what the list and report routes must answer",
    (
        "CKV_AWS_115",
        _FN + "APIHandler",
    ): (
        "The API's concurrency is bounded by the stage and usage-plan throttling; the RDS Proxy, or the "
        "Data API, pools its connections"
    ),
    ("CKV_AWS_115", _FN + "AutoTester"): "Runs once per schedule period outside the VPC and never touches the database",
    (
        "CKV_AWS_115",
        _FN + "ClientKey",
    ): "The API's authorizer: called by API Gateway within the stage's throttling, its answers cached per key",
    (
        "CKV_AWS_115",
        _FN + "JobWorker",
    ): "Fed one message at a time by the jobs queue; jobs come from the throttled API and the schedules",
    (
        "CKV_AWS_115",
        _FN + "DatabaseUsersBootstrap",
    ): "Called once per deploy by the database-users custom resource, never by a client",
    (
        "CKV_AWS_116",
        _FN + "ClientKey",
    ): "Invoked synchronously by API Gateway as the authorizer: the caller gets the refusal, no event to keep",
    (
        "CKV_AWS_116",
        _FN + "JobWorker",
    ): "Fed by the jobs queue: a message failing MAX_RECEIVES times goes to the jobs queue's own dead-letter queue",
    (
        "CKV_AWS_116",
        _FN + "DatabaseUsersBootstrap",
    ): "Invoked synchronously by the deploy's custom resource: a failure fails the deploy, no event to keep",
    ("CKV_AWS_116", _FN + "JobReaper"): _ON_FAILURE_QUEUE,
    ("CKV_AWS_116", _FN + "ScheduledPurge"): _ON_FAILURE_QUEUE,
    ("CKV_AWS_116", _FN + "ScheduledCheck"): _ON_FAILURE_QUEUE,
    (
        "CKV_AWS_116",
        _FN + "APIHandler",
    ): "Invoked synchronously by API Gateway: the caller gets the error, there is no event to keep",
    ("CKV_AWS_116", _FN + "S3Loader"): _ON_FAILURE_QUEUE,
    ("CKV_AWS_116", _FN + "ScheduledBackup"): _ON_FAILURE_QUEUE,
    ("CKV_AWS_116", _FN + "AutoTester"): _ON_FAILURE_QUEUE,
    (
        "CKV_AWS_116",
        _FN + "SmokeRunHandler",
    ): "Invoked synchronously by the deploy's trigger: a failure fails the deploy, there is no event to keep",
    (
        "CKV_AWS_117",
        _FN + "AutoTester",
    ): "Calls the public API like any client; outside the VPC it needs no NAT and reaches no database",
    (
        "CKV_AWS_117",
        _FN + "SmokeRunHandler",
    ): "Calls the public API and invokes one function; it has no business inside the VPC",
    (
        "CKV_AWS_118",
        "AWS::RDS::DBInstance.DatabaseCluster",
    ): "Performance Insights and the CloudWatch alarms cover the instances; OS-level metrics are not needed yet",
    (
        "CKV_AWS_149",
        "AWS::SecretsManager::Secret.",
    ): "Encrypted with the account's AWS managed Secrets Manager key; access is limited by IAM to named roles",
    (
        "CKV_AWS_158",
        "AWS::Logs::LogGroup.",
    ): "Log groups use CloudWatch Logs' default encryption; they hold no secrets (structured logs, no bodies)",
    (
        "CKV_AWS_173",
        "AWS::Lambda::Function.",
    ): "Environment variables hold names and ARNs only, encrypted at rest with the AWS managed Lambda key",
    (
        "CKV_AWS_18",
        "AWS::S3::Bucket.DataAccessLogs",
    ): "This is the access-log bucket itself: logging it to another bucket would never end",
    (
        "CKV_AWS_21",
        "AWS::S3::Bucket.DataAccessLogs",
    ): "Access logs are written once and expire; versioning them adds cost and nothing recoverable",
    (
        "CKV_AWS_21",
        "AWS::S3::Bucket.DataGlueTemp",
    ): "The Glue jobs' scratch files hold personal data and must go when deleted or expired, not stay as versions",
    ("CKV_AWS_27", "AWS::SQS::Queue.AppFailedEvents"): _SQS_MANAGED,
    ("CKV_AWS_27", "AWS::SQS::Queue.JobsQueue"): _SQS_MANAGED,
    ("CKV_AWS_27", "AWS::SQS::Queue.JobsDeadLetters"): _SQS_MANAGED,
    (
        "CKV_AWS_111",
        "AWS::IAM::Policy.",
    ): "The EC2 network-interface actions a Lambda or Glue job in a VPC needs have no resource-level permissions",
    **{
        (check, _FN + handler): _CDK_REASON
        for handler in _CDK_HANDLERS
        for check in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117")
    },
}

# Only where the stage's apiDatabaseAccess is "data-api" (tests/cdk/test_deployed_scan.py applies them there alone).
_DATA_API_REASON = (
    "apiDatabaseAccess data-api: reaches the database through the RDS Data API over HTTPS, signed with its "
    "role (rds-data on this cluster only); no VPC, ENI or RDS Proxy connection"
)
DATA_API_ACKNOWLEDGED: dict[tuple[str, str], str] = {
    ("CKV_AWS_117", _FN + "APIHandler"): _DATA_API_REASON,
    ("CKV_AWS_117", _FN + "ClientKey"): _DATA_API_REASON,
}


def acknowledgements(data_api: bool) -> dict[tuple[str, str], str]:
    """The acknowledged findings of a stage, whose API uses the Data API or not."""
    return {**CHECKOV_ACKNOWLEDGED, **(DATA_API_ACKNOWLEDGED if data_api else {})}
