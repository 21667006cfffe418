"""The reports over HTTP: `year` and the format from the request, JSON or CSV out, and the HTML page.

Each report of `reports.REPORTS` answers at ``/reports/<name>`` and at each of its aliases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.errors import ApiError, handles_errors
from chalicelib.api.responses import json_response
from chalicelib.api.stage import database
from chalicelib.db import Database
from chalicelib.reports import page as report_page
from chalicelib.reports import queries as reports

blueprint = Blueprint(__name__)

CSV = "text/csv"
JSON = "application/json"
# The page must not be cached or leak its URL (it may carry ?api_key=) to other sites.
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}


def year(request: Any) -> int:
    try:
        return reports.parse_year((request.query_params or {}).get("year"))
    except reports.InvalidYear as exc:
        raise ApiError(400, "invalid year", str(exc)) from None


def wants_csv(request: Any) -> bool:
    """`?format=csv|json` wins; else the Accept header, highest quality first; else JSON."""
    fmt = (request.query_params or {}).get("format")
    if fmt is not None:
        if fmt.lower() not in ("json", "csv"):
            raise ApiError(400, "invalid format", f"format must be json or csv, got {fmt!r}")
        return fmt.lower() == "csv"
    offers = []
    for position, part in enumerate(((request.headers or {}).get("accept") or "").split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            offers.append((-quality, position, media.lower()))
    for _, _, media in sorted(offers):
        if media == CSV:
            return True
        if media in (JSON, "application/*", "*/*"):
            return False
    return False


def report_response(request: Any, db: Database, name: str) -> Response:
    """One report for the request's year, as a JSON array of objects or as CSV with a header row."""
    report = reports.REPORTS[name]
    the_year = year(request)
    as_csv = wants_csv(request)
    rows = report.run(db, the_year)
    if as_csv:
        return Response(
            body=reports.to_csv(rows, report.columns),
            status_code=200,
            headers={
                "Content-Type": f"{CSV}; charset=utf-8",
                "Content-Disposition": f'inline; filename="{name}-{the_year}.csv"',
                "Vary": "Accept",
            },
        )
    return json_response(rows, headers={"Vary": "Accept"})


def page_response(request: Any, db: Database) -> Response:
    """The HTML page with both reports and the chart for the request's year."""
    the_year = year(request)
    counts = db.quarterly_hires(the_year)
    hires = reports.department_hires(db, the_year)
    html = report_page.render(
        the_year,
        reports.hires_by_quarter_from(counts),
        reports.quarters_by_department(counts),
        hires,
        hires.above_mean(),
        api_key=(request.query_params or {}).get("api_key") or None,
    )
    return Response(body=html, status_code=200, headers=PAGE_HEADERS)


def report_paths(report: reports.Report) -> list[str]:
    """The paths a report answers at: its own under /reports, then its aliases."""
    return [f"/reports/{report.name}", *(f"/{alias}" for alias in report.aliases)]


def _report_view(report: reports.Report, path: str) -> Callable[[], Response]:
    def view() -> Response:
        return report_response(blueprint.current_request, database(), report.name)

    view.__name__ = path.strip("/").replace("/", "_").replace("-", "_")
    return view


def _route_reports() -> None:
    for report in reports.REPORTS.values():
        for path in report_paths(report):
            blueprint.route(path, methods=["GET"], api_key_required=True)(handles_errors(_report_view(report, path)))


_route_reports()


# For people: both reports and a chart. In AWS the key must still come as the x-api-key header (API
# Gateway does not read ?api_key=): open it through a proxy or extension that adds it.
@blueprint.route("/reports", methods=["GET"], api_key_required=True)
@handles_errors
def reports_page():
    return page_response(blueprint.current_request, database())
