"""Long work as jobs: the queue the API puts jobs on, its dead-letter queue, and the worker function
(Chalice's `job_worker`) with its own role, allowed to start and follow the backup and restore Glue jobs."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .api import API_HANDLER, JOB_REAPER, SCHEDULED_BACKUP, ChaliceApp
from .database import Database
from .nag import S3_READ_WRITE_ACTIONS, acknowledge, allow_tracing, bucket_objects

JOB_WORKER = "JobWorker"  # @app.on_sqs_message(name="job_worker")
WORKER_TIMEOUT = Duration.minutes(15)
MAX_RECEIVES = 3  # deliveries of one message before it goes to the dead-letter queue
GLUE_MIN_ROWS = 5_000_000  # backups and restores this big go to Glue


class JobQueue(Construct):
    """SQS queue -> `job_worker` (15 min, batch of one), dead-letter queue after MAX_RECEIVES.

    The worker's role reads the database secret, reads and writes the data bucket, consumes the queue,
    and starts, reads and stops runs of the backup and restore Glue jobs only. The API's role and the
    app role (one role unless the API uses the Data API) may send to the queue and read and stop those
    runs (GET and DELETE /background-jobs follow them).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        app: ChaliceApp,
        database: Database,
        data_bucket,
        backup_job: tuple[str, str],
        restore_job: tuple[str, str],
    ) -> None:
        super().__init__(scope, id)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            # Longer than the worker may run, so a message is not handed to a second worker meanwhile.
            visibility_timeout=WORKER_TIMEOUT.plus(Duration.minutes(1)),
            retention_period=Duration.days(4),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVES, queue=self.dead_letters),
        )
        glue_arns = [backup_job[1], restore_job[1]]
        self.worker_role = app._role("JobWorkerRole", "job worker (backups, restores, replays)", in_vpc=True)
        database.secret.grant_read(self.worker_role)
        data_bucket.grant_read_write(self.worker_role)
        self.queue.grant_consume_messages(self.worker_role)
        allow_tracing(self.worker_role)  # traced like every function of the app
        self.worker_role.add_to_policy(
            iam.PolicyStatement(
                sid="RunTheBackupAndRestoreJobs",
                actions=["glue:StartJobRun", "glue:GetJobRun", "glue:BatchStopJobRun"],
                resources=glue_arns,
            )
        )
        acknowledge(
            self.worker_role,
            "Read and write on the objects of the data bucket only (backups/ is this app's)",
            bucket_objects(data_bucket),
            *S3_READ_WRITE_ACTIONS,
        )
        for role in (app.app_role, app.api_role):  # the scheduled backup and job reaper; the API's routes
            self.queue.grant_send_messages(role)
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="FollowAndStopJobRuns", actions=["glue:GetJobRun", "glue:BatchStopJobRun"], resources=glue_arns
                )
            )

        worker = app.functions[JOB_WORKER]
        worker.add_property_override("Role", self.worker_role.role_arn)
        # Set on the resource, not as overrides: the duration alarm reads each function's timeout from it.
        worker.timeout = int(WORKER_TIMEOUT.to_seconds())
        worker.memory_size = 1024
        worker.add_property_override("Events.JobWorkerSqsEventSource.Properties.Queue", self.queue.queue_arn)
        app.log_groups[JOB_WORKER].grant_write(self.worker_role)
        variables = {
            "JOBS_QUEUE_URL": self.queue.queue_url,
            "GLUE_BACKUP_JOB": backup_job[0],
            "GLUE_RESTORE_JOB": restore_job[0],
            "JOBS_GLUE_MIN_ROWS": str(GLUE_MIN_ROWS),
        }
        for function in (API_HANDLER, JOB_WORKER, JOB_REAPER, SCHEDULED_BACKUP):
            if function in app.functions:
                for key, value in variables.items():
                    app.chalice.add_environment_variable(key, value, function)
