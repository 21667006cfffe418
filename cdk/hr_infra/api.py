"""The Chalice app (routes, S3 loader, schedules) packaged by `chalice.cdk.Chalice`, and its API key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Acknowledgment, Annotations, Fn, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.aws_sam import CfnFunction
from chalice.cdk import Chalice
from constructs import Construct

from .database import Database
from .failed_events import FailedEvents
from .nag import S3_READ_WRITE_ACTIONS, acknowledge, allow_tracing, bucket_objects
from .network import Network
from .settings import DB_NAME, StageSettings

USAGE_PLAN_TAG = "usage-plan"  # chalicelib.access.usage.PLAN_TAG: each client's usage key names its plan

# Logical ids Chalice gives the functions of app.py (see chalice.utils.to_cfn_resource_name).
API_HANDLER = "APIHandler"  # every route
CLIENT_KEY = "ClientKey"  # @app.authorizer(name="client_key"): reads the clients' keys from the database
S3_LOADER = "S3Loader"  # @app.lambda_function(name="s3_loader")
AUTO_TESTER = "AutoTester"  # @app.schedule, def auto_tester
SCHEDULED_BACKUP = "ScheduledBackup"  # @app.schedule(name="scheduled_backup")
JOB_REAPER = "JobReaper"  # @app.schedule(name="job_reaper")
SCHEDULED_PURGE = "ScheduledPurge"  # @app.schedule(name="scheduled_purge")
SCHEDULED_CHECK = "ScheduledCheck"  # @app.schedule(name="scheduled_check")
# Invoked asynchronously (S3 notifications, EventBridge schedules): their failed events need a destination.
ASYNC_FUNCTIONS = (S3_LOADER, SCHEDULED_BACKUP, AUTO_TESTER, JOB_REAPER, SCHEDULED_PURGE, SCHEDULED_CHECK)
REST_API = "RestAPI"
API_STAGE = "api"  # `api_gateway_stage` in .chalice/config.json
# What API Gateway writes per request ($context variables), as one JSON object.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "time": "$context.requestTime",
    "sourceIp": "$context.identity.sourceIp",
    "apiKeyId": "$context.identity.apiKeyId",
    "method": "$context.httpMethod",
    "resource": "$context.resourcePath",
    "path": "$context.path",
    "status": "$context.status",
    "responseBytes": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "error": "$context.error.message",
}
# Errors API Gateway answers itself, in the app's shape {"error", "detail"}: response type -> (status, error).
# A None status keeps the type's own (DEFAULT_4XX/5XX cover every type not listed). Every refused key is a
# 403 "forbidden", as under `chalice local`: a missing one (UNAUTHORIZED: the TOKEN authorizer has nothing
# to read, 401 by default), an unknown or revoked one (ACCESS_DENIED: the authorizer's Deny), a client
# without a usage key on the plan, or whose usage key was deleted (INVALID_API_KEY).
GATEWAY_RESPONSES: dict[str, tuple[str | None, str]] = {
    "DEFAULT_4XX": (None, "request refused"),
    "DEFAULT_5XX": (None, "gateway error"),
    "UNAUTHORIZED": ("403", "forbidden"),
    "INVALID_API_KEY": ("403", "forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": ("403", "forbidden"),
    "ACCESS_DENIED": ("403", "forbidden"),
    "AUTHORIZER_FAILURE": ("500", "authorizer error"),
    "AUTHORIZER_CONFIGURATION_ERROR": ("500", "authorizer error"),
    "THROTTLED": ("429", "too many requests"),
    "QUOTA_EXCEEDED": ("429", "quota exceeded"),
    "REQUEST_TOO_LARGE": ("413", "payload too large"),
    "UNSUPPORTED_MEDIA_TYPE": ("415", "unsupported media type"),
    "INTEGRATION_TIMEOUT": ("504", "gateway timeout"),
    "INTEGRATION_FAILURE": ("504", "gateway error"),
}
# $context.error.messageString is the gateway's message as a quoted JSON string.
GATEWAY_RESPONSE_TEMPLATE = '{{"error": "{error}", "detail": $context.error.messageString}}'


@dataclass(frozen=True)
class ApiEndpoint:
    url: str
    rest_api_id: str


class ChaliceApp(Construct):
    """The Chalice app with its roles, log groups and stage configuration from the stack.

    A role per kind of function, each holding only what its functions call: the auto-tester reads the
    API key and nothing else and runs outside the VPC (it calls the public API like any client); the S3
    loader may also start the Glue load job; the API handler (`api_role`) alone reads the admin user's
    secret (its /admin/schema routes), and the authorizer (`authorizer_role`) reads the app user's secret
    and the stack's API key; the scheduled functions (backup, purge, check, job reaper) share the app
    role, with the app user's secret and the data bucket only. All logs go to log groups with a
    retention period.

    With the stage's `apiDatabaseAccess` "data-api", the API handler and its authorizer run outside the
    VPC and their roles call the RDS Data API on the cluster, as the app user (and, for the handler's
    /admin/schema routes, the admin user), with no network-interface rights; with "vpc" they run in the
    VPC and log in through the RDS Proxy with those users' secrets.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project_dir: Path,
        settings: StageSettings,
        network: Network,
        database: Database,
        data_bucket: s3.IBucket,
        load_job_name: str,
        load_job_arn: str,
    ) -> None:
        super().__init__(scope, id)
        self._settings = settings
        self.security_group = network.security_group(self, "SecurityGroup", "Lambda functions of the Chalice app")
        database.allow_clients(self.security_group, "from the Lambda functions")

        self.app_role = self._role("AppRole", "scheduled backup, purge, check and job reaper", in_vpc=True)
        self.loader_role = self._role("LoaderRole", "S3 loader", in_vpc=True)
        self.auto_tester_role = self._role("AutoTesterRole", "scheduled auto-tester", in_vpc=False)
        for role in (self.app_role, self.loader_role):
            database.secret.grant_read(role)
            data_bucket.grant_read_write(role)
        # The API's functions on roles of their own: in the VPC through the proxy, or outside it (data-api).
        api_in_vpc = not settings.api_uses_data_api
        through = "" if api_in_vpc else ", through the RDS Data API"
        self.api_role = self._role("ApiRole", f"API routes{through}", in_vpc=api_in_vpc)
        self.authorizer_role = self._role("AuthorizerRole", f"API authorizer{through}", in_vpc=api_in_vpc)
        data_bucket.grant_read_write(self.api_role)
        if api_in_vpc:
            database.secret.grant_read(self.api_role)
            database.admin_secret.grant_read(self.api_role)  # read only by the /admin/schema routes
            database.secret.grant_read(self.authorizer_role)
        else:
            database.grant_data_api(self.api_role, database.secret, database.admin_secret)
            database.grant_data_api(self.authorizer_role, database.secret)
        self.loader_role.add_to_policy(
            iam.PolicyStatement(
                sid="StartTheLoadJob",
                actions=["glue:StartJobRun", "glue:GetJobRun"],
                resources=[load_job_arn],
            )
        )
        for role in dict.fromkeys((self.app_role, self.loader_role, self.api_role)):
            acknowledge(
                role,
                "Read and write on the objects of the data bucket only (incoming/, rejected/, "
                "backups/ are all this app's)",
                bucket_objects(data_bucket),
                *S3_READ_WRITE_ACTIONS,
            )

        self.access = ApiAccess(self, "Access", settings=settings)
        self.access.key_secret.grant_read(self.auto_tester_role)

        # Chalice names its stage after its scope's construct path, so it sits directly under the stack:
        # the stack's id is `dev` or `prod`, and so the app reads that stage of .chalice/config.json.
        stack = Stack.of(self)
        self.chalice = Chalice(
            stack,
            "ChaliceApp",
            source_dir=str(project_dir),
            stage_config={
                "manage_iam_role": False,
                "iam_role_arn": self.app_role.role_arn,
                "subnet_ids": network.vpc.select_subnets(subnet_group_name="app").subnet_ids,
                "security_group_ids": [self.security_group.security_group_id],
                "log_retention_in_days": 0,  # the log groups are made below, with grants to each role
                "environment_variables": {
                    "DB_SECRET_ARN": database.secret.secret_arn,
                    "DB_HOST": database.proxy_endpoint,
                    "DB_NAME": DB_NAME,
                    "DATA_BUCKET": data_bucket.bucket_name,
                    "LOADER_MAX_BYTES": str(settings.loader_max_bytes),
                },
            },
        )
        self.functions = self._functions()
        for name in (API_HANDLER, AUTO_TESTER, CLIENT_KEY):
            if name not in self.functions:
                raise ValueError(
                    f"app.py defines no function with logical id {name!r} (found {sorted(self.functions)})"
                )
        if S3_LOADER in self.functions:
            self._use_role(S3_LOADER, self.loader_role)
            # Only the loader starts the load job, so only it is told which one.
            self.chalice.add_environment_variable("GLUE_LOAD_JOB", load_job_name, S3_LOADER)
        else:
            Annotations.of(self).add_warning_v2(
                "hr:no-s3-loader", "app.py has no s3_loader function: objects put in incoming/ will not be loaded"
            )
        for name, function in self.functions.items():
            if name != S3_LOADER:  # .chalice/config.json names it for every function under `chalice deploy`
                function.add_property_deletion_override("Environment.Variables.GLUE_LOAD_JOB")
        self._use_role(AUTO_TESTER, self.auto_tester_role)
        self._use_role(API_HANDLER, self.api_role)
        self._use_role(CLIENT_KEY, self.authorizer_role)
        for variable in ("DATA_BUCKET", "LOADER_MAX_BYTES"):  # the authorizer reads clients, not files
            self.functions[CLIENT_KEY].add_property_deletion_override(f"Environment.Variables.{variable}")
        tester = self.functions[AUTO_TESTER]
        tester.add_property_deletion_override("VpcConfig")
        if settings.api_uses_data_api:
            self._use_data_api(database)
        else:
            # Only the /admin/schema routes use the admin user: no other function is pointed at its secret.
            self.chalice.add_environment_variable("ADMIN_DB_SECRET_ARN", database.admin_secret.secret_arn, API_HANDLER)
        for variable in (
            "DB_SECRET_ARN",
            "DB_HOST",
            "DB_NAME",
            "DATA_BUCKET",
            "LOADER_MAX_BYTES",
        ):
            # The auto-tester is a client of the API: it is told nothing about the data behind it.
            tester.add_property_deletion_override(f"Environment.Variables.{variable}")
        self.endpoint = ApiEndpoint(
            url=Fn.sub(f"https://${{{REST_API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{API_STAGE}/"),
            rest_api_id=Fn.ref(REST_API),
        )
        self._access_logs(settings)
        self.chalice.add_environment_variable("API_URL", self.endpoint.url, AUTO_TESTER)
        self.chalice.add_environment_variable("API_KEY_SECRET_ARN", self.access.key_secret.secret_arn, AUTO_TESTER)
        # The authorizer knows the auto-tester by that same key (chalicelib.access.clients.monitor: read only).
        self.chalice.add_environment_variable("API_KEY_SECRET_ARN", self.access.key_secret.secret_arn, CLIENT_KEY)
        self.authorizer_role.add_to_policy(
            iam.PolicyStatement(
                sid="KnowTheAutoTester",
                actions=["secretsmanager:GetSecretValue"],
                resources=[self.access.key_secret.secret_arn],
            )
        )
        # `@app.schedule` fixes a default rate in code; each stage sets its own from cdk.json.
        tester.add_property_override(f"Events.{AUTO_TESTER}Event.Properties.Schedule", settings.auto_tester_rate)

        roles = {
            S3_LOADER: self.loader_role,
            AUTO_TESTER: self.auto_tester_role,
            API_HANDLER: self.api_role,
            CLIENT_KEY: self.authorizer_role,
        }
        self.log_groups: dict[str, logs.LogGroup] = {}
        for name, function in self.functions.items():
            group = logs.LogGroup(
                self,
                f"{name}Logs",
                log_group_name=Fn.join("", ["/aws/lambda/", function.ref]),
                retention=settings.log_retention,
                removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
            )
            group.grant_write(roles.get(name, self.app_role))
            self.log_groups[name] = group

        self.access.attach(rest_api_id=self.endpoint.rest_api_id)
        # The authorizer refuses a client without a usage key, and logs why. (It cannot be told the plan's
        # id: the plan names the API's stage, and the API names the authorizer.)
        self.chalice.add_environment_variable("METER_CLIENTS", "true", CLIENT_KEY)
        self._harden_api(settings)
        self._trace_and_limit(settings)
        self.failed_events = FailedEvents(
            self,
            "FailedEvents",
            removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
        )
        for name in ASYNC_FUNCTIONS:
            if name in self.functions:
                self.failed_events.add(name, self.function_name(name), roles.get(name, self.app_role))

    def _use_data_api(self, database: Database) -> None:
        """The API handler and the authorizer outside the VPC, on their own roles, told the database's Data
        API URL (`DATABASE_URL`, the app user) instead of the RDS Proxy's host and the secret to log in with."""
        for name in (API_HANDLER, CLIENT_KEY):
            function = self.functions[name]
            function.add_property_deletion_override("VpcConfig")
            for variable in ("DB_SECRET_ARN", "DB_HOST", "DB_NAME"):
                function.add_property_deletion_override(f"Environment.Variables.{variable}")
            self.chalice.add_environment_variable("DATABASE_URL", database.data_api_url(database.secret), name)
        # The /admin/schema routes' user (the handler alone); the authorizer reads the clients and nothing else.
        self.chalice.add_environment_variable(
            "ADMIN_DATABASE_URL", database.data_api_url(database.admin_secret), API_HANDLER
        )

    def _harden_api(self, settings: StageSettings) -> None:
        """The stage's own throttling (below the usage plan's, for callers without a key too), execution
        logs of errors only (never bodies), metrics, X-Ray, a per-stage API name, one error shape."""
        rest_api = self.chalice.sam_template.get_resource(REST_API)
        rest_api.add_property_override("Name", settings.stack_name)  # the ApiName dimension of its metrics
        rest_api.add_property_override("TracingEnabled", True)
        rest_api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "MetricsEnabled": True,
                    "LoggingLevel": "ERROR",
                    "DataTraceEnabled": False,
                    "ThrottlingRateLimit": settings.api_throttle_rate_per_second,
                    "ThrottlingBurstLimit": settings.api_throttle_burst,
                }
            ],
        )
        rest_api.add_property_override("DefinitionBody.x-amazon-apigateway-gateway-responses", gateway_responses())
        # The key API Gateway meters is the one the authorizer names (usageIdentifierKey), not the caller's header.
        rest_api.add_property_override("DefinitionBody.x-amazon-apigateway-api-key-source", "AUTHORIZER")

    def _trace_and_limit(self, settings: StageSettings) -> None:
        """X-Ray on every function; reserved concurrency where a runaway would exhaust the database."""
        roles = (self.app_role, self.loader_role, self.auto_tester_role, self.api_role, self.authorizer_role)
        for role in roles:
            allow_tracing(role)
        for function in self.functions.values():
            function.add_property_override("Tracing", "Active")
        # A scheduled run overlapping the previous one would only repeat its work.
        limits = {
            S3_LOADER: settings.loader_reserved_concurrency,
            SCHEDULED_BACKUP: 1,
            JOB_REAPER: 1,
            SCHEDULED_PURGE: 1,
            SCHEDULED_CHECK: 1,
        }
        for name, limit in limits.items():
            if name in self.functions:
                self.functions[name].add_property_override("ReservedConcurrentExecutions", limit)

    def _access_logs(self, settings: StageSettings) -> None:
        """One JSON line per API request (caller, key id, route, status, latencies) in a log group with the
        stage's retention; and, if the stage owns it, API Gateway's account-level role for writing logs."""
        self.access_log_group = logs.LogGroup(
            self,
            "ApiAccessLogs",
            retention=settings.log_retention,
            removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
        )
        rest_api = self.chalice.sam_template.get_resource(REST_API)
        rest_api.add_property_override(
            "AccessLogSetting",
            {
                "DestinationArn": self.access_log_group.log_group_arn,
                "Format": json.dumps(ACCESS_LOG_FORMAT),
            },
        )
        if not settings.api_gateway_account_role:
            return
        role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description=f"{settings.stack_name}: API Gateway (account-wide) writes access logs to CloudWatch Logs",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
            ],
        )
        acknowledge(
            role,
            "The AWS managed policy made for API Gateway's account-level logging role",
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        )
        account = apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        rest_api.add_dependency(account)  # the stage's access logging needs the role in place

    def function(self, name: str) -> lambda_.IFunction:
        """The function `name` (a logical id) as a CDK function that can be granted and notified.

        `Chalice.get_function` imports it by ARN only, and an imported function's `add_permission` does
        nothing; declaring it in the same environment lets CDK add the permissions S3 needs.
        """
        function = self.functions[name]
        return lambda_.Function.from_function_attributes(
            self,
            f"{name}Function",
            function_arn=function.get_att("Arn").to_string(),
            same_environment=True,
            skip_permissions=False,
        )

    def function_name(self, name: str) -> str:
        return self.functions[name].ref

    def _functions(self) -> dict[str, CfnFunction]:
        return {
            child.node.id: child for child in self.chalice.sam_template.node.children if isinstance(child, CfnFunction)
        }

    def _use_role(self, name: str, role: iam.Role) -> None:
        self.functions[name].add_property_override("Role", role.role_arn)

    def _role(self, id: str, purpose: str, *, in_vpc: bool) -> iam.Role:
        role = iam.Role(
            self,
            id,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{self._settings.stack_name}: {purpose}",
        )
        if in_vpc:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="LambdaNetworkInterfaces",
                    # The actions of AWSLambdaVPCAccessExecutionRole; EC2 gives them no resource-level permissions.
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=["*"],
                )
            )
            acknowledge(
                role,
                "EC2 network-interface actions for a Lambda function in a VPC have no resource-level "
                "permissions (the actions of AWSLambdaVPCAccessExecutionRole)",
                "IAM5[Resource::*]",
            )
        return role


class ApiAccess(Construct):
    """The usage plan that throttles and meters each client, the stack's own API key on it (its value
    generated into Secrets Manager, read by the auto-tester), and the operator's policy for `clients`.

    The routes declared with `api_key_required=True` need a key on the plan, and with the API's key
    source AUTHORIZER it is the key the authorizer names for the caller's client (`usageIdentifierKey`):
    `clients add` makes one per client. Rotating the stack's key means bumping `apiKeyGeneration`.
    """

    def __init__(self, scope: Construct, id: str, *, settings: StageSettings) -> None:
        super().__init__(scope, id)
        self._settings = settings
        generation = settings.api_key_generation
        self.key_secret = secretsmanager.Secret(
            self,
            f"KeyValue{generation}",
            secret_name=f"{settings.stack_name}/api-key-{generation}",
            description=f"{settings.stack_name}: value of the API key (generation {generation})",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=40, exclude_punctuation=True, include_space=False
            ),
        )
        acknowledge(
            self.key_secret,
            "The API key is rotated by bumping apiKeyGeneration and deploying: API Gateway "
            "keys cannot be changed in place by a Secrets Manager rotation function",
            "SMG4",
        )
        self.key = apigateway.CfnApiKey(
            self,
            f"Key{generation}",
            enabled=True,
            description=f"{settings.stack_name}: API key, generation {generation}",
            value=self.key_secret.secret_value.unsafe_unwrap(),
        )

    def attach(self, *, rest_api_id: str) -> None:
        """Create the usage plan for the API's stage and put the key on it."""
        settings = self._settings
        self.usage_plan = apigateway.CfnUsagePlan(
            self,
            "UsagePlan",
            description=f"{settings.stack_name}: throttling and daily quota for API key holders",
            api_stages=[
                apigateway.CfnUsagePlan.ApiStageProperty(api_id=rest_api_id, stage=Fn.ref(f"{REST_API}.Stage"))
            ],
            throttle=apigateway.CfnUsagePlan.ThrottleSettingsProperty(
                rate_limit=settings.api_throttle_rate_per_second, burst_limit=settings.api_throttle_burst
            ),
            quota=apigateway.CfnUsagePlan.QuotaSettingsProperty(limit=settings.api_quota_per_day, period="DAY"),
        )
        Validations.of(self.usage_plan).acknowledge(
            Acknowledgment(
                id="CloudFormation-Validate::F1020",
                reason=(
                    "RestAPI.Stage is the stage the Serverless transform generates for the Chalice API; SAM resolves it"
                ),
            )
        )
        apigateway.CfnUsagePlanKey(
            self, "UsagePlanKey", key_id=self.key.ref, key_type="API_KEY", usage_plan_id=self.usage_plan.ref
        )
        self.clients_admin_policy = self._clients_admin_policy()

    def _clients_admin_policy(self) -> iam.ManagedPolicy:
        """What `clients add|rotate|revoke` needs in API Gateway, for the operator to attach to their role:
        make usage keys tagged with this plan, put them on it, find them there, delete them; nothing else.
        API keys are per account and region, not per API: the plan's tag keeps the operator to this stage's."""
        stack, plan = Stack.of(self), self.usage_plan.ref
        apigateway_arn = f"arn:{stack.partition}:apigateway:{stack.region}::"
        plan_keys = f"{apigateway_arn}/usageplans/{plan}/keys"
        policy = iam.ManagedPolicy(
            self,
            "ClientsAdminPolicy",
            description=f"{self._settings.stack_name}: usage keys of the API's clients (clients add/rotate/revoke)",
            statements=[
                iam.PolicyStatement(
                    sid="CreateUsageKeysTaggedWithThePlan",
                    actions=["apigateway:POST"],
                    resources=[f"{apigateway_arn}/apikeys"],
                    conditions={"StringEquals": {f"aws:RequestTag/{USAGE_PLAN_TAG}": plan}},
                ),
                iam.PolicyStatement(
                    sid="DeleteUsageKeysOfThePlan",
                    actions=["apigateway:DELETE"],
                    resources=[f"{apigateway_arn}/apikeys/*"],
                    conditions={"StringEquals": {f"aws:ResourceTag/{USAGE_PLAN_TAG}": plan}},
                ),
                iam.PolicyStatement(
                    sid="PutAndFindKeysOnThePlan",
                    actions=["apigateway:POST", "apigateway:GET"],
                    resources=[plan_keys],
                ),
            ],
        )
        acknowledge(
            policy,
            "A key's id is made by API Gateway, so deletion names every key; the condition on the plan's tag "
            "limits it to this stage's usage keys",
            "IAM5[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/apikeys/*]",
        )
        return policy


def gateway_responses() -> dict:
    """`x-amazon-apigateway-gateway-responses` for GATEWAY_RESPONSES."""
    responses = {}
    for kind, (status, error) in GATEWAY_RESPONSES.items():
        response: dict = {"responseTemplates": {"application/json": GATEWAY_RESPONSE_TEMPLATE.format(error=error)}}
        if status:
            response["statusCode"] = status
        responses[kind] = response
    return responses
