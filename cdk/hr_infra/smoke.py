"""A smoke run after every deploy that changes the app: a CDK trigger that fails the deploy if it fails."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, triggers
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .api import AUTO_TESTER, ChaliceApp
from .database import Database
from .nag import acknowledge, allow_tracing
from .settings import StageSettings

HANDLER_DIR = Path(__file__).resolve().parent / "smoke_handler"


class SmokeRun(Construct):
    """Runs the real auto-tester function once the API, its key and usage plan, and the database's users
    and tables are deployed. The auto-tester calls the API as the built-in `auto-tester` client (read scope).

    The trigger runs again whenever its handler changes; the handler's environment names the app's
    deployment package, so every deploy of new app code runs it.
    """

    def __init__(
        self, scope: Construct, id: str, *, app: ChaliceApp, database: Database, settings: StageSettings
    ) -> None:
        super().__init__(scope, id)
        tester = app.functions[AUTO_TESTER]
        package = app.chalice.node.find_child("ChaliceAppCode").asset_hash  # the app's deployment.zip
        log_group = logs.LogGroup(
            self,
            "Logs",
            retention=settings.log_retention,
            removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{settings.stack_name}: smoke run after a deploy",
        )
        log_group.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="RunTheAutoTester",
                actions=["lambda:InvokeFunction"],
                resources=[tester.get_att("Arn").to_string()],
            )
        )
        allow_tracing(role)
        self.function = lambda_.Function(
            self,
            "Handler",
            runtime=lambda_.Runtime.PYTHON_3_11,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(HANDLER_DIR)),
            timeout=Duration.minutes(5),
            log_group=log_group,
            role=role,
            description=f"{settings.stack_name}: smoke run of the auto-tester after a deploy",
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=1,
            environment={
                "AUTO_TESTER": app.function_name(AUTO_TESTER),
                "APP_PACKAGE": package,
            },
        )
        self.trigger = triggers.Trigger(
            self,
            "Trigger",
            handler=self.function,
            # The API, its key and plan, and the users' bootstrap, which creates the tables the reports read.
            execute_after=[app.chalice, app.access, database.users.bootstrap],
            execute_on_handler_change=True,
            timeout=Duration.minutes(6),
            invocation_type=triggers.InvocationType.REQUEST_RESPONSE,
        )
        acknowledge(
            self.function,
            "The smoke run invokes one function (the auto-tester, which calls the API); it needs no "
            "VPC, and runs synchronously once per deploy",
            "L1",
        )
