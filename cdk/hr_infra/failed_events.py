"""Where an asynchronous invocation goes when it has failed its retries: an encrypted SQS queue per function."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .nag import acknowledge

# Lambda retries a failed asynchronous event twice; then it goes to the queue, kept for the longest SQS allows.
RETRIES = 2
RETENTION = Duration.days(14)


class FailedEvents(Construct):
    """One on-failure destination queue per asynchronously invoked function (S3 notifications, schedules).

    Each function's role may send to its own queue only. A failed event stays in the queue, with the
    request payload and the error, until someone re-drives or deletes it (docs/operations.md).
    """

    def __init__(self, scope: Construct, id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self._removal_policy = removal_policy
        self.queues: dict[str, sqs.Queue] = {}

    def add(self, name: str, function_name: str, role: iam.IRole) -> sqs.Queue:
        """Route `function_name`'s failed asynchronous events (after `RETRIES`) to a new queue."""
        queue = sqs.Queue(
            self,
            f"{name}Failed",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
            removal_policy=self._removal_policy,
        )
        acknowledge(
            queue,
            "This queue is itself the dead end of failed asynchronous Lambda events; it is drained by "
            "people re-driving events, not by a consumer that could fail",
            "SQS3",
        )
        queue.grant_send_messages(role)
        config = lambda_.CfnEventInvokeConfig(
            self,
            f"{name}InvokeConfig",
            function_name=function_name,
            qualifier="$LATEST",
            maximum_retry_attempts=RETRIES,
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=queue.queue_arn),
            ),
        )
        # Lambda checks at creation that the function's role may send to the destination.
        config.node.add_dependency(role)
        self.queues[name] = queue
        return queue
