"""The streaming CSV loader on both backends: real-world CSV, file-level refusals, chunks, re-delivery."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import pytest

from chalicelib import db as databases
from chalicelib.loading import bucket_layout, ingest, loader
from chalicelib.rules.dictionary import DEPARTMENTS, HIRED_EMPLOYEES, JOBS
from tests.loading.outages import lose_the_database_on_the_second_chunk

EMPLOYEE_LINES = [
    "1,Ana Pérez,2021-11-07T02:48:42Z,1,1",
    "2,Bo Li,2021-03-01T10:00:00-05:00,2,1",
]


@pytest.fixture(autouse=True)
def bulk_path_for_every_row(monkeypatch):
    """Files here are a few rows long: send them through the bulk path (LOAD DATA on MySQL), as a real
    file's chunks go, not through the INSERT that batches under ingest.BULK_MIN_ROWS rows get."""
    monkeypatch.setattr(ingest, "BULK_MIN_ROWS", 1)


def load_text(db, table, data: bytes | str, source="test.csv", **kwargs) -> loader.LoadResult:
    body = data.encode("utf-8") if isinstance(data, str) else data
    return loader.load(db, table, loader.open_bytes(body), source, **kwargs)


@pytest.fixture
def refs(db):
    load_text(db, DEPARTMENTS, "1,Engineering\n2,Sales\n")
    load_text(db, JOBS, "1,DBA Lead\n2,Data Entry Clerk\n")
    return db


def stored(db, table):
    return list(db.iter_rows(table))


def test_the_first_line_is_data_and_a_last_line_without_newline_is_loaded(db):
    result = load_text(db, DEPARTMENTS, "1,Engineering\n2,Sales")
    assert (result.records, result.inserted, result.rejected) == (2, 2, 0)
    assert stored(db, DEPARTMENTS) == [(1, "Engineering"), (2, "Sales")]


def test_crlf_bom_blank_lines_and_quoted_commas(db):
    data = '\ufeff1,"Research, Development"\r\n\r\n   \r\n2,"Sales ""EMEA"""\r\n3,Legal\r\n'
    result = load_text(db, DEPARTMENTS, data)
    assert (result.records, result.inserted, result.rejected) == (3, 3, 0)
    assert stored(db, DEPARTMENTS) == [(1, "Research, Development"), (2, 'Sales "EMEA"'), (3, "Legal")]


def test_a_quoted_field_spanning_lines_is_one_record_numbered_by_its_first_line(db):
    result = load_text(db, DEPARTMENTS, '1,"Two\nLines"\n2,Sales,extra\n')
    assert result.inserted == 1
    assert stored(db, DEPARTMENTS)[0] == (1, "Two\nLines")
    [rejected] = result.rejections
    assert rejected.position == 3 and "expected 2 fields" in rejected.reasons[0]


def test_wrong_field_counts_are_rejected_and_logged_with_their_line_numbers(refs):
    data = "\n".join([EMPLOYEE_LINES[0], "3,Too,Few", "", "4,Too,Many,2021-01-01T00:00:00Z,1,1", EMPLOYEE_LINES[1]])
    result = load_text(refs, HIRED_EMPLOYEES, data, source="/data/hired_employees.csv")
    assert (result.inserted, result.rejected) == (2, 2)
    entries = refs.list_rejections("hired_employees")
    assert [(e.source, e.position, e.raw) for e in entries] == [
        ("/data/hired_employees.csv", 2, ["3", "Too", "Few"]),
        ("/data/hired_employees.csv", 4, ["4", "Too", "Many", "2021-01-01T00:00:00Z", "1", "1"]),
    ]
    assert all("expected 5 fields" in e.reasons[0] for e in entries)


def test_values_are_stored_as_the_rules_say(refs):
    load_text(refs, HIRED_EMPLOYEES, "\n".join(EMPLOYEE_LINES))
    assert stored(refs, HIRED_EMPLOYEES) == [
        (1, "Ana Pérez", datetime(2021, 11, 7, 2, 48, 42), 1, 1),
        (2, "Bo Li", datetime(2021, 3, 1, 15, 0, 0), 2, 1),  # the offset converted to UTC
    ]


def test_strings_that_need_escaping_survive_the_bulk_path_exactly(db):
    names = ["O'Connor", "back\\slash", "tab\there", "new\nline", 'quote "q"', "Łukasz 😀", "%s %(x)s", "x" * 255]
    rows = [[str(i), name] for i, name in enumerate(names, 1)]
    # Enough rows to take the bulk path on MySQL, with the awkward ones among them.
    rows += [[str(i), f"Department {i}"] for i in range(len(names) + 1, 600)]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    result = load_text(db, DEPARTMENTS, out.getvalue())
    assert result.inserted == len(rows)
    assert [name for _, name in stored(db, DEPARTMENTS)[: len(names)]] == names


@pytest.mark.parametrize(
    "data, message",
    [
        (b"1,Engineering\n2,Caf\xe9\n", "line 2: not UTF-8: byte 0xE9"),
        ("1,Engineering\n".encode("utf-16"), "not UTF-8"),
        (b"1,Engineering\n2,Sa\x00les\n", "line 2: not a text file: it contains NUL bytes"),
        (b'1,Engineering\n2,"Sales\n3,Legal\n', "not valid CSV: a quoted field is not closed"),
        (b'1,"Engineering"x\n', "not valid CSV: a quoted field is followed by text"),
        (b'{"id": 1, "department": "Engineering", "x": [1, 2]}\n', "not a departments file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
        (b"1,Engineering\n2,Caf\xc3", "ends inside a multi-byte character"),
    ],
)
def test_a_file_that_is_not_utf8_or_not_csv_is_refused_whole(db, data, message):
    # The bad part comes after good lines, and chunks of one row would commit the good ones at once.
    with pytest.raises(loader.UnreadableFile) as excinfo:
        load_text(db, DEPARTMENTS, data, chunk_rows=1)
    assert message in str(excinfo.value)
    assert db.counts()["departments"] == 0 and db.counts()["rejections"] == 0


def test_an_overlong_line_is_refused_without_reading_it_whole(db, monkeypatch):
    monkeypatch.setattr(loader, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(loader, "READ_BYTES", 256)
    with pytest.raises(loader.UnreadableFile, match="line 2: not CSV: a line longer than 1000 bytes"):
        load_text(db, DEPARTMENTS, "1,Engineering\n2," + "x" * 5000 + "\n")
    assert db.counts()["departments"] == 0


def test_an_empty_file_loads_nothing(db):
    result = load_text(db, DEPARTMENTS, "\n\n")
    assert (result.records, result.inserted) == (0, 0)


def test_each_chunk_is_its_own_transaction_and_counts_add_up(refs):
    lines = [f"{i},Name {i},2021-0{1 + i % 9}-01T00:00:00Z,{1 + i % 2},{1 + i % 2}" for i in range(1, 251)]
    lines[99] = "100,,2021-01-01T00:00:00Z,1,1"  # blank name
    lines[199] = "200,Name,2021-01-01T00:00:00Z,1,9"  # no job 9
    seen = []
    result = load_text(refs, HIRED_EMPLOYEES, "\n".join(lines), chunk_rows=50, progress=lambda n, b: seen.append(n))
    assert seen == [50, 100, 150, 200, 250]
    assert (result.records, result.inserted, result.unchanged, result.rejected) == (250, 248, 0, 2)
    assert [(c.position, c.reasons) for c in result.rejections] == [
        (100, ["name: is required"]),
        (200, ["job_id: jobs 9 does not exist"]),
    ]
    assert refs.counts()["hired_employees"] == 248


def test_a_repeated_id_is_rejected_after_its_first_occurrence_even_across_chunks(refs):
    data = "\n".join([EMPLOYEE_LINES[0], EMPLOYEE_LINES[1], EMPLOYEE_LINES[0].replace("Ana", "Eve")])
    result = load_text(refs, HIRED_EMPLOYEES, data, chunk_rows=2)
    assert (result.inserted, result.rejected) == (2, 1)
    assert "already exists with different values" in result.rejections[0].reasons[0]


def test_redelivering_the_same_file_adds_no_rows_and_no_duplicate_rejections(refs):
    data = "\n".join(EMPLOYEE_LINES + ["3,Late,2021-01-01T00:00:00Z,7,1", "4,,2021-01-01T00:00:00Z,1,1"])
    first = load_text(refs, HIRED_EMPLOYEES, data, source="s3://hr-data/incoming/hired_employees/a.csv")
    again = load_text(refs, HIRED_EMPLOYEES, data, source="s3://hr-data/incoming/hired_employees/a.csv")
    assert (first.inserted, first.unchanged, first.rejected) == (2, 0, 2)
    assert (again.inserted, again.unchanged, again.rejected) == (0, 2, 2)
    counts = refs.counts()
    assert (counts["hired_employees"], counts["rejections"]) == (2, 2)


def test_employees_before_their_department_are_rejected_then_replayed(db):
    employees = "\n".join(EMPLOYEE_LINES)
    first = load_text(db, HIRED_EMPLOYEES, employees, source="/in/hired_employees.csv")
    assert (first.inserted, first.rejected) == (0, 2)
    load_text(db, DEPARTMENTS, "1,Engineering\n2,Sales\n")
    load_text(db, JOBS, "1,DBA Lead\n")
    replayed = ingest.replay_rejections(db)
    assert (replayed.inserted, replayed.still_rejected) == (2, 0)
    assert db.counts()["hired_employees"] == 2 and db.counts()["rejections"] == 0


def test_the_rejected_rows_report_has_line_reasons_and_original_fields(refs, tmp_path):
    data = "\n".join([EMPLOYEE_LINES[0], "2,Bo,yesterday,1,1", "3,Cy"])
    with loader.RejectedRowsReport(HIRED_EMPLOYEES) as report:
        load_text(refs, HIRED_EMPLOYEES, data, report=report)
        path = report.save(str(tmp_path / bucket_layout.report_name("hired_employees.csv")))
    assert path.endswith("hired_employees.rejected.csv")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["line", "reasons", "id", "name", "datetime", "department_id", "job_id"]
    assert rows[1][:2] == [
        "2",
        "datetime: must be an ISO 8601 date and time like 2021-11-07T02:48:42Z, got 'yesterday'",
    ]
    assert rows[1][2:] == ["2", "Bo", "yesterday", "1", "1"]
    assert rows[2] == ["3", "expected 5 fields (id, name, datetime, department_id, job_id), got 2", "3", "Cy"]


def test_the_rejected_rows_report_neutralizes_spreadsheet_formulas(refs, tmp_path):
    data = '4,=HYPERLINK("http://x"),yesterday,1,1\n5,@SUM(A1),yesterday,-1,1'
    with loader.RejectedRowsReport(HIRED_EMPLOYEES) as report:
        load_text(refs, HIRED_EMPLOYEES, data, report=report)
        path = report.save(str(tmp_path / "hired_employees.rejected.csv"))
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][2:4] == ["4", '\'=HYPERLINK("http://x")']
    assert rows[2][2:6] == ["5", "'@SUM(A1)", "yesterday", "'-1"]


def test_only_the_first_rejections_are_kept_in_memory(db, monkeypatch):
    monkeypatch.setattr(loader, "KEEP_REJECTIONS", 5)
    result = load_text(db, DEPARTMENTS, "".join(f"{i},\n" for i in range(1, 21)), chunk_rows=7)
    assert result.rejected == 20 and len(result.rejections) == 5
    assert result.to_dict()["rejected_truncated"] is True


def test_a_database_failure_mid_file_keeps_committed_chunks_and_a_rerun_completes(refs, monkeypatch):
    lines = [f"{i},N{i},2021-01-01T00:00:00Z,1,1" for i in range(1, 31)]
    real = lose_the_database_on_the_second_chunk(monkeypatch)
    with pytest.raises(loader.LoadStopped) as stopped:
        load_text(refs, HIRED_EMPLOYEES, "\n".join(lines), chunk_rows=10)
    assert refs.counts()["hired_employees"] == 10
    assert (stopped.value.line, stopped.value.result.records, stopped.value.result.inserted) == (11, 10, 10)
    assert "at line 11" in str(stopped.value) and "10 records committed" in str(stopped.value)
    assert "load the same file again" in str(stopped.value)
    assert "connection lost" not in str(stopped.value)  # the cause is logged, not shown
    monkeypatch.setattr(ingest, "insert_candidates", real)
    again = load_text(refs, HIRED_EMPLOYEES, "\n".join(lines), chunk_rows=10)
    assert (again.inserted, again.unchanged) == (20, 10)


def test_a_database_failure_on_the_first_chunk_is_raised_as_it_is_with_nothing_stored(refs, monkeypatch):
    def failing(*args, **kwargs):
        raise databases.DatabaseUnavailable("connection lost")

    monkeypatch.setattr(ingest, "insert_candidates", failing)
    with pytest.raises(databases.DatabaseUnavailable):
        load_text(refs, HIRED_EMPLOYEES, "1,N1,2021-01-01T00:00:00Z,1,1\n", chunk_rows=10)
    assert refs.counts()["hired_employees"] == 0


def test_a_file_that_changes_between_check_and_load_says_what_was_loaded(db):
    good = "".join(f"{i},Department {i}\n" for i in range(1, 5001)).encode()
    bodies = iter([good, good + b"5001,\xff\n"])  # what the check read, then what the load read
    with pytest.raises(loader.UnreadableFile, match="changed after it was checked") as excinfo:
        loader.load(db, DEPARTMENTS, lambda: io.BytesIO(next(bodies)), "x.csv", chunk_rows=1000)
    loaded = int(re.search(r"(\d+) records were loaded", str(excinfo.value)).group(1))
    assert loaded > 0 and db.counts()["departments"] == loaded


def test_load_csv_takes_an_open_text_stream(db):
    result = loader.load_csv(db, DEPARTMENTS, io.StringIO("1,Engineering\n2,Sales"), source="s.csv")
    assert result.inserted == 2


def test_a_concurrent_writer_between_classification_and_insert_is_retried(mysql_db, mysql_url, monkeypatch):
    # MySQL only: SQLite takes the write lock at BEGIN, so no other writer can get in between.
    refs = mysql_db
    load_text(refs, DEPARTMENTS, "1,Engineering\n2,Sales\n")
    load_text(refs, JOBS, "1,DBA Lead\n2,Data Entry Clerk\n")
    # Another writer stores id 2 after this chunk was classified: the bulk insert clashes, the
    # transaction is rolled back and classified again, and the row is then an identical no-op.
    real = refs.bulk_insert
    sneaked = []

    def bulk_insert(table, rows, staged=None):
        if not sneaked:
            sneaked.append(1)
            other = databases.connect(mysql_url)
            ingest.insert_batch(other, HIRED_EMPLOYEES, [(0, EMPLOYEE_LINES[1].split(","))], "other")
            other.close()
        return real(table, rows, staged)

    monkeypatch.setattr(refs, "bulk_insert", bulk_insert)
    result = load_text(refs, HIRED_EMPLOYEES, "\n".join(EMPLOYEE_LINES))
    assert (result.inserted, result.unchanged, result.rejected) == (1, 1, 0)


def test_the_bulk_path_quotes_strings_right_when_the_server_takes_no_backslash_escapes(mysql_db):
    db = mysql_db
    db.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
    names = ["O'Connor", "back\\slash", 'say "hi"', "100%"]
    result = load_text(
        db, DEPARTMENTS, "".join(f'{i},"{n.replace(chr(34), chr(34) * 2)}"\n' for i, n in enumerate(names, 1))
    )
    assert result.inserted == len(names)
    assert [name for _, name in stored(db, DEPARTMENTS)] == names
