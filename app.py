"""HR data migration service: the Chalice app, its blueprints and its event handlers.

Routes live in `chalicelib.api`, one blueprint per capability; handlers here call into `chalicelib`.
"""

import os

from chalice import Chalice

from chalicelib.api import (
    access,
    admin,
    backups,
    chalice_errors,
    openapi,
    rejections,
    reports,
    status,
    tables,
    uploads,
)
from chalicelib.api.stage import database
from chalicelib.autotester import checks as autotester
from chalicelib.backups import service as backup_service
from chalicelib.loading import s3_events

app = Chalice(app_name="hr-migration")
app.api.binary_types = [t for t in app.api.binary_types if t != "application/octet-stream"]
app.register_middleware(access.request_context, "http")
chalice_errors.shape_local_gateway_errors()

# The catch-all /{table} routes last: a reader sees the fixed paths first (matching does not depend on it).
for capability in (status, openapi, rejections, admin, uploads, reports, backups, tables):
    app.register_blueprint(capability.blueprint)


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
    return backup_service.scheduled_backup(database(), backup_service.BackupSettings.from_env())


@app.schedule(autotester.SCHEDULE, name="auto_tester")
def auto_tester(event):
    return autotester.run_scheduled()
