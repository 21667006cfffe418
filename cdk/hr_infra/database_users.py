"""The service's MySQL users besides the master: `hr_app` (data work: the Lambda functions and the Glue
jobs) and `hr_admin` (schema changes). What each may do is defined once, in `chalicelib.db.users`.

Each user has its own Secrets Manager secret (attached to the cluster: username, password, host, port,
dbname), rotated by the multi-user rotation with the master secret, and is created or updated by a
bootstrap function (a CloudFormation custom resource) that logs in as the master user through the
RDS Proxy: on the first deploy, and again whenever the code that defines the rights changes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import tempfile
from pathlib import Path

from aws_cdk import CfnResource, CustomResource, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from .nag import acknowledge
from .network import Network
from .settings import DB_NAME, StageSettings

APP_USER = "hr_app"
ADMIN_USER = "hr_admin"
# Characters that would need quoting in a URL or a shell; the rotation function uses the same set.
EXCLUDED_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"


def shared_modules_zip(project_dir: Path) -> Path:
    """The zip of the shared `chalicelib` modules and PyMySQL, built by `glue/build_package.py` (the Glue
    jobs ship the same one): the bootstrap function runs `chalicelib.db.users.bootstrap` from it."""
    spec = importlib.util.spec_from_file_location("hr_glue_build_package", project_dir / "glue" / "build_package.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder.build_libs(Path(tempfile.mkdtemp(prefix="hr-db-users-")) / "db-users.zip")


def _logical_id(construct: Construct) -> str:
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource)
    return Stack.of(construct).resolve(Stack.of(construct).get_logical_id(resource))


class DatabaseUsers(Construct):
    """The app and admin users' secrets (made before the RDS Proxy, which must hold them), their
    rotation, and (`add_bootstrap`, once the proxy exists) the function that creates them."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: rds.DatabaseCluster,
        master_secret: secretsmanager.ISecret,
        settings: StageSettings,
    ) -> None:
        super().__init__(scope, id)
        stack_name = settings.stack_name
        self._cluster, self._master_secret, self._settings = cluster, master_secret, settings
        # The app's secret keeps the name the app has always read (`chalice deploy` alone is granted it).
        self.app_secret = self._secret("AppSecret", APP_USER, f"{stack_name}/db")
        self.admin_secret = self._secret("AdminSecret", ADMIN_USER, f"{stack_name}/db-admin")

    def _secret(self, id: str, username: str, name: str) -> secretsmanager.ISecret:
        secret = rds.DatabaseSecret(
            self,
            id,
            username=username,
            secret_name=name,
            master_secret=self._master_secret,  # what the multi-user rotation logs in with
            exclude_characters=EXCLUDED_CHARACTERS,
        )
        return secret.attach(self._cluster)  # adds host, port, dbname... of the cluster

    def add_rotation(self, network: Network, security_group: ec2.ISecurityGroup) -> None:
        """Rotate both users' passwords (alternating user and clone, so live connections keep working)."""
        for id, secret in (("AppRotation", self.app_secret), ("AdminRotation", self.admin_secret)):
            self._cluster.add_rotation_multi_user(
                id,
                secret=secret,
                automatically_after=Duration.days(self._settings.db_secret_rotation_days),
                vpc_subnets=network.app_subnets,
                security_group=security_group,
            )

    def add_bootstrap(self, *, project_dir: Path, network: Network, proxy_endpoint: str) -> ec2.ISecurityGroup:
        """The custom resource creating the users and the service's tables (`self.bootstrap`); returns its
        function's security group (to be let in by the proxy)."""
        archive = shared_modules_zip(project_dir)
        security_group = network.security_group(self, "BootstrapSecurityGroup", "Database users bootstrap")
        function = lambda_.Function(
            self,
            "Bootstrap",
            description="Creates the service's MySQL users, grants and tables (chalicelib.db.users)",
            runtime=lambda_.Runtime.PYTHON_3_11,
            handler="chalicelib.db.users.bootstrap",
            code=lambda_.Code.from_asset(str(archive)),
            timeout=Duration.minutes(2),
            vpc=network.vpc,
            vpc_subnets=network.app_subnets,
            security_groups=[security_group],
            log_retention=None,
            log_group=logs.LogGroup(self, "BootstrapLog", retention=self._settings.log_retention),
            environment={
                "MASTER_SECRET_ARN": self._master_secret.secret_arn,
                "APP_SECRET_ARN": self.app_secret.secret_arn,
                "ADMIN_SECRET_ARN": self.admin_secret.secret_arn,
                "DB_HOST": proxy_endpoint,
                "DB_NAME": DB_NAME,
            },
        )
        for secret in (self._master_secret, self.app_secret, self.admin_secret):
            secret.grant_read(function)
        provider = cr.Provider(self, "Provider", on_event_handler=function)
        self.bootstrap = resource = CustomResource(
            self,
            "Users",
            service_token=provider.service_token,
            resource_type="Custom::DatabaseUsers",
            # A new definition of the rights (the code) applies them again; re-applying is harmless.
            properties={"Definition": hashlib.sha256(archive.read_bytes()).hexdigest()},
        )
        resource.node.add_dependency(self._cluster)
        acknowledge(
            function,
            "The bootstrap function runs in the VPC: its ENI actions have no resource-level permissions",
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
        )
        acknowledge(function, "Python 3.11: the runtime of the Lambda functions and of Glue 5.0", "L1")
        acknowledge(
            provider,
            "CDK's custom-resource framework function: AWSLambdaBasicExecutionRole for its own logs, and "
            "invoking any version of the bootstrap function",
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            f"IAM5[Resource::<{_logical_id(function)}.Arn>:*]",
            "L1",
        )
        return security_group
