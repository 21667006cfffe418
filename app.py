"""HR data migration service: the routing table.

Each handler parses its request and calls into `chalicelib`; no SQL, CSV parsing or AWS calls here.
"""

import os

from chalice import Chalice

from chalicelib import __version__
from chalicelib.api import common as api
from chalicelib.api import reports as report_http
from chalicelib.autotester import checks as autotester
from chalicelib.backups import service as backups
from chalicelib.loading import ingest, s3_events, uploads
from chalicelib.rules.dictionary import table as dictionary_table
from chalicelib.rules.validation import row_to_dict
from chalicelib.runtime.log import logger

app = Chalice(app_name="hr-migration")
app.api.binary_types = [t for t in app.api.binary_types if t != "application/octet-stream"]

JSON_BODIES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]


@app.middleware("http")
def request_context(event, get_response):
    logger.append_keys(
        request_id=(event.context or {}).get("requestId"), route=(event.context or {}).get("resourcePath")
    )
    return api.api_key_refusal(event) or get_response(event)


@app.route("/status", methods=["GET"])
@api.handles_errors
def status():
    try:
        db = api.database()
        counts = db.counts()
    except Exception as exc:  # a health check reports; it does not fail
        return api.json_response({"status": "unavailable", "database": str(exc), "version": __version__}, 503)
    return {"status": "ok", "version": __version__, "database": db.dialect, "tables": counts}


# -- rejection log ---------------------------------------------------------------------------------


@app.route("/rejections", methods=["GET"], api_key_required=True)
@api.handles_errors
def list_rejections():
    after, limit = api.page(app.current_request)
    name = (app.current_request.query_params or {}).get("table")
    if name is not None:
        name = dictionary_table(name).name
    entries = api.database().list_rejections(name, after=after, limit=limit)
    return api.paged([e.to_dict() for e in entries], limit, lambda e: e["id"])


@app.route("/rejections/replay", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@api.handles_errors
def replay_rejections():
    body = api.json_object(app.current_request)
    tables = [dictionary_table(name).name for name in body.get("tables") or []] or None
    return ingest.replay_rejections(api.database(), tables, source=body.get("source")).to_dict()


# -- administration --------------------------------------------------------------------------------


@app.route("/admin/schema", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@api.handles_errors
def create_schema():
    api.admin_database().create_schema()
    return api.json_response({"schema": "created"}, 201)


@app.route("/admin/schema", methods=["DELETE"], api_key_required=True)
@api.handles_errors
def drop_schema():
    if (app.current_request.query_params or {}).get("confirm") != "drop-all-data":
        raise api.ApiError(400, "confirmation required", "pass ?confirm=drop-all-data to drop every table")
    api.admin_database().drop_schema()
    return {"schema": "dropped"}


# -- tables ----------------------------------------------------------------------------------------


@app.route("/{table}", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@api.handles_errors
def insert_batch(table):
    tbl = dictionary_table(table)
    rows = api.batch_rows(app.current_request)
    result = ingest.insert_batch(api.database(), tbl, enumerate(rows), source="api")
    body = {
        "table": tbl.name,
        "received": len(rows),
        "inserted": result.inserted,
        "unchanged": result.unchanged,
        "rejected": [{"index": c.position, "row": c.raw, "reasons": c.reasons} for c in result.rejected],
    }
    return api.json_response(body, api.batch_status(result.inserted, result.unchanged, len(result.rejected)))


@app.route("/{table}", methods=["GET"], api_key_required=True)
@api.handles_errors
def list_rows(table):
    tbl = dictionary_table(table)
    after, limit = api.page(app.current_request)
    rows = [row_to_dict(tbl, r) for r in api.database().list_rows(tbl, after, limit)]
    return api.paged(rows, limit, lambda r: r["id"])


@app.route("/{table}/{id}", methods=["GET"], api_key_required=True)
@api.handles_errors
def get_row(table, id):
    tbl = dictionary_table(table)
    row = api.database().get_row(tbl, api.positive_int(id, "id"))
    if row is None:
        raise api.ApiError(404, "not found", f"{tbl.name} {id} does not exist")
    return row_to_dict(tbl, row)


@app.route("/{table}/{id}", methods=["DELETE"], api_key_required=True)
@api.handles_errors
def delete_row(table, id):
    tbl = dictionary_table(table)
    key = api.positive_int(id, "id")
    row = api.database().delete_row(tbl, key)
    if row is None:
        raise api.ApiError(404, "not found", f"{tbl.name} {id} does not exist")
    return {"deleted": row_to_dict(tbl, row)}


# -- uploads and the S3 loader (issue 3) -----------------------------------------------------------


@app.route("/uploads/{table}", methods=["POST"], api_key_required=True, content_types=uploads.CSV_CONTENT_TYPES)
@api.handles_errors
def upload_csv(table):
    return uploads.load_body(api.database(), dictionary_table(table), app.current_request.raw_body)


@app.route("/uploads/{table}/url", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@api.handles_errors
def upload_url(table):
    body = api.json_object(app.current_request)
    return uploads.upload_url(api.settings(), dictionary_table(table), body.get("filename"))


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


# -- reports (issue 4) -----------------------------------------------------------------------------


@app.route("/reports/hires-by-quarter", methods=["GET"], api_key_required=True)
@api.handles_errors
def hires_by_quarter():
    return report_http.report_response(app.current_request, api.database(), "hires-by-quarter")


@app.route("/reports/departments-above-mean", methods=["GET"], api_key_required=True)
@api.handles_errors
def departments_above_mean():
    return report_http.report_response(app.current_request, api.database(), "departments-above-mean")


# The names the original challenge used; same answers.
@app.route("/hired_employees_2021_quarters", methods=["GET"], api_key_required=True)
@api.handles_errors
def hired_employees_2021_quarters():
    return report_http.report_response(app.current_request, api.database(), "hires-by-quarter")


@app.route("/hired_employees_2021", methods=["GET"], api_key_required=True)
@api.handles_errors
def hired_employees_2021():
    return report_http.report_response(app.current_request, api.database(), "departments-above-mean")


# For people: both reports and a chart. In AWS the key must still come as the x-api-key header (API
# Gateway does not read ?api_key=): open it through a proxy or extension that adds it.
@app.route("/reports", methods=["GET"], api_key_required=True)
@api.handles_errors
def reports_page():
    return report_http.page_response(app.current_request, api.database())


# -- backups and restores (issue 5) ----------------------------------------------------------------


@app.route("/backups", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@api.handles_errors
def create_backup():
    body = api.json_object(app.current_request)
    tables = backups.tables_named(body.get("tables"))
    manifest = backups.create_backup(api.database(), backups.BackupSettings.from_env().store(), tables, source="api")
    return api.json_response(backups.summary(manifest), 201)


@app.route("/backups", methods=["GET"], api_key_required=True)
@api.handles_errors
def list_backups():
    limit = (app.current_request.query_params or {}).get("limit")
    limit = api.positive_int(limit, "limit") if limit is not None else None
    return {"items": backups.list_backups(backups.BackupSettings.from_env().store(), limit)}


@app.route("/restores/{table}", methods=["POST"], api_key_required=True, content_types=JSON_BODIES)
@api.handles_errors
def restore_table(table):
    tbl = dictionary_table(table)
    body = api.json_object(app.current_request)
    with_dependents = body.get("with_dependents", False)
    if not isinstance(with_dependents, bool):
        raise api.ApiError(400, "invalid request", "with_dependents must be true or false")
    store = backups.BackupSettings.from_env().store()
    return backups.restore(api.database(), store, body.get("backup"), tbl, with_dependents=with_dependents)


@app.schedule(backups.schedule_expression(), name="scheduled_backup")
def scheduled_backup(event):
    return backups.scheduled_backup(api.database(), backups.BackupSettings.from_env())


# -- auto-tester (issue 7) -------------------------------------------------------------------------


@app.schedule(autotester.SCHEDULE, name="auto_tester")
def auto_tester(event):
    return autotester.run_scheduled()
