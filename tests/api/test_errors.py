"""The one error table: every domain error of the services becomes its status, title and detail."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.api.errors import CONFIDENTIAL, ERRORS, ApiError, answer_for, handles_errors, public_detail
from chalicelib.backups import service as backups
from chalicelib.db import DatabaseError, ReferencedRow
from chalicelib.loading import uploads

ROOT = Path(__file__).resolve().parents[2]


def answer(exc: BaseException) -> tuple[int, dict]:
    def view():
        raise exc

    response = handles_errors(view)()
    return response.status_code, json.loads(response.body)


def domain_errors() -> list[type[Exception]]:
    """Every exception class the backup and upload services define."""
    found = []
    for module in (backups, uploads):
        found += [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Exception) and cls.__module__ == module.__name__
        ]
    return found


@pytest.mark.parametrize("cls", domain_errors(), ids=lambda cls: cls.__name__)
def test_every_service_error_is_in_the_table(cls):
    assert cls in ERRORS


@pytest.mark.parametrize(
    ("cls", "expected"),
    [(cls, answer) for cls, answer in ERRORS.items() if not (issubclass(cls, CONFIDENTIAL) and answer[0] >= 500)],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_a_domain_error_becomes_its_status_and_title_with_the_message_as_detail(cls, expected):
    status, body = answer(cls("what went wrong"))
    assert (status, body["error"]) == expected
    assert "what went wrong" in body["detail"]
    assert set(body) == {"error", "detail"}


@pytest.mark.parametrize(
    "cls", [cls for cls, (status, _) in ERRORS.items() if issubclass(cls, CONFIDENTIAL) and status >= 500], ids=str
)
def test_a_database_failure_answers_a_short_cause_and_logs_the_message(cls, caplog):
    message = "database connection lost (2003): Can't connect to MySQL server on 'db.internal' as 'hr_app'"
    status, body = answer(cls(message))
    assert status == 503 and body["error"] == "database unavailable"
    assert body["detail"] and "db.internal" not in body["detail"] and "hr_app" not in body["detail"]
    assert any("db.internal" in str(getattr(r, "detail", "")) for r in caplog.records)


@pytest.mark.parametrize(
    ("message", "cause"),
    [
        ("schema missing (Table 'hr.departments' doesn't exist); run `schema create`", "schema missing"),
        ("database refused access (1045): Access denied for user 'hr'@'10.0.0.5'", "access denied"),
        ("database connection lost (2003): Can't connect to MySQL server on 'db.internal'", "cannot connect"),
        ("something else entirely about `hr`.`jobs`", "database unavailable"),
    ],
)
def test_a_database_error_is_answered_by_its_cause_alone(message, cause):
    detail = public_detail(DatabaseError(message))
    assert detail.startswith(cause)
    assert not any(name in detail for name in ("hr.", "'hr'", "10.0.0.5", "db.internal", "`jobs`"))


def test_a_subclass_takes_its_own_entry_before_its_base():
    assert answer_for(ReferencedRow("x")) == (409, "row is referenced")
    assert answer_for(DatabaseError("x")) == (503, "database unavailable")


def test_a_subclass_not_listed_takes_its_nearest_listed_base():
    class ChecksumMismatch(backups.InvalidBackup):
        pass

    assert answer_for(ChecksumMismatch("x")) == (422, "invalid backup")


def test_a_backup_error_keeps_its_structured_detail():
    detail = {"message": "references", "problems": [{"table": "hired_employees", "missing_ids": [3]}]}
    assert answer(backups.RestoreRefused(detail)) == (
        409,
        {"error": "restore would break references", "detail": detail},
    )


def test_the_http_layer_own_refusals_keep_their_status():
    assert answer(ApiError(404, "not found", "jobs 7 does not exist")) == (
        404,
        {"error": "not found", "detail": "jobs 7 does not exist"},
    )


def test_anything_else_is_a_500_that_shows_no_trace():
    status, body = answer(ZeroDivisionError("division by zero in some module"))
    assert (status, body) == (500, {"error": "internal error", "detail": "the error was logged"})


def test_services_import_neither_chalice_nor_the_http_layer():
    script = (
        "import sys, chalicelib.loading.uploads, chalicelib.backups.service\n"
        "print([m for m in sys.modules if m == 'chalice' or m.startswith(('chalice.', 'chalicelib.api'))])"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
