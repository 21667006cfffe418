"""The Glue load job's Spark rules against the Python rules: the same fuzzed files loaded by the
service's loader (chalicelib.loading.loader, the rules as Python) and by the Glue job (the rules as
Spark expressions and joins) must store the same rows and reject the same lines with the same reasons,
the same rejection-log entries and the same rejected-rows report.

The files are adversarial on purpose: whitespace of every kind, signs, leading zeros, huge integers,
impossible and leap dates, offsets, fractions, long and non-ASCII strings, empty fields, wrong field
counts, quoted fields with commas and quotes, blank lines, CR and CRLF line ends, a byte order mark,
ids repeated in the file, ids already stored (identical or not), missing references.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import load_csv
import pytest

from chalicelib.db.mysql import MysqlDatabase
from chalicelib.loading import loader
from chalicelib.rules import dictionary
from tests.rules.datetime_oracle import OTHER_FORMS

DEPARTMENTS = [(1, "Sales"), (2, "HR"), (3, "R&D")]
JOBS = [(1, "Engineer"), (2, "Analyst"), (4, "Manager")]
STORED = [(900, "Stored One", "2021-01-01 10:00:00", 1, 1), (901, "Zoë", "2021-06-30 23:59:59", 2, 4)]

IDS = [
    *[str(i) for i in range(1, 40)], *["900", "901", "901"],
    " 7", "7 ", "+7", "-7", "007", "0", "00", "2147483647", "2147483648", "99999999999999999999999", "7.0",
    "1e3", "1_000", "\u0663", "\u00b2", "\uff17", "", "   ", "\u3000 12 \u00a0", "\t13\t", "\x1c14\x1f",
]  # fmt: skip
NAMES = [
    "Ann", "Bob", "  Padded  ", "", " ", "x" * 255, "x" * 256, "\u00e9" * 255, "\u00e9" * 256, "\U0001f600" * 255,
    "\U0001f600" * 256, "Smith, John", 'say "hi"', 'a"b', "\ttab\t", "\u2028line sep", "Zo\u00eb", "\u00a0nbsp\u00a0",
    "\u200bzero width", "Stored One", "\u3000", "O'Brien", "back\\slash",
]  # fmt: skip
DATETIMES = [
    "2021-11-07T02:48:42Z", "2021-11-07T02:48:42z", "2021-11-07T02:48:42+05:30", "2021-11-07T02:48:42-0800",
    "2021-11-07T02:48:42+05", "2021-11-07T02:48:42", "2021-11-07 02:48:42", "2021-11-07t02:48:42",
    "2021-11-07T02:48", "2021-11-07T02:48:42.123456789Z", "2021-11-07T02:48:42,5+01:00", "2021-02-29T00:00:00Z",
    "2024-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2000-02-29T12:00:00Z", "2021-02-30T00:00:00Z",
    "2021-04-31T00:00:00Z", "2021-13-01T00:00:00Z", "2021-00-10T00:00:00Z", "2021-01-00T00:00:00Z",
    "2021-11-07T23:60:00Z", "2021-11-07T23:59:60Z",
    "0999-12-31T23:30:00Z", "9999-12-31T23:59:59Z", "1000-01-01T00:30:00+01:00",
    "1000-01-01T00:00:00Z", "2021-11-07",
    "  2021-11-07T02:48:42Z ", "2021-1-07T02:48:42Z",
    "\uff12\uff10\uff12\uff11-11-07T02:48:42Z", "2021-11-07T02:48:42+05:3", "",
    "2021-01-01T10:00:00Z", "2021-06-30T23:59:59+00:00", "2021-07-01T01:59:59+02:00", "not a date",
    "2021-11-07T02:48:42Z\u00a0", "2021-11-07T02:48:42 Z",
    *OTHER_FORMS,  # the forms datetime.fromisoformat knows (tests/rules/datetime_oracle.py)
]  # fmt: skip
REFERENCES = ["1", "2", "3", "4", "99", "0", "", " 2 ", "02", "-1"]


def _pick(rng: random.Random, values: list[str], common: list[str]) -> str:
    return rng.choice(common) if rng.random() < 0.6 else rng.choice(values)


def _employee_fields(rng: random.Random) -> list[str]:
    fields = [
        _pick(rng, IDS, [str(rng.randint(1, 60)), "900", "901"]),
        _pick(rng, NAMES, ["Ann", "Bob", "Stored One", "Zo\u00eb"]),
        _pick(rng, DATETIMES, ["2021-11-07T02:48:42Z", "2021-01-01T10:00:00Z", "2021-06-30T23:59:59+00:00"]),
        _pick(rng, REFERENCES, ["1", "2"]),
        _pick(rng, REFERENCES, ["1", "2", "4"]),
    ]
    if rng.random() < 0.05:
        fields = fields[: rng.randint(0, 4)] if rng.random() < 0.5 else [*fields, "extra"]
    return fields


def _job_fields(rng: random.Random) -> list[str]:
    fields = [_pick(rng, IDS, [str(rng.randint(1, 30)), "4"]), _pick(rng, NAMES, ["Engineer", "Manager", "Cook"])]
    return fields[:1] if rng.random() < 0.05 else fields


def _line(rng: random.Random, fields: list[str]) -> str:
    """One CSV line of `fields`: quoted only where needed, or every field quoted, or raw text for the
    fields that need no quotes."""
    if any(c in field for field in fields for c in ',"\r\n') or rng.random() < 0.1:
        out = io.StringIO()
        quoting = csv.QUOTE_ALL if rng.random() < 0.3 else csv.QUOTE_MINIMAL
        csv.writer(out, quoting=quoting, lineterminator="").writerow(fields)
        return out.getvalue()
    return ",".join(fields)


def fuzzed_file(seed: int, lines: int, fields_of) -> str:
    """A CSV text of `lines` fuzzed records (plus blank lines), line ends of every kind."""
    rng = random.Random(seed)
    out = ["\ufeff"] if seed % 2 else []
    for i in range(lines):
        if rng.random() < 0.04:
            out.append(rng.choice(["", "   ", '""', "\t"]))
        else:
            out.append(_line(rng, fields_of(rng)))
        if i < lines - 1 or rng.random() < 0.5:
            out.append(rng.choice(["\n"] * 8 + ["\r\n", "\r"]))
    return "".join(out)


def _reset(sql) -> None:
    sql("SET FOREIGN_KEY_CHECKS = 0")
    for name in ("rejections", "quarterly_hires", *reversed(dictionary.LOAD_ORDER)):
        sql(f"DELETE FROM `{name}`")
    sql("SET FOREIGN_KEY_CHECKS = 1")
    sql("INSERT INTO departments VALUES " + ", ".join(["(%s, %s)"] * len(DEPARTMENTS)), *sum(DEPARTMENTS, ()))
    sql("INSERT INTO jobs VALUES " + ", ".join(["(%s, %s)"] * len(JOBS)), *sum(JOBS, ()))
    sql("INSERT INTO hired_employees VALUES " + ", ".join(["(%s, %s, %s, %s, %s)"] * len(STORED)), *sum(STORED, ()))


def _outcome(sql, table: dictionary.Table) -> tuple:
    return (
        sql(f"SELECT * FROM `{table.name}` ORDER BY id"),
        sql("SELECT fingerprint, source, table_name, position, raw, reasons, row_id FROM rejections ORDER BY position"),
    )


def _report(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


CASES = [
    ("hired_employees", 11, 400, _employee_fields),
    ("hired_employees", 12, 400, _employee_fields),
    ("jobs", 13, 150, _job_fields),
]


@pytest.mark.parametrize(("table_name", "seed", "lines", "fields_of"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_spark_rules_decide_every_line_as_the_python_rules_do(
    spark, target, sql, tmp_path, table_name, seed, lines, fields_of
):
    table = dictionary.table(table_name)
    path = tmp_path / "incoming" / table_name / f"fuzz{seed}.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(fuzzed_file(seed, lines, fields_of).encode("utf-8"))
    source = path.as_uri()

    _reset(sql)
    service = MysqlDatabase.for_login(target.login)
    try:
        with loader.RejectedRowsReport(table) as report:
            by_python = loader.load(service, table, loader.open_file(str(path)), source, report=report)
            python_report = report.fileobj().read().decode("utf-8")
    finally:
        service.close()
    expected = _outcome(sql, table)

    _reset(sql)
    [by_spark] = load_csv.run_load(spark, target, source)
    spark_report = Path(by_spark.rejected_report.removeprefix("file://")).read_text(encoding="utf-8")

    assert (by_spark.inserted, by_spark.unchanged, by_spark.rejected) == (
        by_python.inserted,
        by_python.unchanged,
        by_python.rejected,
    )
    assert by_python.rejected > 20 and by_python.inserted > 10  # the file exercised both sides
    stored, logged = _outcome(sql, table)
    assert stored == expected[0]
    assert [(r[3], json.loads(r[5])) for r in logged] == [(r[3], json.loads(r[5])) for r in expected[1]]
    assert logged == expected[1]
    assert _report(spark_report) == _report(python_report)
