"""Alarms, and where they go: an encrypted SNS topic (optionally e-mailed)."""

from __future__ import annotations

import re

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .settings import APP_NAME, StageSettings

# What chalicelib/autotester/checks.py publishes (embedded metric format; Powertools adds the `service` dimension).
AUTO_TESTER_NAMESPACE = "HrMigration/AutoTester"
AUTO_TESTER_FAILURES = "Failures"
# Log lines the app writes (chalicelib: loader.load, backups.create_backup) that metric filters count.
FILE_LOADED_MESSAGE = "file loaded"
BACKUP_WRITTEN_MESSAGE = "backup written"
# Alarm thresholds: a function running this close to its timeout, an API answering 5XX this often.
DURATION_NEAR_TIMEOUT = 0.8
API_5XX_RATE = 0.05
API_P99_LATENCY_MS = 5000
BACKUP_MAX_AGE_HOURS = 30  # the scheduled backup runs daily; one missed run pages


def lambda_metric(metric_name: str, function_name: str, statistic: str = "Sum", label: str | None = None):
    """One function's `AWS/Lambda` metric over 5 minutes."""
    return cloudwatch.Metric(
        namespace="AWS/Lambda",
        metric_name=metric_name,
        dimensions_map={"FunctionName": function_name},
        statistic=statistic,
        period=Duration.minutes(5),
        label=label,
    )


class Monitoring(Construct):
    """Alarms on Lambda errors, on the auto-tester's failures, on the database, and on failed Glue runs."""

    def __init__(self, scope: Construct, id: str, *, settings: StageSettings) -> None:
        super().__init__(scope, id)
        self._settings = settings
        key = kms.Key(self, "TopicKey", enable_key_rotation=True, description=f"{settings.stack_name}: alarm topic")
        for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
            # Alarms and EventBridge publish to the encrypted topic, so they must use its key.
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],  # in a key policy, "*" is this key
                )
            )
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name=f"{settings.stack_name} alarms", master_key=key, enforce_ssl=True
        )
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

    def _alarm(
        self,
        id: str,
        *,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=comparison,
            treat_missing_data=missing,
            alarm_description=description,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        alarm.add_ok_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm

    def lambda_errors(self, name: str, function_name: str) -> cloudwatch.Alarm:
        """Any invocation error (an exception escaped the handler, a timeout, out of memory)."""
        metric = lambda_metric("Errors", function_name, statistic="Sum")
        return self._alarm(
            f"{name}Errors",
            metric=metric,
            threshold=1,
            description=f"{name}: invocations failed in the last 5 minutes. Read its log group.",
        )

    def lambda_throttles(self, name: str, function_name: str) -> cloudwatch.Alarm:
        """Invocations refused for lack of concurrency (reserved concurrency reached, or the account's)."""
        metric = lambda_metric("Throttles", function_name, statistic="Sum")
        return self._alarm(
            f"{name}Throttles",
            metric=metric,
            threshold=1,
            description=f"{name}: invocations throttled in the last 5 minutes.",
        )

    def lambda_duration(self, name: str, function_name: str, timeout_seconds: float) -> cloudwatch.Alarm:
        """An invocation ran close to the function's timeout: the next bigger input will time out."""
        metric = lambda_metric("Duration", function_name, statistic="Maximum")
        return self._alarm(
            f"{name}NearTimeout",
            metric=metric,
            threshold=round(timeout_seconds * 1000 * DURATION_NEAR_TIMEOUT),
            description=f"{name}: an invocation ran longer than {DURATION_NEAR_TIMEOUT:.0%} of its "
            f"{timeout_seconds:g} s timeout.",
        )

    def api(self, api_name: str, stage: str) -> None:
        """API Gateway's 5XX rate and p99 latency for the stage."""
        dims = {"ApiName": api_name, "Stage": stage}
        self.api_metrics = {
            name: cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name=name,
                dimensions_map=dims,
                statistic=statistic,
                period=Duration.minutes(5),
            )
            for name, statistic in (("Count", "Sum"), ("4XXError", "Sum"), ("5XXError", "Sum"), ("Latency", "p99"))
        }
        self._alarm(
            "Api5xxRate",
            threshold=API_5XX_RATE,
            evaluation_periods=2,
            metric=cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name="5XXError",
                dimensions_map=dims,
                statistic="Average",
                period=Duration.minutes(5),
            ),
            description=f"More than {API_5XX_RATE:.0%} of API requests answered 5XX, 10 minutes running.",
        )
        self._alarm(
            "ApiLatencyP99",
            metric=self.api_metrics["Latency"],
            threshold=API_P99_LATENCY_MS,
            evaluation_periods=3,
            description=f"API p99 latency above {API_P99_LATENCY_MS} ms for 15 minutes.",
        )

    def failed_events(self, queues: dict[str, sqs.IQueue]) -> None:
        """Any event waiting in a failed-events queue: it was not processed and needs a look."""
        self.failed_event_metrics = {}
        for name, queue in queues.items():
            metric = queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            )
            self.failed_event_metrics[name] = metric
            self._alarm(
                f"{name}FailedEvents",
                metric=metric,
                threshold=1,
                description=f"{name}: asynchronous events failed every retry and wait in their queue. "
                "Re-drive or delete them (docs/operations.md).",
            )

    def data_metrics(self, log_groups: list[logs.ILogGroup]) -> None:
        """Rows loaded and rejected, and backups written, counted from the app's structured log lines."""
        namespace = f"{self._settings.stack_name}/Data"
        loaded = f'{{ $.message = "{FILE_LOADED_MESSAGE}" }}'
        written = f'{{ $.message = "{BACKUP_WRITTEN_MESSAGE}" }}'
        for i, group in enumerate(log_groups):
            for metric_name, pattern, value in (
                ("RowsLoaded", loaded, "$.inserted"),
                ("RowsRejected", loaded, "$.rejected_count"),
                ("BackupsWritten", written, "1"),
            ):
                logs.MetricFilter(
                    self,
                    f"{metric_name}{i}",
                    log_group=group,
                    metric_namespace=namespace,
                    metric_name=metric_name,
                    metric_value=value,
                    default_value=None,
                    filter_pattern=logs.FilterPattern.literal(pattern),
                )
        self.data = {
            name: cloudwatch.Metric(namespace=namespace, metric_name=name, statistic="Sum", period=Duration.hours(1))
            for name in ("RowsLoaded", "RowsRejected", "BackupsWritten")
        }
        self.backup_log_groups = log_groups
        self._alarm(
            "BackupAge",
            metric=self.data["BackupsWritten"],
            threshold=1,
            evaluation_periods=BACKUP_MAX_AGE_HOURS,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
            description=f"No backup was written in the last {BACKUP_MAX_AGE_HOURS} hours.",
        )

    def auto_tester_failures(self, rate: str) -> cloudwatch.Alarm:
        """The live API failed the auto-tester twice in a row, or the auto-tester stopped reporting."""
        metric = cloudwatch.Metric(
            namespace=AUTO_TESTER_NAMESPACE,
            metric_name=AUTO_TESTER_FAILURES,
            dimensions_map={"service": APP_NAME},
            statistic="Maximum",
            period=schedule_period(rate),
        )
        return self._alarm(
            "AutoTesterFailures",
            metric=metric,
            threshold=1,
            evaluation_periods=2,
            missing=cloudwatch.TreatMissingData.BREACHING,
            description="The auto-tester saw failing endpoints in two runs in a row, or did not run. "
            "Its log lines say which endpoint failed and why.",
        )

    def database(self, cluster: rds.DatabaseCluster) -> None:
        """CPU pressure, connections, and Serverless v2 capacity near its configured maximum."""
        self.db_metrics = {
            "CPU": cluster.metric_cpu_utilization(period=Duration.minutes(5), statistic="Average"),
            "Connections": cluster.metric_database_connections(period=Duration.minutes(5), statistic="Maximum"),
        }
        self._alarm(
            "DatabaseConnections",
            metric=self.db_metrics["Connections"],
            threshold=self._settings.db_connections_alarm,
            evaluation_periods=3,
            description=f"More than {self._settings.db_connections_alarm} database connections for 15 minutes "
            "(dbConnectionsAlarm): a runaway client, or the proxy pinning sessions.",
        )
        self._alarm(
            "DatabaseCpu",
            metric=cluster.metric_cpu_utilization(period=Duration.minutes(5), statistic="Average"),
            threshold=80,
            evaluation_periods=3,
            description="Aurora CPU above 80% for 15 minutes.",
        )
        self._alarm(
            "DatabaseCapacity",
            metric=cluster.metric("ACUUtilization", period=Duration.minutes(5), statistic="Average"),
            threshold=90,
            evaluation_periods=3,
            description="Aurora Serverless v2 above 90% of its maximum capacity (dbMaxCapacityAcu) for 15 minutes.",
        )

    def glue_job_failures(self, job_names: list[str]) -> events.Rule:
        """Every failed, stopped-by-timeout or errored Glue run goes to the topic as it happens."""
        rule = events.Rule(
            self,
            "GlueJobFailures",
            description=f"{self._settings.stack_name}: Glue job runs that did not succeed",
            event_pattern=events.EventPattern(
                source=["aws.glue"],
                detail_type=["Glue Job State Change"],
                detail={"jobName": job_names, "state": ["FAILED", "TIMEOUT", "ERROR"]},
            ),
        )
        rule.add_target(targets.SnsTopic(self.topic))
        self.glue_failures = cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="TriggeredRules",
            dimensions_map={"RuleName": rule.rule_name},
            statistic="Sum",
            period=Duration.minutes(5),
        )
        self._alarm(
            "GlueJobFailed",
            metric=self.glue_failures,
            threshold=1,
            description="A Glue job run failed, timed out or errored (the topic also got the event itself).",
        )
        return rule

    def dashboard(self, *, functions: dict[str, str], auto_tester_rate: str) -> cloudwatch.Dashboard:
        """What on-call looks at first: traffic, errors, latency, data in, backups, the auto-tester, the database."""

        def per_function(metric_name: str) -> list[cloudwatch.IMetric]:
            return [lambda_metric(metric_name, function, label=name) for name, function in functions.items()]

        api = self.api_metrics
        board = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self._settings.stack_name)
        board.add_widgets(
            cloudwatch.GraphWidget(title="API requests", left=[api["Count"]], width=8),
            cloudwatch.GraphWidget(title="API errors (4XX, 5XX)", left=[api["4XXError"], api["5XXError"]], width=8),
            cloudwatch.GraphWidget(title="API latency p99 (ms)", left=[api["Latency"]], width=8),
        )
        board.add_widgets(
            cloudwatch.GraphWidget(title="Function errors", left=per_function("Errors"), width=8),
            cloudwatch.GraphWidget(title="Function throttles", left=per_function("Throttles"), width=8),
            cloudwatch.GraphWidget(
                title="Failed events waiting", left=list(self.failed_event_metrics.values()), width=8
            ),
        )
        tester = cloudwatch.Metric(
            namespace=AUTO_TESTER_NAMESPACE,
            metric_name=AUTO_TESTER_FAILURES,
            dimensions_map={"service": APP_NAME},
            statistic="Maximum",
            period=schedule_period(auto_tester_rate),
        )
        board.add_widgets(
            cloudwatch.GraphWidget(
                title="Rows loaded and rejected",
                left=[self.data["RowsLoaded"]],
                right=[self.data["RowsRejected"]],
                width=8,
            ),
            cloudwatch.LogQueryWidget(
                title="Last backup",
                log_group_names=[g.log_group_name for g in self.backup_log_groups],
                width=8,
                query_lines=[
                    "fields @timestamp, backup, location",
                    f'filter message = "{BACKUP_WRITTEN_MESSAGE}"',
                    "sort @timestamp desc",
                    "limit 1",
                ],
            ),
            cloudwatch.SingleValueWidget(title="Auto-tester failures (last run)", metrics=[tester], width=8),
        )
        board.add_widgets(
            cloudwatch.GraphWidget(title="Database CPU %", left=[self.db_metrics["CPU"]], width=8),
            cloudwatch.GraphWidget(title="Database connections", left=[self.db_metrics["Connections"]], width=8),
            cloudwatch.GraphWidget(title="Glue job failures", left=[self.glue_failures], width=8),
        )
        board.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))
        return board


def schedule_period(rate: str) -> Duration:
    """The period of a `rate(...)` expression, so one data point is expected per period; cron: one hour."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", rate.strip())
    if not match:
        return Duration.hours(1)
    count, unit = int(match.group(1)), match.group(2).rstrip("s")
    return {"minute": Duration.minutes, "hour": Duration.hours, "day": Duration.days}[unit](count)
