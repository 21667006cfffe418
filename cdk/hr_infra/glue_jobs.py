"""The Glue (Spark) jobs: bulk CSV load, Avro backup and Avro restore, in the VPC next to the database."""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .data_bucket import GLUE_TEMP_PREFIX
from .database import MYSQL_PORT, Database
from .nag import S3_READ_WRITE_ACTIONS, acknowledge, bucket_objects
from .network import Network
from .settings import DB_NAME, StageSettings


@dataclass(frozen=True)
class JobScript:
    """One Glue job: its short name (``load-csv``), script and what it does.

    `arguments` are the job's own default arguments (names without ``--``; ``{bucket}`` is the data
    bucket's name), `run_arguments` the parameters its caller passes to each run, and `schedule` a
    Glue ``cron(...)`` expression when the job also runs on its own.
    """

    name: str
    script: Path
    description: str
    arguments: Mapping[str, str] = field(default_factory=dict)
    run_arguments: tuple[str, ...] = ()
    schedule: str | None = None


class GlueJobs(Construct):
    """The Glue 5.0 jobs with their scripts and the shared modules as assets, and their JDBC connection.

    The jobs run in the app subnets (there is no internet: PyMySQL ships in the `--extra-py-files` zip
    next to the shared `chalicelib` modules, rather than being pip-installed at start-up), read the
    database credentials from `--DB_SECRET_ARN`, and encrypt their logs and bookmarks with a KMS key.
    Their `--TempDir` is a prefix of `temp_bucket` (Spark checkpoints and the LOAD DATA part files),
    the only place there the role may list, read, write and delete.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        jobs: list[JobScript],
        project_dir: Path,
        network: Network,
        database: Database,
        data_bucket: s3.IBucket,
        temp_bucket: s3.IBucket,
        settings: StageSettings,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.security_group = network.security_group(
            self, "SecurityGroup", "Glue jobs: Spark workers talk to each other and to the database"
        )
        # Glue requires a self-referencing rule: Spark executors connect to each other on any port.
        self.security_group.add_ingress_rule(self.security_group, ec2.Port.all_tcp(), "Spark workers of the same job")
        self.security_group.add_egress_rule(self.security_group, ec2.Port.all_tcp(), "Spark workers of the same job")
        # Through the proxy: its certificate verifies against the JVM's and Python's own trust stores.
        database.allow_clients(self.security_group, "from the Glue jobs")

        subnet = network.vpc.select_subnets(subnet_group_name="app").subnets[0]
        cluster_endpoint = database.cluster.cluster_endpoint
        self.connection = glue.Connection(
            self,
            "Connection",
            type=glue.ConnectionType.JDBC,
            description="Aurora MySQL, from the app subnets",
            properties={
                "JDBC_CONNECTION_URL": f"jdbc:mysql://{cluster_endpoint.hostname}:{MYSQL_PORT}/{DB_NAME}",
                "JDBC_ENFORCE_SSL": "true",
            },
            secret=database.secret,
            security_groups=[self.security_group],
            network=glue.ConnectionNetwork.subnet(subnet),
        )

        self.key = kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description=f"{stack.stack_name}: Glue job logs and bookmarks",
        )
        log_group_arn = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws-glue/*"
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsEncryptsGlueLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
            )
        )
        self.security_configuration = glue.SecurityConfiguration(
            self,
            "SecurityConfiguration",
            cloud_watch_encryption=glue.CloudWatchEncryption.kms(self.key),
            job_bookmarks_encryption=glue.JobBookmarksEncryption.client_side_kms(self.key),
            s3_encryption=glue.S3Encryption.s3_managed(),
        )

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description="The HR migration Glue jobs",
        )
        data_bucket.grant_read_write(self.role)
        self._grant_temp_dir(temp_bucket)
        database.secret.grant_read(self.role)
        self.key.grant_encrypt_decrypt(self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueJobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
                resources=[log_group_arn, f"{log_group_arn}:log-stream:*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueJobMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueConnection",
                actions=["glue:GetConnection"],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(
                        service="glue", resource="connection", resource_name=self.connection.connection_name
                    ),
                ],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueJobNetworkInterfaces",
                # These EC2 actions have no resource-level permissions (except the tags, scoped below).
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcEndpoints",
                    "ec2:DescribeRouteTables",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcAttribute",
                ],
                resources=["*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueJobNetworkInterfaceTags",
                actions=["ec2:CreateTags", "ec2:DeleteTags"],
                resources=[f"arn:{Aws.PARTITION}:ec2:*:*:network-interface/*"],
                conditions={"ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}},
            )
        )

        acknowledge(
            self.role,
            "Read and write on the objects of the data bucket (CSV input, rejected rows, backups)",
            bucket_objects(data_bucket),
            *S3_READ_WRITE_ACTIONS,
        )
        acknowledge(
            self.role,
            "Read of the CDK asset objects: the job scripts and the shared-modules zip",
            "IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]",
        )
        acknowledge(
            self.role,
            "Glue writes its job logs to log groups and streams it names under /aws-glue/",
            "IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/*]",
            "IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/*:log-stream:*]",
        )
        acknowledge(
            self.role,
            "Glue creates the job's network interfaces at run time, so their ids are unknown; "
            "tagging is limited to Glue's own tag key",
            "IAM5[Resource::arn:<AWS::Partition>:ec2:*:*:network-interface/*]",
        )
        acknowledge(
            self.role,
            "EC2 describe/network-interface actions have no resource-level permissions; "
            "PutMetricData is limited to the Glue namespace by condition",
            "IAM5[Resource::*]",
        )
        acknowledge(
            self.role,
            "KMS actions granted by Key.grant_encrypt_decrypt on this construct's own key",
            "IAM5[Action::kms:GenerateDataKey*]",
            "IAM5[Action::kms:ReEncrypt*]",
        )
        shared = glue.Code.from_asset(str(self._stage_shared_modules(project_dir)))
        self.jobs: dict[str, glue.PySparkEtlJob] = {}
        for job in jobs:
            self.jobs[job.name] = glue.PySparkEtlJob(
                self,
                _construct_id(job.name),
                job_name=f"{stack.stack_name}-{job.name}",
                description=job.description,
                role=self.role,
                script=glue.Code.from_asset(str(job.script)),
                extra_python_files=[shared],
                glue_version=glue.GlueVersion.V5_0,
                worker_configuration=glue.WorkerConfiguration(
                    worker_type=glue.WorkerType.G_1X, number_of_workers=settings.glue_workers
                ),
                connections=[self.connection],
                security_configuration=self.security_configuration,
                continuous_logging=glue.ContinuousLoggingProps(enabled=True),
                enable_metrics=True,
                enable_observability_metrics=True,
                max_concurrent_runs=10 if job.name == "load-csv" else 1,
                max_retries=0,
                timeout=Duration.minutes(settings.glue_timeout_minutes),
                default_arguments={
                    "--TempDir": f"s3://{temp_bucket.bucket_name}/{GLUE_TEMP_PREFIX}",
                    "--DB_SECRET_ARN": database.secret.secret_arn,
                    "--DB_HOST": database.proxy_endpoint,
                    **{
                        f"--{name}": value.format(bucket=data_bucket.bucket_name)
                        for name, value in job.arguments.items()
                    },
                },
            )
            if job.schedule:
                glue.CfnTrigger(
                    self,
                    f"{_construct_id(job.name)}Schedule",
                    type="SCHEDULED",
                    schedule=job.schedule,
                    start_on_creation=True,
                    description=f"{stack.stack_name}: runs {job.name} on its schedule",
                    actions=[glue.CfnTrigger.ActionProperty(job_name=self.jobs[job.name].job_name)],
                )

    def _grant_temp_dir(self, bucket: s3.IBucket) -> None:
        """What the jobs do under --TempDir: Spark (EMRFS) lists, writes, reads, renames (a copy and a
        delete) and deletes checkpoints and part files; the driver downloads the parts with boto3.
        The bucket is SSE-S3, as the security configuration writes, so no KMS key is involved."""
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueTempDirObjects",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[bucket.arn_for_objects(f"{GLUE_TEMP_PREFIX}*")],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueTempDirList",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": f"{GLUE_TEMP_PREFIX}*"}},
            )
        )
        acknowledge(
            self.role,
            "Read, write and delete on the objects under the jobs' --TempDir prefix of their scratch bucket",
            bucket_objects(bucket, GLUE_TEMP_PREFIX),
        )

    def job_name(self, name: str) -> str:
        return self.jobs[name].job_name

    def job_arn(self, name: str) -> str:
        return self.jobs[name].job_arn

    @staticmethod
    def _stage_shared_modules(project_dir: Path) -> Path:
        """The `--extra-py-files` zip, built by the project's own `glue/build_package.py` (one definition
        of what the jobs ship: hrjobs, the shared chalicelib modules and the pinned PyMySQL)."""
        spec = importlib.util.spec_from_file_location(
            "hr_glue_build_package", project_dir / "glue" / "build_package.py"
        )
        builder = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(builder)
        return builder.build_libs(Path(tempfile.mkdtemp(prefix="hr-glue-libs-")) / "glue-libs.zip")


def _construct_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-")) + "Job"
