"""The OpenAPI 3 document of the whole API, generated from the app's routes and the data dictionary.

Paths, methods, path parameters, request content types and which routes need the key come from
Chalice's route table (after the blueprints are registered); row schemas come from the data dictionary,
report rows from the reports' own table. `OPERATIONS` says, per view, what it takes and answers: a
route without an entry there is an error, so a new route cannot go undocumented. Served at
``GET /openapi.json`` (with the API key, like every route but /status) and written to docs/openapi.json
by ``make openapi`` (``python -m chalicelib.api.openapi PATH``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from chalice import Blueprint

from chalicelib import __version__
from chalicelib.api.errors import handles_errors
from chalicelib.api.parsing import DEFAULT_PAGE, MAX_BODY_BYTES, MAX_CURSOR, MAX_PAGE, MAX_ROW_BYTES
from chalicelib.api.responses import json_response
from chalicelib.jobs.model import ID_PATTERN, KINDS, STATES
from chalicelib.reports import queries as reports
from chalicelib.rules.dictionary import (
    DATETIME,
    INTEGER,
    MAX_BATCH_ROWS,
    MAX_INTEGER,
    MAX_STRING_LENGTH,
    TABLES,
    Table,
)

blueprint = Blueprint(__name__)

TITLE = "HR data migration service"
JSON = "application/json"
ANY: dict = {}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _column_schema(column_type: str, doc: str) -> dict:
    if column_type == INTEGER:
        return {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER, "description": doc}
    if column_type == DATETIME:
        return {"type": "string", "format": "date-time", "description": doc}
    return {"type": "string", "minLength": 1, "maxLength": MAX_STRING_LENGTH, "description": doc}


def row_schema(table: Table) -> dict:
    """One row of `table` as the API gives it (and as a batch should send it)."""
    return {
        "type": "object",
        "description": table.doc,
        "properties": {c.name: _column_schema(c.type, c.doc) for c in table.columns},
        "required": list(table.column_names),
    }


def _report_row(report: reports.Report) -> dict:
    names = ("department", "job")
    return {
        "type": "object",
        "properties": {
            c: {"type": "string"} if c in names else {"type": "integer", "minimum": 0} for c in report.columns
        },
        "required": list(report.columns),
        "additionalProperties": False,
    }


def components() -> dict:
    tables = list(TABLES.values())
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "description": "Every error: a short title, and a detail (a message, or structured data).",
            "properties": {"error": {"type": "string", "minLength": 1}, "detail": ANY},
            "required": ["error", "detail"],
            "additionalProperties": False,
        },
        "Row": {"oneOf": [ref(f"Row.{t.name}") for t in tables]},
        "RowPage": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": ref("Row")}, "next_cursor": _cursor()},
            "required": ["items", "next_cursor"],
        },
        "BatchResult": {
            "type": "object",
            "properties": {
                "table": {"type": "string", "enum": list(TABLES)},
                "received": {"type": "integer"},
                "inserted": {"type": "integer"},
                "unchanged": {"type": "integer"},
                "rejected": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "index": {"type": "integer"},
                            "row": ANY,
                            "reasons": {"type": "array", "items": {"type": "string"}},
                        },
                        "required": ["index", "row", "reasons"],
                    },
                },
            },
            "required": ["table", "received", "inserted", "unchanged", "rejected"],
        },
        "Rejection": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "source": {"type": "string"},
                "table": {"type": "string"},
                "position": {"type": "integer"},
                "row": ANY,
                "reasons": {"type": "array", "items": {"type": "string"}},
                "rejected_at": {"type": "string", "format": "date-time"},
            },
            "required": ["id", "source", "table", "position", "row", "reasons", "rejected_at"],
        },
        "Status": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["ok", "unavailable"]},
                "version": {"type": "string"},
                "database": {"type": "string", "description": "the dialect, or a short cause when unavailable"},
                "tables": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
            },
            "required": ["status", "version", "database"],
        },
        "Backup": {
            "type": "object",
            "properties": {
                "backup": {"type": "string", "nullable": True},
                "created_at": {"type": "string", "nullable": True},
                "complete": {"type": "boolean"},
                "tables": {"type": "object"},
                "rows": {"type": "integer"},
                "bytes": {"type": "integer"},
            },
            "required": ["backup", "complete", "tables"],
        },
    }
    for table in tables:
        schemas[f"Row.{table.name}"] = row_schema(table)
    for report in reports.REPORTS.values():
        schemas[f"Report.{report.name}"] = {"type": "array", "items": _report_row(report)}
    return {
        "schemas": schemas,
        "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
    }


def _cursor() -> dict:
    return {"type": "string", "nullable": True, "description": "pass as ?cursor= for the next page; null: last"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _object(properties: dict, required: tuple[str, ...] = ()) -> dict:
    schema: dict = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PAGE_PARAMETERS = [
    _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, f"page size (default {DEFAULT_PAGE})"),
    _query("cursor", {"type": "integer", "minimum": 1, "maximum": MAX_CURSOR}, "next_cursor of the previous page"),
]
REPORT_PARAMETERS = [
    _query("year", {"type": "integer", "minimum": reports.MIN_YEAR, "maximum": reports.MAX_YEAR}, "default 2021"),
    _query("format", {"type": "string", "enum": ["json", "csv"]}, "json (default) or csv; else the Accept header"),
]
TABLE_NAMES = {"type": "array", "items": {"type": "string", "enum": list(TABLES)}}
BATCH = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_BATCH_ROWS,
    "items": ref("Row"),
    "description": f"1 to {MAX_BATCH_ROWS} rows; a row over {MAX_ROW_BYTES} bytes of JSON is a 413",
}
LOAD_RESULT = _object(
    {
        "table": {"type": "string"},
        "received": {"type": "integer"},
        "inserted": {"type": "integer"},
        "unchanged": {"type": "integer"},
        "rejected_count": {"type": "integer"},
        "rejected": {"type": "array", "items": {"type": "object"}},
    },
    ("table", "inserted", "unchanged", "rejected_count"),
)
LOADED = {
    "201": _json(LOAD_RESULT, "every row stored (or an identical no-op)"),
    "207": _json(LOAD_RESULT, "some rows rejected (logged)"),
    "422": _json(LOAD_RESULT, "every row rejected (logged)"),
}

# view name -> what the operation takes and answers (besides the errors every operation may answer).
# Backups, restores and replays run as background jobs: the job, and where to watch it (Location).
JOB = _json({"type": "object", "required": ["id", "kind", "state"]}, "the job")

OPERATIONS: dict[str, dict] = {
    "status": {
        "summary": "Health: database reachable, row counts, version",
        "responses": {"200": _json(ref("Status"), "up"), "503": _json(ref("Status"), "database unavailable")},
    },
    "openapi_document": {"summary": "This document", "responses": {"200": _json({"type": "object"}, "OpenAPI 3")}},
    "insert_batch": {
        "summary": "Insert a batch of rows",
        "body": BATCH,
        "responses": {
            "201": _json(ref("BatchResult"), "every row stored (or an identical no-op)"),
            "207": _json(ref("BatchResult"), "some rows rejected (logged)"),
            "422": _json(ref("BatchResult"), "every row rejected (logged)"),
        },
    },
    "list_rows": {
        "summary": "Rows in id order, a page at a time",
        "parameters": PAGE_PARAMETERS,
        "responses": {"200": _json(ref("RowPage"), "a page")},
    },
    "get_row": {"summary": "One row", "responses": {"200": _json(ref("Row"), "the row")}},
    "delete_row": {
        "summary": "Delete one row",
        "responses": {"200": _json(_object({"deleted": ref("Row")}, ("deleted",)), "the deleted row")},
    },
    "list_rejections": {
        "summary": "The rejection log, oldest first",
        "parameters": [*PAGE_PARAMETERS, _query("table", {"type": "string", "enum": list(TABLES)}, "one table")],
        "responses": {
            "200": _json(
                _object({"items": {"type": "array", "items": ref("Rejection")}, "next_cursor": _cursor()}), "a page"
            )
        },
    },
    "replay_rejections": {
        "summary": "Retry logged rejections (those now accepted leave the log)",
        "body": _object({"tables": TABLE_NAMES, "source": {"type": "string"}}),
        "responses": {"202": JOB},
    },
    "create_schema": {
        "summary": "Create the tables (idempotent)",
        "body": {"type": "object"},
        "responses": {"201": _json(_object({"schema": {"type": "string"}}), "created")},
    },
    "drop_schema": {
        "summary": "Drop every table",
        "parameters": [_query("confirm", {"type": "string"}, "must be drop-all-data")],
        "responses": {"200": _json(_object({"schema": {"type": "string"}}), "dropped")},
    },
    "upload_csv": {
        "summary": "Load a CSV file (no header row) like a file dropped in S3",
        "body_types": {"text/csv": {"type": "string", "description": f"at most {MAX_BODY_BYTES} bytes"}},
        "responses": LOADED,
    },
    "upload_url": {
        "summary": "A presigned S3 PUT URL for a big file (AWS only)",
        "body": _object({"filename": {"type": "string"}}),
        "responses": {"200": _json({"type": "object"}, "the URL, method and headers to PUT with")},
    },
    "create_backup": {
        "summary": "Back up tables to Avro",
        "body": _object({"tables": TABLE_NAMES}),
        "responses": {"202": JOB},
    },
    "list_backups": {
        "summary": "Backups, newest first",
        "parameters": [_query("limit", {"type": "integer", "minimum": 1}, "at most this many")],
        "responses": {"200": _json(_object({"items": {"type": "array", "items": ref("Backup")}}), "backups")},
    },
    "restore_table": {
        "summary": "Replace a table's rows with a backup's, atomically",
        "body": _object({"backup": {"type": "string"}, "with_dependents": {"type": "boolean"}}, ("backup",)),
        "responses": {"202": JOB},
    },
    "replace_row": {
        "summary": "Replace a row (every field; the id cannot change)",
        "body": {"type": "object"},
        "responses": {"200": _json(_object({"row": ref("Row"), "changed": {"type": "boolean"}}), "the row")},
    },
    "change_row": {
        "summary": "Change some fields of a row (the id cannot change)",
        "body": {"type": "object"},
        "responses": {"200": _json(_object({"row": ref("Row"), "changed": {"type": "boolean"}}), "the row")},
    },
    "truncate_table": {
        "summary": "Delete every row of one table (cascade: first of the tables referencing it)",
        "body": _object({"cascade": {"type": "boolean"}}),
        "responses": {"200": _json({"type": "object"}, "rows deleted per table")},
    },
    "list_audit": {
        "summary": "The audit trail: who wrote or administered what, oldest first (admin)",
        "parameters": [*PAGE_PARAMETERS, _query("client", {"type": "string"}, "one client")],
        "responses": {"200": _json({"type": "object"}, "a page")},
    },
    "list_jobs": {
        "summary": "Background jobs, newest first",
        "parameters": [
            _query("kind", {"type": "string", "enum": list(KINDS)}, "one kind"),
            _query("state", {"type": "string", "enum": list(STATES)}, "one state"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "page size"),
            _query("cursor", {"type": "string"}, "next_cursor of the previous page"),
        ],
        "responses": {"200": _json({"type": "object"}, "a page of jobs")},
    },
    "get_job": {"summary": "One background job: state, progress, result or error", "responses": {"200": JOB}},
    "cancel_job": {"summary": "Cancel a job that has not finished", "responses": {"202": JOB}},
    "retry_job": {"summary": "Retry a failed or cancelled job as a new job", "responses": {"202": JOB}},
    "reports_page": {
        "summary": "Both reports and a chart, as a page for people",
        "parameters": REPORT_PARAMETERS[:1],
        "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
    },
}


def _report_operation(report: reports.Report) -> dict:
    return {
        "summary": report.title,
        "parameters": REPORT_PARAMETERS,
        "responses": {
            "200": {
                "description": "JSON, or CSV with a header row",
                "content": {JSON: {"schema": ref(f"Report.{report.name}")}, "text/csv": {"schema": {"type": "string"}}},
            }
        },
    }


def _path_parameter(name: str) -> dict:
    if name == "table":
        schema: dict = {"type": "string", "enum": list(TABLES)}
    elif name == "job_id":
        schema = {"type": "string", "pattern": ID_PATTERN.pattern}
    else:
        schema = {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def operation(entry: Any, described: dict) -> dict:
    """The OpenAPI operation of one Chalice route entry."""
    op: dict[str, Any] = {"operationId": entry.view_name, "summary": described["summary"]}
    parameters = [_path_parameter(name) for name in entry.view_args] + list(described.get("parameters", []))
    if parameters:
        op["parameters"] = parameters
    body_types = described.get("body_types")
    if body_types is None and "body" in described:
        body_types = {JSON: described["body"]}
    if body_types:
        op["requestBody"] = {
            "required": "body" not in described or described["body"].get("type") == "array",
            "content": {media: {"schema": schema} for media, schema in body_types.items()},
        }
    responses = dict(described["responses"])
    responses.setdefault("4XX", _json(ref("Error"), "refused: bad input, no key, no such row, too large"))
    responses.setdefault("503", _json(ref("Error"), "the database (or the backup store) is unavailable"))
    op["responses"] = responses
    op["security"] = [{"apiKey": []}] if entry.api_key_required else []
    return op


def document(routes: dict[str, dict[str, Any]]) -> dict:
    """The OpenAPI 3.0 document for Chalice's route table `routes`; KeyError for an undescribed view."""
    described = dict(OPERATIONS)
    for report in reports.REPORTS.values():
        for path in (f"/reports/{report.name}", *(f"/{alias}" for alias in report.aliases)):
            described[path.strip("/").replace("/", "_").replace("-", "_")] = _report_operation(report)
    paths: dict[str, dict] = {}
    for path in sorted(routes):
        for method in sorted(routes[path]):
            entry = routes[path][method]
            if entry.view_name not in described:
                raise KeyError(f"{method} {path}: view {entry.view_name!r} is not described in openapi.OPERATIONS")
            paths.setdefault(path, {})[method.lower()] = operation(entry, described[entry.view_name])
    return {
        "openapi": "3.0.3",
        "info": {
            "title": TITLE,
            "version": __version__,
            "description": (
                "Batch inserts, listing and deleting rows of the HR tables, the rejection log, reports, CSV "
                "uploads, backups and restores. Every error is JSON {error, detail}. Every route but /status "
                "needs the x-api-key header."
            ),
        },
        "paths": paths,
        "components": components(),
    }


def document_text(routes: dict[str, dict[str, Any]]) -> str:
    """The document as the committed docs/openapi.json holds it."""
    return json.dumps(document(routes), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@blueprint.route("/openapi.json", methods=["GET"], api_key_required=True)
@handles_errors
def openapi_document():
    return json_response(document(blueprint.current_app.routes))


def main(argv: list[str]) -> int:
    import app

    target = Path(argv[0] if argv else "docs/openapi.json")
    target.write_text(document_text(app.app.routes), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
