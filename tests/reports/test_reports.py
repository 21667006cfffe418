"""The two reports: semantics against an independent brute-force computation, order, the summary kept
exact by every kind of write, the HTTP routes and the CLI. On both backends."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pytest

from chalicelib.cli import main as cli
from chalicelib.loading import ingest, loader
from chalicelib.reports import queries as reports
from chalicelib.rules.dictionary import DEPARTMENTS, HIRED_EMPLOYEES, JOBS
from tests.conftest import on_every_backend

# -- semantics ------------------------------------------------------------------------------------
from tests.reports.workload import (
    BOUNDARY_TIMES,
    YEARS,
    assert_summary_exact,
    brute_departments_above_mean,
    brute_hires_by_quarter,
    generate,
    load,
)


@on_every_backend
@pytest.mark.parametrize("seed", [1, 2])
def test_reports_equal_the_brute_force_computation_in_every_year(db, seed):
    departments, jobs, employees = generate(seed)
    load(db, departments, jobs, employees)
    for year in (*YEARS, 1999):
        expected_quarters = brute_hires_by_quarter(departments, jobs, employees, year)
        expected_above = brute_departments_above_mean(departments, jobs, employees, year)
        for from_table in (False, True):
            assert reports.hires_by_quarter(db, year, from_table=from_table) == expected_quarters, (year, from_table)
            assert reports.departments_above_mean(db, year, from_table=from_table) == expected_above, (year, from_table)
    assert brute_hires_by_quarter(departments, jobs, employees, 2021)  # the data does exercise the reports
    assert brute_departments_above_mean(departments, jobs, employees, 2021)


@on_every_backend
def test_quarters_are_calendar_quarters_in_utc(db):
    load(
        db,
        [{"id": 1, "department": "Engineering"}],
        [{"id": 1, "job": "Developer"}],
        [
            {"id": i, "name": "P", "datetime": when, "department_id": 1, "job_id": 1}
            for i, when in enumerate(BOUNDARY_TIMES, 1)
        ],
    )
    assert reports.hires_by_quarter(db, 2021) == [
        {"department": "Engineering", "job": "Developer", "Q1": 3, "Q2": 2, "Q3": 2, "Q4": 3}
    ]
    assert reports.hires_by_quarter(db, 2020) == [
        {"department": "Engineering", "job": "Developer", "Q1": 0, "Q2": 0, "Q3": 0, "Q4": 1}
    ]
    assert reports.hires_by_quarter(db, 2022) == [
        {"department": "Engineering", "job": "Developer", "Q1": 1, "Q2": 0, "Q3": 0, "Q4": 0}
    ]


def test_names_are_ordered_the_way_a_person_reads_them(db):
    departments = [
        {"id": i, "department": n}
        for i, n in enumerate(["sales", "Éclair", "Sales", "DBA", "Eclair", "Data", "Sales"], 1)
    ]
    jobs = [
        {"id": i, "job": n} for i, n in enumerate(["DBA Lead", "dba lead", "Data Entry Clerk", "Ärztin", "Analyst"], 1)
    ]
    employees = [
        {"id": 10 * d + j, "name": "P", "datetime": "2021-05-01T00:00:00Z", "department_id": d, "job_id": j}
        for d in range(1, 8)
        for j in range(1, 6)
    ]
    load(db, departments, jobs, employees)
    # Accents and case ignored first; then accents, then uppercase first; identical names by id
    # (the two "Sales" are ids 3 and 7, so the rows of 3 come first).
    by_department = ["Data", "DBA", "Eclair", "Éclair", "Sales", "Sales", "sales"]
    by_job = ["Analyst", "Ärztin", "Data Entry Clerk", "DBA Lead", "dba lead"]
    rows = reports.hires_by_quarter(db, 2021)
    assert [(r["department"], r["job"]) for r in rows] == [(d, j) for d in by_department for j in by_job]
    # The two "Sales" departments stay apart: each has exactly its own hires.
    assert all(r["Q2"] == 1 for r in rows)


def test_mean_counts_departments_without_hires_and_is_strict(db):
    # Hires 2021: A 3, B 1, C 2 (= mean 6/3: not above), D none. Mean over 4 departments = 1.5.
    departments = [{"id": i, "department": n} for i, n in enumerate(["A", "B", "C", "D"], 1)]
    plan = [1, 1, 1, 2, 3, 3]
    employees = [
        {"id": i, "name": "P", "datetime": "2021-02-01T00:00:00Z", "department_id": d, "job_id": 1}
        for i, d in enumerate(plan, 1)
    ]
    load(db, departments, [{"id": 1, "job": "Developer"}], employees)
    assert reports.departments_above_mean(db, 2021) == [
        {"id": 1, "department": "A", "hired": 3},
        {"id": 3, "department": "C", "hired": 2},
    ]
    # Without D the mean is exactly 2: C (2) is not above it.
    db.delete_row(DEPARTMENTS, 4)
    assert reports.departments_above_mean(db, 2021) == [{"id": 1, "department": "A", "hired": 3}]


def test_ties_are_ordered_by_id(db):
    departments = [{"id": i, "department": n} for i, n in zip([9, 3, 5, 1], ["Z", "Y", "X", "W"])]
    plan = [9, 9, 3, 3, 5]  # 9 and 3 tie at 2 hires; mean 5/4
    employees = [
        {"id": i, "name": "P", "datetime": "2021-08-01T12:00:00Z", "department_id": d, "job_id": 1}
        for i, d in enumerate(plan, 1)
    ]
    load(db, departments, [{"id": 1, "job": "Developer"}], employees)
    assert [r["id"] for r in reports.departments_above_mean(db, 2021)] == [3, 9]


def test_mean_comparison_is_exact_with_large_counts(db):
    # The rule is checked in integers: counts where total / n is not representable exactly as a float.
    hires = reports.DepartmentHires(2021, [(1, "A", 333_333_334), (2, "B", 333_333_333), (3, "C", 333_333_333)], 3)
    assert hires.above_mean() == [{"id": 1, "department": "A", "hired": 333_333_334}]
    hires = reports.DepartmentHires(2021, [(1, "A", 10**17 + 1), (2, "B", 10**17)], 2)
    assert not float(10**17 + 1) > (2 * 10**17 + 1) / 2  # a float comparison would call A "not above"
    assert hires.above_mean() == [{"id": 1, "department": "A", "hired": 10**17 + 1}]


def test_no_departments_no_hires_and_other_years_give_empty_reports(db):
    assert reports.hires_by_quarter(db, 2021) == []
    assert reports.departments_above_mean(db, 2021) == []
    load(db, [{"id": 1, "department": "A"}, {"id": 2, "department": "B"}], [{"id": 1, "job": "J"}], [])
    assert reports.departments_above_mean(db, 2021) == []


@pytest.mark.parametrize("value, year", [(None, 2021), ("", 2021), ("2020", 2020), (" 1999 ", 1999), (9999, 9999)])
def test_year_parsing(value, year):
    assert reports.parse_year(value) == year


@pytest.mark.parametrize("value", ["abc", "0", "-1", "2021.5", "10000", "999", "２０２１", "1e3", True])
def test_a_bad_year_is_refused(value):
    with pytest.raises(reports.InvalidYear):
        reports.parse_year(value)


# -- the summary stays exact after every kind of write --------------------------------------------


@on_every_backend
def test_summary_is_exact_after_batch_inserts_deletes_loads_replays_and_rebuilds(db):
    departments, jobs, employees = generate(3, employees=400)
    # Batch inserts (through the API's path).
    load(db, departments, jobs, employees[:200])
    assert_summary_exact(db)
    # Deletes, including the last hire of a (department, job, quarter).
    for key in (1, 2, 5, 17, 150):
        assert db.delete_row(HIRED_EMPLOYEES, key)
    assert_summary_exact(db)
    # A file load (CSV, no header), re-delivered: the second time every row is an identical no-op.
    text = "".join(
        f"{e['id']},{e['name']},{e['datetime']},{e['department_id']},{e['job_id']}\n" for e in employees[200:300]
    )
    for _ in range(2):
        loader.load_csv(db, HIRED_EMPLOYEES, io.StringIO(text), source="test.csv")
        assert_summary_exact(db)
    # A replay: employees of a department that does not exist yet are rejected, then accepted.
    late = [dict(e, department_id=77) for e in employees[300:340]]
    result = ingest.insert_batch(db, HIRED_EMPLOYEES, enumerate(late), "late")
    assert result.inserted == 0 and len(result.rejected) == 40
    ingest.insert_batch(db, DEPARTMENTS, enumerate([{"id": 77, "department": "Late Arrivals"}]), "late")
    assert_summary_exact(db)
    replayed = ingest.replay_rejections(db, ["hired_employees"], source="late")
    assert replayed.inserted == 40
    assert_summary_exact(db)
    assert any(r["department"] == "Late Arrivals" for y in YEARS for r in reports.hires_by_quarter(db, y))
    # A restore or Glue load writes rows without the hooks, then rebuilds: here, rows removed and the
    # summary deliberately broken, then rebuilt.
    db.execute(f"DELETE FROM {db.q('hired_employees')} WHERE {db.q('id')} > 350")
    db.execute(f"UPDATE {db.q('quarterly_hires')} SET {db.q('q1')} = {db.q('q1')} + 5")
    assert reports.hires_by_quarter(db, 2021) != reports.hires_by_quarter(db, 2021, from_table=True)
    db.rebuild_derived()
    assert_summary_exact(db)


@on_every_backend
def test_a_rolled_back_write_leaves_the_summary_as_it_was(db):
    departments, jobs, employees = generate(4, employees=50)
    load(db, departments, jobs, employees)
    before = {y: db.quarterly_hires(y) for y in YEARS}
    extra = [(1000 + i, "P", datetime(2021, 5, 1), departments[0]["id"], 1) for i in range(10)]
    with pytest.raises(RuntimeError), db.transaction():
        db.insert_rows(HIRED_EMPLOYEES, extra)
        assert db.quarterly_hires(2021) != before[2021]  # visible inside the transaction
        raise RuntimeError("abort")
    assert {y: db.quarterly_hires(y) for y in YEARS} == before
    assert_summary_exact(db)


def test_the_last_hire_removed_leaves_no_summary_row(db):
    load(
        db,
        [{"id": 1, "department": "A"}],
        [{"id": 1, "job": "J"}],
        [{"id": 1, "name": "P", "datetime": "2021-01-01T00:00:00Z", "department_id": 1, "job_id": 1}],
    )
    assert db.delete_row(HIRED_EMPLOYEES, 1)
    assert db.query(f"SELECT COUNT(*) FROM {db.q('quarterly_hires')}")[0][0] == 0
    assert reports.hires_by_quarter(db, 2021) == []


def test_creating_the_schema_fills_a_missing_summary(db, admin_db):
    departments, jobs, employees = generate(5, employees=120)
    load(db, departments, jobs, employees)
    expected = reports.hires_by_quarter(db, 2021, from_table=True)
    admin_db.execute(f"DROP TABLE {db.q('quarterly_hires')}")  # a database from before the summary existed
    admin_db.create_schema()
    assert reports.hires_by_quarter(db, 2021) == expected
    assert_summary_exact(db)


# -- HTTP -----------------------------------------------------------------------------------------


@pytest.fixture
def loaded(client, database_url):
    from chalicelib import db as databases

    departments, jobs, employees = generate(6, employees=300)
    load(databases.connect(database_url), departments, jobs, employees)
    return departments, jobs, employees


def get(client, path, headers):
    return client.http.get(path, headers=headers)


@on_every_backend
def test_report_routes_answer_json_arrays_with_exactly_the_spec_keys(client, headers, loaded):
    quarters = json.loads(get(client, "/reports/hires-by-quarter", headers).body)
    above = json.loads(get(client, "/reports/departments-above-mean", headers).body)
    assert quarters == brute_hires_by_quarter(*loaded, 2021)
    assert above == brute_departments_above_mean(*loaded, 2021)
    assert quarters and above
    assert all(list(r) == ["department", "job", "Q1", "Q2", "Q3", "Q4"] for r in quarters)
    assert all(list(r) == ["id", "department", "hired"] for r in above)


def test_aliases_give_the_same_answers(client, headers, loaded):
    for alias, route in [
        ("/hired_employees_2021_quarters", "/reports/hires-by-quarter"),
        ("/hired_employees_2021", "/reports/departments-above-mean"),
    ]:
        a, b = get(client, alias, headers), get(client, route + "?year=2021", headers)
        assert a.status_code == b.status_code == 200
        assert json.loads(a.body) == json.loads(b.body)
        assert a.headers["Content-Type"].startswith("application/json")


@on_every_backend
def test_year_parameter_selects_the_year(client, headers, loaded):
    for year in (2019, 2022):
        body = json.loads(get(client, f"/reports/hires-by-quarter?year={year}", headers).body)
        assert body == brute_hires_by_quarter(*loaded, year)
        body = json.loads(get(client, f"/hired_employees_2021?year={year}", headers).body)
        assert body == brute_departments_above_mean(*loaded, year)


@on_every_backend
@pytest.mark.parametrize("how", ["format", "accept", "accept-q"])
def test_csv_on_request(client, headers, loaded, how):
    path, extra = "/reports/hires-by-quarter?year=2021", {}
    if how == "format":
        path += "&format=csv"
    elif how == "accept":
        extra = {"accept": "text/csv"}
    else:
        extra = {"accept": "application/json;q=0.5, text/csv;q=0.9"}
    response = get(client, path, dict(headers, **extra))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    import csv

    rows = list(csv.DictReader(io.StringIO(response.body.decode("utf-8"))))
    expected = brute_hires_by_quarter(*loaded, 2021)
    assert rows == [{k: str(v) for k, v in r.items()} for r in expected]


def test_csv_cells_a_spreadsheet_would_run_are_shown_as_text(client, headers, db):
    names = {1: '=HYPERLINK("http://evil.example","x")', 2: "+1+2", 3: "@SUM(A1)", 4: "-Ops", 5: "Plain"}
    ingest.insert_batch(db, DEPARTMENTS, enumerate({"id": i, "department": n} for i, n in names.items()), "test")
    ingest.insert_batch(db, JOBS, enumerate([{"id": 1, "job": "=1+1"}]), "test")
    hires = [{"id": i, "name": "A", "datetime": "2021-02-01T00:00:00Z", "department_id": i, "job_id": 1} for i in names]
    ingest.insert_batch(db, HIRED_EMPLOYEES, enumerate(hires), "test")
    import csv

    response = get(client, "/reports/hires-by-quarter?year=2021&format=csv", headers)
    rows = list(csv.DictReader(io.StringIO(response.body.decode("utf-8"))))
    assert sorted(r["department"] for r in rows) == sorted(["'" + n if n[0] in "=+-@" else n for n in names.values()])
    assert {r["job"] for r in rows} == {"'=1+1"} and {r["Q1"] for r in rows} == {"1"}
    # JSON carries the names as they are.
    body = json.loads(get(client, "/reports/hires-by-quarter?year=2021", headers).body)
    assert sorted(r["department"] for r in body) == sorted(names.values())


def test_json_wins_when_preferred_or_asked_for(client, headers, loaded):
    for path, accept in [
        ("/hired_employees_2021", "application/json, text/csv;q=0.5"),
        ("/hired_employees_2021?format=json", "text/csv"),
    ]:
        response = get(client, path, dict(headers, accept=accept))
        assert response.headers["Content-Type"].startswith("application/json")
        assert json.loads(response.body) == brute_departments_above_mean(*loaded, 2021)


@pytest.mark.parametrize("query", ["year=abc", "year=0", "year=10000", "year=2021.5", "year=-2021", "format=xml"])
def test_bad_parameters_are_400(client, headers, query):
    for path in (
        "/reports/hires-by-quarter",
        "/reports/departments-above-mean",
        "/hired_employees_2021",
        "/hired_employees_2021_quarters",
        "/reports",
    ):
        response = get(client, f"{path}?{query}", headers)
        assert response.status_code == 400 or (path == "/reports" and query == "format=xml"), (path, query)
        if response.status_code == 400:
            assert json.loads(response.body)["error"] in ("invalid year", "invalid format")


def test_reports_need_the_key_in_the_header(client, loaded):
    for path in (
        "/reports/hires-by-quarter",
        "/reports/departments-above-mean",
        "/hired_employees_2021",
        "/hired_employees_2021_quarters",
    ):
        assert get(client, path, {}).status_code == 403
        assert get(client, path, {"x-api-key": "wrong"}).status_code == 403
        # The query-parameter key is for the browser page only.
        assert get(client, path + "?api_key=test-key", {}).status_code == 403


# -- CLI ------------------------------------------------------------------------------------------


def test_cli_report_formats(database_url, capsys):
    from chalicelib import db as databases

    departments, jobs, employees = generate(7, employees=200)
    load(databases.connect(database_url), departments, jobs, employees)
    expected = brute_hires_by_quarter(departments, jobs, employees, 2020)

    assert (
        cli.main(["--database", database_url, "report", "hires-by-quarter", "--year", "2020", "--format", "json"]) == 0
    )
    assert json.loads(capsys.readouterr().out) == expected

    assert (
        cli.main(["--database", database_url, "report", "hires-by-quarter", "--year", "2020", "--format", "csv"]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "department,job,Q1,Q2,Q3,Q4" and len(out) == len(expected) + 1

    assert cli.main(["--database", database_url, "report", "departments-above-mean", "--format", "table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    above = brute_departments_above_mean(departments, jobs, employees, 2021)
    assert lines[1].split() == ["id", "department", "hired"]
    assert [line.split()[0] for line in lines[3:]] == [str(r["id"]) for r in above]

    assert cli.main(["--database", database_url, "report", "departments-above-mean", "--year", "twenty"]) == 1
    assert "year must be" in capsys.readouterr().err


def test_an_answer_of_megabytes_comes_back_whole(db):
    # 300 x 200 (department, job) pairs with 255-character names. MySQL packs the counts (ids and
    # Q1..Q4, ~23 bytes a pair) into one JSON_ARRAYAGG: about 1.4 MB, over MariaDB's default 1 MB cap
    # on aggregated strings; the 255-character names make the whole answer about 30 MB.
    departments = [{"id": i, "department": f"{i:03d}".ljust(255, "d")} for i in range(1, 301)]
    jobs = [{"id": i, "job": f"{i:03d}".ljust(255, "j")} for i in range(1, 201)]
    employees = [
        {
            "id": n,
            "name": "P",
            "datetime": f"2021-{1 + n % 12:02d}-01T00:00:00Z",
            "department_id": 1 + n % 300,
            "job_id": 1 + (n // 300) % 200,
        }
        for n in range(1, 60001)
    ]
    load(db, departments, jobs, employees)
    rows = reports.hires_by_quarter(db, 2021)
    assert len(rows) == 60000
    assert rows == brute_hires_by_quarter(departments, jobs, employees, 2021)
