"""Input that Python's parsers choke on or accept too readily: always a 4xx JSON error, nothing changed.

Every route that takes a JSON body parses it with the same rules, so each hostile value is sent to each
of them, in a string field of the body; the answer must be a 4xx whose body is strict JSON
{"error", "detail"}, and no table (nor the rejection log) may change. That includes `POST /admin/schema`,
which ignores its fields today: a body that is not valid JSON text is refused by every JSON route alike.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from chalicelib import db as databases
from tests.hardening.responses import assert_error_body, strict_json

EMPLOYEE = '{{"id": 1, "name": {v}, "datetime": "2021-11-07T02:48:42Z", "department_id": 1, "job_id": 1}}'

# (path, body template with {v} in a string field's place, environment the route needs)
JSON_ROUTES = [
    ("/departments", '[{{"id": 1, "department": {v}}}]', {}),
    ("/jobs", '[{{"id": 1, "job": {v}}}]', {}),
    ("/hired_employees", "[" + EMPLOYEE + "]", {}),
    ("/rejections/replay", '{{"source": {v}}}', {}),
    ("/backups", '{{"tables": [{v}]}}', {"BACKUP_DIR": "{tmp}"}),
    ("/restores/departments", '{{"backup": {v}}}', {"BACKUP_DIR": "{tmp}"}),
    ("/uploads/departments/url", '{{"filename": {v}}}', {"DATA_BUCKET": "hr-data-test"}),
    ("/admin/schema", '{{"confirm": {v}}}', {}),
]

LONE_SURROGATE = '"\\ud800"'  # a JSON escape: decodes to a str that cannot be encoded as UTF-8
HUGE_INTEGER = "7" * 5000  # past Python's int-digits limit (4300)
DEEP_NESTING = "[" * 100_000 + "]" * 100_000  # past the recursion limit


@pytest.fixture
def seeded(client, headers):
    for path, body in [
        ("/departments", [{"id": 1, "department": "Engineering"}]),
        ("/jobs", [{"id": 1, "job": "DBA Lead"}]),
        ("/hired_employees", [json.loads(EMPLOYEE.format(v='"Ana"'))]),
    ]:
        assert client.http.post(path, headers=headers, body=json.dumps(body)).status_code == 201
    return client


def error_problem(response, statuses: range | tuple[int, ...] = range(400, 500)) -> str | None:
    """Why `response` is not a strict-JSON {"error", "detail"} error with a status in `statuses` (None: it is)."""
    try:
        assert_error_body(response, statuses)
    except (AssertionError, ValueError) as exc:
        return f"{response.status_code}: {exc}"[:300]
    return None


def refused_on_every_json_route(client, headers, database_url, monkeypatch, tmp_path, value) -> None:
    """`value` in the string field of each JSON route's body: each answer a 4xx error, nothing changed."""
    problems = {}
    for path, template, env in JSON_ROUTES:
        with monkeypatch.context() as patch:
            for name, setting in env.items():
                patch.setenv(name, setting.format(tmp=tmp_path))
            before = databases.for_url(database_url).counts()
            response = client.http.post(path, headers=headers, body=template.format(v=value).encode())
            problem = error_problem(response)
            if databases.for_url(database_url).counts() != before:
                problem = f"{problem}; counts changed"
        if problem:
            problems[path] = problem
    assert not problems, problems


@pytest.mark.xfail(strict=True, reason="lone surrogate: UnicodeEncodeError on write or hashing, 500")
def test_a_lone_surrogate_in_a_string_is_a_4xx_on_every_json_route(
    seeded, headers, database_url, monkeypatch, tmp_path
):
    refused_on_every_json_route(seeded, headers, database_url, monkeypatch, tmp_path, LONE_SURROGATE)


@pytest.mark.xfail(strict=True, reason="int-digits limit: json.loads raises ValueError, 500")
def test_an_integer_of_5000_digits_is_a_4xx_on_every_json_route(seeded, headers, database_url, monkeypatch, tmp_path):
    refused_on_every_json_route(seeded, headers, database_url, monkeypatch, tmp_path, HUGE_INTEGER)


@pytest.mark.xfail(strict=True, reason="JSON nested 100,000 deep: RecursionError, 500")
def test_json_nested_100000_deep_is_a_4xx_on_every_json_route(seeded, headers, database_url, monkeypatch, tmp_path):
    refused_on_every_json_route(seeded, headers, database_url, monkeypatch, tmp_path, DEEP_NESTING)


REPORT_ROUTES = [
    "/reports/hires-by-quarter",
    "/reports/departments-above-mean",
    "/hired_employees_2021_quarters",
    "/hired_employees_2021",
    "/reports",
]


@pytest.mark.xfail(strict=True, reason="year of 5,000 digits: int() raises ValueError past its digits limit, 500")
def test_a_year_of_5000_digits_is_a_400_on_every_report_route(seeded, headers, database_url):
    before = databases.for_url(database_url).counts()
    problems = {}
    for path in REPORT_ROUTES:
        problem = error_problem(seeded.http.get(f"{path}?year={'2' * 5000}", headers=headers), (400,))
        if problem:
            problems[path] = problem
    assert not problems, problems
    assert databases.for_url(database_url).counts() == before


@pytest.mark.xfail(strict=True, reason="NaN/Infinity are echoed back as bare NaN/Infinity, not JSON")
def test_nan_and_infinity_never_come_back_as_anything_but_strict_json(client, headers):
    problems = []
    for template in ('[{{"id": {v}, "department": "Sales"}}]', '[{{"id": 1, "department": {v}}}]'):
        for constant in ("NaN", "Infinity", "-Infinity"):
            body = template.format(v=constant)
            for response in (
                client.http.post("/departments", headers=headers, body=body),
                client.http.get("/rejections", headers=headers),
            ):
                try:
                    strict_json(response.body)
                except ValueError as exc:
                    problems.append(f"{body} -> {response.status_code}: {exc}")
    assert not problems, problems


ROW_OF_20_MB = 20 * 1024 * 1024


@pytest.mark.xfail(strict=True, reason="a 20 MB row is logged as a rejection (MySQL: exceeds max_allowed_packet, 503)")
def test_a_row_of_20_megabytes_is_refused_up_front_naming_the_limit(client, headers, database_url):
    """Oversized input is the client's fault: refused before any write (no rejection logged either, the
    log's insert is what overflows MySQL's max_allowed_packet), answered once, never retried as an outage."""
    body = json.dumps([{"id": 1, "department": "x" * ROW_OF_20_MB}])
    started = time.monotonic()
    response = client.http.post("/departments", headers=headers, body=body)
    seconds = time.monotonic() - started
    answer = assert_error_body(response, (413, 422))
    assert re.search(r"\d[\d,. ]*\s*(bytes|[KM]i?B|characters)", json.dumps(answer["detail"]), re.IGNORECASE), answer
    assert databases.for_url(database_url).counts() == {
        "departments": 0,
        "jobs": 0,
        "hired_employees": 0,
        "rejections": 0,
    }
    assert seconds < 20, f"answered in {seconds:.1f} s: retried?"


@pytest.mark.xfail(strict=True, reason="Chalice's own 415/405/403 bodies are not {error, detail}")
def test_errors_raised_by_chalice_itself_are_shaped_like_every_other_error(client, headers):
    problems = {}
    for method, path, content_type in [
        ("POST", "/departments", "application/xml"),  # 415
        ("PUT", "/departments", "application/json"),  # 405
        ("GET", "/no/such/path", "application/json"),  # no route: 403 Missing Authentication Token
    ]:
        response = client.http.request(
            method, path, headers={**headers, "content-type": content_type}, body=b'[{"id": 1, "department": "Sales"}]'
        )
        problem = error_problem(response)
        if problem:
            problems[f"{method} {path} ({content_type})"] = problem
    assert not problems, problems


ID_OVERFLOWS = [str(2**63), str(10**30)]


def test_ids_past_64_bits_are_404_or_400(seeded, headers, database_url):
    problems = {}
    for table in ("departments", "hired_employees"):
        for key in ID_OVERFLOWS:
            for method in ("GET", "DELETE"):
                problem = error_problem(seeded.http.request(method, f"/{table}/{key}", headers=headers), (400, 404))
                if problem:
                    problems[f"{method} /{table}/{key}"] = problem
    assert not problems, problems


def test_cursors_past_64_bits_are_an_empty_page_or_400(seeded, headers, database_url):
    problems = {}
    for path in ("/departments", "/hired_employees", "/rejections"):
        for key in ID_OVERFLOWS:
            response = seeded.http.get(f"{path}?cursor={key}", headers=headers)
            if response.status_code == 200:
                problem = None if strict_json(response.body) == {"items": [], "next_cursor": None} else "not empty"
            else:
                problem = error_problem(response, (400,))
            if problem:
                problems[f"{path}?cursor={key}"] = problem
    assert not problems, problems


@pytest.mark.xfail(strict=True, reason="replay iterates whatever 'tables' is: a string's letters, a dict's keys")
def test_replay_tables_that_are_not_a_list_of_names_is_a_400_saying_so(client, headers, database_url):
    before = databases.for_url(database_url).counts()
    problems = {}
    for tables in ("departments", {"a": 1}, 5, [1]):
        response = client.http.post("/rejections/replay", headers=headers, body=json.dumps({"tables": tables}))
        problem = error_problem(response, (400,))
        if not problem and "list" not in json.dumps(strict_json(response.body)["detail"]):
            problem = "the detail does not say a list is expected"
        if problem:
            problems[json.dumps(tables)] = problem
    assert not problems, problems
    assert databases.for_url(database_url).counts() == before
