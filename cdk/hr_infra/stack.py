"""One stack per stage: network, database, data bucket, Glue jobs, the Chalice app, monitoring."""

from __future__ import annotations

import sys
from pathlib import Path

from aws_cdk import CfnOutput, Fn, RemovalPolicy, Stack, Tags
from constructs import Construct

from .api import API_HANDLER, API_STAGE, AUTO_TESTER, S3_LOADER, SCHEDULED_BACKUP, ChaliceApp
from .data_bucket import DataBucket
from .database import Database
from .glue_jobs import GlueJobs, JobScript
from .jobs import JobQueue
from .monitoring import AUTO_TESTER_NAMESPACE, Monitoring
from .nag import acknowledge_cdk_handlers
from .network import Network
from .settings import APP_NAME, StageSettings
from .smoke import SmokeRun

PROJECT_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_DIR))  # the bucket layout is the app's: one definition of its prefixes
from chalicelib.loading.bucket_layout import REJECTED  # noqa: E402

LOAD_JOB = "load-csv"
BACKUP_JOB = "backup-avro"


def glue_job_scripts(project_dir: Path = PROJECT_DIR, backup_schedule: str | None = None) -> list[JobScript]:
    """The three Glue jobs and their scripts under glue/; the backup job also runs on `backup_schedule`."""
    glue_dir = project_dir / "glue"
    return [
        JobScript(
            LOAD_JOB,
            glue_dir / "load_csv.py",
            "Loads a CSV file too big for the S3 loader Lambda",
            arguments={"REJECTED_PREFIX": "s3://{bucket}/" + REJECTED},
            run_arguments=("SOURCE", "TABLE"),
        ),
        # The same layout as the Lambda backup: backups/<id>/ under the data bucket.
        JobScript(
            BACKUP_JOB,
            glue_dir / "backup_avro.py",
            "Backs up tables to Avro under backups/",
            arguments={"BACKUP_ROOT": "s3://{bucket}/"},
            schedule=backup_schedule,
        ),
        JobScript(
            "restore-avro",
            glue_dir / "restore_avro.py",
            "Restores one table from an Avro backup",
            run_arguments=("TABLE", "BACKUP"),
        ),
    ]


class HrMigrationStack(Stack):
    """Everything the service needs in one AWS account and region, for one stage.

    The stack's construct id is the stage (`dev`, `prod`): Chalice takes its stage name from it.
    """

    def __init__(
        self,
        scope: Construct,
        settings: StageSettings,
        *,
        project_dir: Path = PROJECT_DIR,
        jobs: list[JobScript] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(
            scope,
            settings.stage,
            stack_name=settings.stack_name,
            description=f"HR data migration service ({settings.stage})",
            **kwargs,
        )
        # CloudFormation takes no tags on a proxy target group.
        untaggable = ["AWS::RDS::DBProxyTargetGroup"]
        Tags.of(self).add("app", APP_NAME, exclude_resource_types=untaggable)
        Tags.of(self).add("stage", settings.stage, exclude_resource_types=untaggable)
        network = Network(
            self,
            "Network",
            cidr=settings.vpc_cidr,
            flow_log_retention=settings.log_retention,
            removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
        )
        database = Database(self, "Database", network=network, settings=settings, project_dir=project_dir)
        data = DataBucket(self, "Data", settings=settings)
        glue_jobs = GlueJobs(
            self,
            "Glue",
            jobs=jobs if jobs is not None else glue_job_scripts(project_dir, settings.glue_backup_schedule),
            project_dir=project_dir,
            network=network,
            database=database,
            data_bucket=data.bucket,
            temp_bucket=data.glue_temp,
            settings=settings,
        )
        app = ChaliceApp(
            self,
            "App",
            project_dir=project_dir,
            settings=settings,
            network=network,
            database=database,
            data_bucket=data.bucket,
            load_job_name=glue_jobs.job_name(LOAD_JOB),
            load_job_arn=glue_jobs.job_arn(LOAD_JOB),
        )
        app.chalice.add_environment_variable("POWERTOOLS_METRICS_NAMESPACE", AUTO_TESTER_NAMESPACE, AUTO_TESTER)
        if S3_LOADER in app.functions:
            data.notify_loader(app.function(S3_LOADER))
        jobs_queue = JobQueue(
            self,
            "Jobs",
            app=app,
            database=database,
            data_bucket=data.bucket,
            backup_job=(glue_jobs.job_name("backup-avro"), glue_jobs.job_arn("backup-avro")),
            restore_job=(glue_jobs.job_name("restore-avro"), glue_jobs.job_arn("restore-avro")),
        )

        monitoring = Monitoring(self, "Monitoring", settings=settings)
        for name, function in app.functions.items():
            monitoring.lambda_errors(name, app.function_name(name))
            monitoring.lambda_throttles(name, app.function_name(name))
            monitoring.lambda_duration(name, app.function_name(name), function.timeout)
        monitoring.api(settings.stack_name, API_STAGE)
        monitoring.failed_events(app.failed_events.queues)
        monitoring.data_metrics(
            [app.log_groups[n] for n in (API_HANDLER, S3_LOADER, SCHEDULED_BACKUP) if n in app.log_groups]
        )
        monitoring.auto_tester_failures(settings.auto_tester_rate)
        monitoring.database(database.cluster)
        monitoring.glue_job_failures([job.job_name for job in glue_jobs.jobs.values()])
        monitoring.dashboard(
            functions={n: app.function_name(n) for n in app.functions}, auto_tester_rate=settings.auto_tester_rate
        )

        self.app = app
        self.database = database
        self.data = data
        self.glue_jobs = glue_jobs
        self.jobs_queue = jobs_queue
        self.monitoring = monitoring
        self.network = network

        outputs = {
            "ApiUrl": (app.endpoint.url, "Base URL of the API (send x-api-key)"),
            "DataBucketName": (data.bucket.bucket_name, "Data bucket: incoming/, rejected/, backups/"),
            "ApiKeyId": (app.access.key.ref, "API Gateway key id (its value is in ApiKeySecretArn)"),
            "ApiKeySecretArn": (app.access.key_secret.secret_arn, "Secret holding the API key value"),
            "UsagePlanId": (app.access.usage_plan.ref, "Usage plan metering each client (USAGE_PLAN_ID for `clients`)"),
            "ClientsAdminPolicyArn": (
                app.access.clients_admin_policy.managed_policy_arn,
                "Managed policy the operator running `clients add|rotate|revoke` needs in API Gateway",
            ),
            "DbSecretArn": (database.secret.secret_arn, "App user's database credentials (DB_SECRET_ARN)"),
            "DbAdminSecretArn": (database.admin_secret.secret_arn, "Admin user's credentials (ADMIN_DB_SECRET_ARN)"),
            "DbProxyEndpoint": (database.proxy_endpoint, "RDS Proxy endpoint (DB_HOST)"),
            "GlueLoadJobName": (glue_jobs.job_name(LOAD_JOB), "Glue job for big CSV files (GLUE_LOAD_JOB)"),
            "AppSubnetIds": (
                Fn.join(",", network.vpc.select_subnets(subnet_group_name="app").subnet_ids),
                "Subnets for the Lambda functions (subnet_ids)",
            ),
            "LambdaSecurityGroupId": (
                app.security_group.security_group_id,
                "Security group for the Lambda functions (security_group_ids)",
            ),
            "AlarmTopicArn": (monitoring.topic.topic_arn, "SNS topic every alarm notifies"),
        }
        if settings.api_uses_data_api:
            outputs["DbClusterArn"] = (
                database.cluster.cluster_arn,
                "Aurora cluster for the RDS Data API (rds-data://<arn>/hr?secret=<DbSecretArn>)",
            )
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)

        self.smoke_run = SmokeRun(self, "SmokeRun", app=app, database=database, settings=settings)
        acknowledge_cdk_handlers(self)
