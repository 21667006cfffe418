"""Each field rule stated once: the bounds on every path, and the restore's check of Avro values."""

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.reports.queries import InvalidYear, parse_year
from chalicelib.rules.dictionary import (
    DATETIME,
    HIRED_EMPLOYEES,
    INTEGER,
    MAX_INTEGER,
    MAX_STRING_LENGTH,
    STRING,
    TABLES,
)
from chalicelib.rules.fields import MAX_SECONDS, MAX_YEAR, MIN_INTEGER, MIN_SECONDS, MIN_YEAR
from chalicelib.rules.rows import check_fields, fast_csv_row, fast_json_row, restored_row
from tests.rules.pools import TRICKY

EMPLOYEE = {
    "id": 7,
    "name": "Ana",
    "datetime": datetime(2021, 11, 7, 2, 48, 42, tzinfo=UTC),
    "department_id": 1,
    "job_id": 2,
}
GOOD = {**EMPLOYEE, "department": "Sales", "job": "DBA"}  # a valid Avro value per column name


def _seconds(naive_utc: datetime) -> int:
    return (naive_utc.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)


def _as_json(value):
    """An Avro value as the API would send it: datetimes as ISO 8601 text (no offset means UTC)."""
    return value.isoformat() if isinstance(value, datetime) else value


def _restored(table, record):
    """(row, None) or (None, reason) from the restore's check."""
    try:
        return restored_row(table)(record), None
    except ValueError as exc:
        return None, str(exc)


def _ruled(table, record):
    """(row, None) or (None, first reason) from check_fields, datetimes as whole seconds since 1970."""
    row, reasons = check_fields(table, {name: _as_json(value) for name, value in record.items()})
    if row is None:
        return None, reasons[0]
    return tuple(_seconds(v) if isinstance(v, datetime) else v for v in row), None


def _timestamps(rng: random.Random) -> datetime | None:
    year = rng.choice([1, 999, 1000, 1969, 1970, 2021, 9999])
    moment = datetime(year, rng.choice([1, 12]), rng.choice([1, 31]), rng.randrange(24), rng.randrange(60))
    moment += timedelta(seconds=rng.randrange(60), microseconds=rng.choice([0, 1, 500_000, 999_999]))
    zone = rng.choice([UTC, UTC, None, timezone(timedelta(hours=1)), timezone(timedelta(hours=-1))])
    value = moment.replace(tzinfo=zone)
    try:
        moment.replace(tzinfo=zone or UTC).astimezone(UTC)
    except (OverflowError, ValueError):  # a UTC year Python cannot hold: no ISO text for the rules to compare with
        return None
    return value


AVRO_VALUES = {
    INTEGER: lambda rng: rng.choice([1, 7, 0, -3, MAX_INTEGER, MAX_INTEGER + 1, rng.randint(-10, 10**10), None]),
    STRING: lambda rng: rng.choice(TRICKY[STRING] + [None, "x" * MAX_STRING_LENGTH + " "]),
    DATETIME: _timestamps,
}


@pytest.mark.parametrize("table", list(TABLES.values()), ids=list(TABLES))
def test_the_restore_check_accepts_what_the_rules_accept_and_refuses_with_their_reasons(table):
    rng = random.Random(20261202)
    accepted = refused = 0
    for _ in range(6000):
        record = {c.name: AVRO_VALUES[c.type](rng) if rng.random() < 0.5 else GOOD[c.name] for c in table.columns}
        restored = _restored(table, record)
        assert restored == _ruled(table, record), record
        accepted += restored[0] is not None
        refused += restored[0] is None
    assert accepted > 500 and refused > 500


def test_the_year_bounds_are_the_same_for_text_timestamps_and_reports():
    assert (MIN_YEAR, MAX_YEAR) == (1000, 9999)
    first, last = datetime(MIN_YEAR, 1, 1), datetime(MAX_YEAR, 12, 31, 23, 59, 59)
    assert (_seconds(first), _seconds(last)) == (MIN_SECONDS, MAX_SECONDS)
    for inside in (first, last):
        assert _ruled(HIRED_EMPLOYEES, {**EMPLOYEE, "datetime": inside})[0][2] == _seconds(inside)
        assert restored_row(HIRED_EMPLOYEES)({**EMPLOYEE, "datetime": inside})[2] == _seconds(inside)
    before = first - timedelta(seconds=1)
    reason = f"datetime: year must be between {MIN_YEAR} and {MAX_YEAR}, got {MIN_YEAR - 1}"
    assert check_fields(HIRED_EMPLOYEES, ["7", "Ana", before.isoformat() + "Z", "1", "2"])[1] == [reason]
    assert _restored(HIRED_EMPLOYEES, {**EMPLOYEE, "datetime": before}) == (None, reason)
    assert parse_year(str(MIN_YEAR)) == MIN_YEAR and parse_year(str(MAX_YEAR)) == MAX_YEAR
    for outside in (MIN_YEAR - 1, MAX_YEAR + 1):
        with pytest.raises(InvalidYear):
            parse_year(str(outside))


@pytest.mark.parametrize("number", [MIN_INTEGER - 1, MIN_INTEGER, MAX_INTEGER, MAX_INTEGER + 1])
def test_the_integer_range_is_the_same_on_every_path(number):
    table = TABLES["departments"]
    expected = (number, "Sales") if MIN_INTEGER <= number <= MAX_INTEGER else None
    assert check_fields(table, [str(number), "Sales"])[0] == expected
    assert fast_csv_row(table)([str(number), "Sales"]) == expected
    assert fast_json_row(table)({"id": number, "department": "Sales"}) == expected
    assert _restored(table, {"id": number, "department": "Sales"})[0] == expected


@pytest.mark.parametrize("length", [MAX_STRING_LENGTH, MAX_STRING_LENGTH + 1])
def test_the_string_length_is_the_same_on_every_path(length):
    table, text = TABLES["jobs"], "é" * length
    expected = (1, text) if length <= MAX_STRING_LENGTH else None
    assert check_fields(table, ["1", text])[0] == expected
    assert fast_csv_row(table)(["1", text]) == expected
    assert fast_json_row(table)({"id": 1, "job": text}) == expected
    assert _restored(table, {"id": 1, "job": text})[0] == expected
