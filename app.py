"""HR data migration service: the Chalice app, its blueprints and its event handlers.

Routes live in `chalicelib.api`, one blueprint per capability; handlers here call into `chalicelib`.
"""

import os

from chalice import Chalice

from chalicelib.access import retention
from chalicelib.api import (
    access,
    admin,
    audit,
    backups,
    chalice_errors,
    jobs,
    local_gateway,
    openapi,
    rejections,
    reports,
    stage,
    status,
    tables,
    uploads,
)
from chalicelib.autotester import checks as autotester
from chalicelib.backups import service as backup_service
from chalicelib.db import consistency
from chalicelib.jobs import service as job_service
from chalicelib.loading import s3_events

app = Chalice(app_name="hr-migration")
app.api.binary_types = [t for t in app.api.binary_types if t != "application/octet-stream"]
app.register_middleware(access.request_context, "http")
chalice_errors.shape_local_gateway_errors()

# The catch-all /{table} routes last: a reader sees the fixed paths first (matching does not depend on it).
for capability in (status, openapi, rejections, admin, audit, uploads, reports, backups, tables):
    app.register_blueprint(capability.blueprint)
app.register_blueprint(jobs.blueprint, url_prefix=jobs.PREFIX)


# Every route but the public ones: the key's client and scopes (an API Gateway Lambda authorizer in AWS).
@app.authorizer(name="client_key", header=access.KEY_HEADER, ttl_seconds=access.CACHE_SECONDS)
def client_key(auth_request):
    return access.policy(auth_request, app.routes)


access.protect(app, client_key)
local_gateway.install()


# The CDK app subscribes this function to the bucket's `incoming/` objects (`chalice package` cannot
# take @app.on_s3_event: CloudFormation cannot add notifications to an existing bucket).
@app.lambda_function(name="s3_loader")
def s3_loader(event, context):
    return s3_events.handle(event)


# `chalice deploy` on an existing bucket: HR_S3_EVENT_BUCKET=<bucket> at deploy time (best in the
# stage's environment_variables) registers the S3 trigger. Left unset for the stages CDK packages.
def s3_upload(event, context=None):
    return s3_events.handle(event)


if os.environ.get("HR_S3_EVENT_BUCKET"):
    s3_upload = app.on_s3_event(bucket=os.environ["HR_S3_EVENT_BUCKET"], prefix=s3_events.INCOMING, suffix=".csv")(
        s3_upload
    )


@app.schedule(backup_service.schedule_expression(), name="scheduled_backup")
def scheduled_backup(event):
    return job_service.scheduled_backup()


# The queue's name here is a placeholder: the CDK app points the event source at the queue it makes.
@app.on_sqs_message(queue="hr-migration-jobs", batch_size=1, name="job_worker")
def job_worker(event):
    return job_service.run_queued([record.body for record in event])


# A job whose worker stopped (no heartbeat) is marked failed here if no one reads it first.
@app.schedule("rate(5 minutes)", name="job_reaper")
def job_reaper(event):
    return {"failed": job_service.refresh()}


# Rejected rows and audit entries older than RETENTION (default 90d) are forgotten.
@app.schedule(retention.SCHEDULE, name="scheduled_purge")
def scheduled_purge(event):
    return retention.purge_scheduled(stage.database())


# The report summary, references and rejection log checked against the tables; findings logged.
@app.schedule(consistency.SCHEDULE, name="scheduled_check")
def scheduled_check(event):
    return consistency.run_scheduled()


@app.schedule(autotester.SCHEDULE, name="auto_tester")
def auto_tester(event):
    return autotester.run_scheduled()
