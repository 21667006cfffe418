"""The report page: rendering (escaping, chart, tables), its key check, and an end-to-end run in
headless Chromium (Debian's `chromium`, driven by Playwright without a browser download)."""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chalicelib import db as databases
from chalicelib.reports import page as report_page
from chalicelib.reports import queries as reports
from tests.reports.workload import brute_departments_above_mean, brute_hires_by_quarter, generate, load, stored

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCRIPT_NAME = "<script>alert('x')</script>"


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text: what a browser would build."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def count(self, tag: str, **attrs) -> int:
        return sum(1 for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items()))


# -- rendering ------------------------------------------------------------------------------------


def render_for(db, year: int) -> str:
    counts = db.quarterly_hires(year)
    hires = reports.department_hires(db, year)
    return report_page.render(
        year, reports.hires_by_quarter_from(counts), reports.quarters_by_department(counts), hires, hires.above_mean()
    )


def test_names_are_escaped_everywhere(db):
    departments, jobs, employees = generate(11, employees=300)
    load(db, departments, jobs, employees)
    html = render_for(db, 2021)
    page = Elements(html)
    assert page.count("script") == 0
    assert "<script>alert" not in html
    assert SCRIPT_NAME in "".join(page.text)  # shown as text, in the table and the chart labels


def test_the_chart_has_a_bar_segment_per_department_and_quarter_with_hires(db):
    departments, jobs, employees = generate(12, employees=300)
    load(db, departments, jobs, employees)
    page = Elements(render_for(db, 2021))
    expected = reports.quarters_by_department(db.quarterly_hires(2021))
    segments = [
        (a["data-department"], a["data-quarter"], int(a["data-hires"]))
        for t, a in page.tags
        if t == "rect" and a.get("class") == "bar"
    ]
    assert segments == [(name, q, n) for _, name, quarters in expected for q, n in zip(reports.QUARTERS, quarters) if n]
    assert sum(n for _, _, n in segments) == sum(
        sum(r[q] for q in reports.QUARTERS) for r in brute_hires_by_quarter(departments, jobs, employees, 2021)
    )
    assert page.count("svg", id="hires-chart") == 1


def test_the_tables_hold_both_reports(db):
    departments, jobs, employees = generate(13, employees=300)
    load(db, departments, jobs, employees)
    html = render_for(db, 2022)
    quarters = brute_hires_by_quarter(departments, jobs, employees, 2022)
    above = brute_departments_above_mean(departments, jobs, employees, 2022)
    first = re.search(r'<table id="hires-by-quarter-table">.*?</table>', html, re.S).group(0)
    second = re.search(r'<table id="departments-above-mean-table">.*?</table>', html, re.S).group(0)
    assert first.count("<tr>") == len(quarters) + 1
    assert second.count("<tr>") == len(above) + 1
    assert "Hiring reports 2022" in html


def test_an_empty_year_says_so(db):
    html = render_for(db, 1990)
    assert "No hires in 1990." in html
    assert Elements(html).count("rect", **{"class": "bar"}) == 0


# -- HTTP -----------------------------------------------------------------------------------------


def test_the_page_takes_the_key_as_header_or_query_parameter(client, database_url):
    load(databases.connect(database_url), *generate(14, employees=50))
    for path, headers in [("/reports", {"x-api-key": "test-key"}), ("/reports?api_key=test-key&year=2021", {})]:
        response = client.http.get(path, headers=headers)
        assert response.status_code == 200, path
        assert response.headers["Content-Type"].startswith("text/html")
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"
    for path, headers in [
        ("/reports", {}),
        ("/reports?api_key=wrong", {}),
        ("/reports?api_key=test-key", {"x-api-key": "wrong"}),
    ]:
        assert client.http.get(path, headers=headers).status_code == 403, (path, headers)


def test_the_query_key_is_kept_in_the_year_form_only_when_it_came_in_the_url(client, database_url):
    with_query = client.http.get("/reports?api_key=test-key").body.decode()
    assert '<input type="hidden" name="api_key" value="test-key">' in with_query
    with_header = client.http.get("/reports", headers={"x-api-key": "test-key"}).body.decode()
    assert 'name="api_key"' not in with_header


# -- end to end in Chromium -----------------------------------------------------------------------


@pytest.fixture
def served(tmp_path):
    """`chalice local` on a SQLite database holding generated data; yields (base URL, data)."""
    from bench.common import chalice_local

    url = f"sqlite:///{tmp_path / 'page.db'}"
    database = databases.connect(url)
    database.create_schema()
    data = generate(15, employees=600)
    load(database, *data)
    database.close()
    with chalice_local(url, api_key="page-key") as base:
        yield base, data


@pytest.fixture
def browser(tmp_path):
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-deps.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright gives the browser a fresh profile directory of its own; nothing is downloaded.
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


def test_the_page_renders_the_chart_and_tables_in_chromium(served, browser, tmp_path):
    base, (departments, jobs, employees) = served
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    dialogs, errors = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    response = page.goto(f"{base}/reports?api_key=page-key&year=2021")
    assert response.status == 200
    assert page.title() == "Hiring reports 2021"

    chart = page.locator("svg#hires-chart")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box["width"] > 500 and box["height"] > 200
    expected_quarters = brute_hires_by_quarter(departments, jobs, employees, 2021)
    bars = page.locator("svg#hires-chart rect.bar")
    # One segment per department (by id: two departments share a name) and quarter with hires.
    expected_segments = {
        (d, (when.month - 1) // 3) for d, _, when in stored(departments, jobs, employees) if when.year == 2021
    }
    assert bars.count() == len(expected_segments)
    assert all(bars.nth(i).bounding_box()["width"] > 0 for i in range(bars.count()))

    rows = page.locator("#hires-by-quarter-table tbody tr")
    assert rows.count() == len(expected_quarters)
    first = rows.first.locator("td").all_inner_texts()
    assert first == [
        expected_quarters[0]["department"],
        expected_quarters[0]["job"],
        *[str(expected_quarters[0][q]) for q in reports.QUARTERS],
    ]
    above = brute_departments_above_mean(departments, jobs, employees, 2021)
    ids = page.locator("#departments-above-mean-table tbody tr td:first-child").all_inner_texts()
    assert ids == [str(r["id"]) for r in above]

    # A department named like markup is shown as text and never runs.
    cell = page.locator("#hires-by-quarter-table td").filter(has_text=SCRIPT_NAME).first
    assert cell.is_visible() and cell.inner_text() == SCRIPT_NAME
    assert page.locator("svg#hires-chart text").filter(has_text=SCRIPT_NAME).count() == 1
    assert dialogs == [] and errors == []

    page.screenshot(path=os.environ.get("REPORT_PAGE_SCREENSHOT", str(tmp_path / "reports-2021.png")), full_page=True)

    # Choosing another year through the form keeps the key and redraws both reports.
    page.fill("input[name=year]", "2022")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.title() == "Hiring reports 2022"
    assert page.locator("#hires-by-quarter-table tbody tr").count() == len(
        brute_hires_by_quarter(departments, jobs, employees, 2022)
    )
    assert dialogs == [] and errors == []
