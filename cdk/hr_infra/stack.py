"""One stack per stage: network, database, data bucket, Glue jobs, the Chalice app, monitoring."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Fn, RemovalPolicy, Stack, Tags
from constructs import Construct

from .api import AUTO_TESTER, S3_LOADER, ChaliceApp
from .data_bucket import DataBucket
from .database import Database
from .glue_jobs import GlueJobs, JobScript
from .monitoring import AUTO_TESTER_NAMESPACE, Monitoring
from .nag import acknowledge_cdk_handlers
from .network import Network
from .settings import APP_NAME, StageSettings

PROJECT_DIR = Path(__file__).resolve().parents[2]
LOAD_JOB = "load-csv"


def glue_job_scripts(project_dir: Path = PROJECT_DIR) -> list[JobScript]:
    """The three Glue jobs and their scripts under glue/."""
    glue_dir = project_dir / "glue"
    return [
        JobScript(LOAD_JOB, glue_dir / "load_csv.py", "Loads a CSV file too big for the S3 loader Lambda"),
        JobScript("backup-avro", glue_dir / "backup_avro.py", "Backs up tables to Avro under backups/"),
        JobScript("restore-avro", glue_dir / "restore_avro.py", "Restores one table from an Avro backup"),
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
            jobs=jobs if jobs is not None else glue_job_scripts(project_dir),
            project_dir=project_dir,
            network=network,
            database=database,
            data_bucket=data.bucket,
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

        monitoring = Monitoring(self, "Monitoring", settings=settings)
        for name in app.functions:
            monitoring.lambda_errors(name, app.function_name(name))
        monitoring.auto_tester_failures(settings.auto_tester_rate)
        monitoring.database(database.cluster)
        monitoring.glue_job_failures([job.job_name for job in glue_jobs.jobs.values()])

        self.app = app
        self.database = database
        self.data = data
        self.glue_jobs = glue_jobs
        self.monitoring = monitoring
        self.network = network

        outputs = {
            "ApiUrl": (app.endpoint.url, "Base URL of the API (send x-api-key)"),
            "DataBucketName": (data.bucket.bucket_name, "Data bucket: incoming/, rejected/, backups/"),
            "ApiKeyId": (app.access.key.ref, "API Gateway key id (its value is in ApiKeySecretArn)"),
            "ApiKeySecretArn": (app.access.key_secret.secret_arn, "Secret holding the API key value"),
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
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)

        acknowledge_cdk_handlers(self)
