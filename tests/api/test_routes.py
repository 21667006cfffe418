"""The route table the blueprints build: keys, report paths from the reports' own table."""

from __future__ import annotations

import json

from chalicelib.reports.queries import REPORTS


def routes():
    import app as app_module

    return app_module.app.routes


def test_every_route_but_status_requires_the_api_key_in_api_gateway():
    required = {
        (path, method): entry.api_key_required
        for path, methods in routes().items()
        for method, entry in methods.items()
    }
    assert not required.pop(("/status", "GET"))
    assert required and all(required.values())


def test_each_report_answers_at_its_name_and_at_every_alias_of_the_reports_table():
    report_paths = {path for path in routes() if path.startswith("/reports/") or path.startswith("/hired_employees")}
    expected = {f"/reports/{r.name}" for r in REPORTS.values()} | {f"/{a}" for r in REPORTS.values() for a in r.aliases}
    assert report_paths == expected
    assert {"/hired_employees_2021_quarters", "/hired_employees_2021"} <= expected


def test_an_alias_gives_the_answer_of_its_report(client, headers):
    client.http.post(
        "/departments",
        headers=headers,
        body=json.dumps([{"id": 1, "department": "Engineering"}, {"id": 2, "department": "Sales"}]),
    )
    client.http.post("/jobs", headers=headers, body=json.dumps([{"id": 1, "job": "DBA Lead"}]))
    client.http.post(
        "/hired_employees",
        headers=headers,
        body=json.dumps(
            [{"id": 1, "name": "Ana", "datetime": "2021-02-01T00:00:00Z", "department_id": 1, "job_id": 1}]
        ),
    )
    for report in REPORTS.values():
        own = client.http.get(f"/reports/{report.name}", headers=headers)
        assert own.status_code == 200 and json.loads(own.body)
        for alias in report.aliases:
            aliased = client.http.get(f"/{alias}", headers=headers)
            assert (aliased.status_code, aliased.body) == (200, own.body)
