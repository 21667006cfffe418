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
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from .settings import APP_NAME, StageSettings

# What chalicelib/autotester/checks.py publishes (embedded metric format; Powertools adds the `service` dimension).
AUTO_TESTER_NAMESPACE = "HrMigration/AutoTester"
AUTO_TESTER_FAILURES = "Failures"


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
        metric = cloudwatch.Metric(
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions_map={"FunctionName": function_name},
            statistic="Sum",
            period=Duration.minutes(5),
        )
        return self._alarm(
            f"{name}Errors",
            metric=metric,
            threshold=1,
            description=f"{name}: invocations failed in the last 5 minutes. Read its log group.",
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
        """CPU pressure, and Serverless v2 capacity near its configured maximum."""
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
        return rule


def schedule_period(rate: str) -> Duration:
    """The period of a `rate(...)` expression, so one data point is expected per period; cron: one hour."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", rate.strip())
    if not match:
        return Duration.hours(1)
    count, unit = int(match.group(1)), match.group(2).rstrip("s")
    return {"minute": Duration.minutes, "hour": Duration.hours, "day": Duration.days}[unit](count)
