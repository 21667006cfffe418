"""Property tests for the data rules: the fast paths agree with `check_fields` on every generated input,
and the parsers raise nothing but ValueError (the documented error, which becomes a reason)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.rules.dictionary import DATETIME, INTEGER, MAX_INTEGER, MAX_STRING_LENGTH, TABLES
from chalicelib.rules.fields import parse_datetime, parse_integer, parse_string
from chalicelib.rules.rows import check_fields, fast_csv_row, fast_json_row

BOUNDED = settings(max_examples=250, deadline=None, database=None)  # one value per example
ROWS = settings(max_examples=120, deadline=None, database=None)  # a whole row per example

OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
MOMENTS = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.none() | OFFSETS)
DATETIME_TEXT = st.one_of(
    MOMENTS.map(lambda d: d.isoformat()),
    MOMENTS.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    MOMENTS.map(lambda d: d.isoformat(sep=" ", timespec="seconds")),
    st.from_regex(r"\A\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?\Z"),
    st.text(max_size=40),
)
INTEGER_TEXT = st.one_of(
    st.integers(-10, 2**33).map(str),
    st.integers(0, 2**31).map(lambda n: f" {n:08d} "),
    st.from_regex(r"\A[ +\-]?[0-9_.eE]{1,12}\s?\Z"),
    st.text(max_size=12),
)
STRING_TEXT = st.one_of(st.text(max_size=40), st.text(min_size=250, max_size=260), st.just(" \t "))
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=2),
)
TEXT_BY_TYPE = {INTEGER: INTEGER_TEXT, DATETIME: DATETIME_TEXT}


def csv_records(table):
    """Records of `table`'s width in every field's plausible and implausible shapes, or of another width."""
    fields = [TEXT_BY_TYPE.get(c.type, STRING_TEXT) for c in table.columns]
    return st.one_of(st.tuples(*fields).map(list), st.lists(st.text(max_size=8), max_size=len(fields) + 2))


def json_objects(table):
    values = [st.one_of(TEXT_BY_TYPE.get(c.type, STRING_TEXT), JSON_SCALARS) for c in table.columns]
    whole = st.tuples(*values).map(lambda vs: dict(zip(table.column_names, vs)))
    return st.one_of(whole, st.dictionaries(st.sampled_from([*table.column_names, "extra"]), JSON_SCALARS))


TABLE_NAMES = sorted(TABLES)


def assert_fast_path_agrees(fast, table, raw):
    row = fast(raw)
    typed, reasons = check_fields(table, raw)
    if row is not None:
        assert (typed, reasons) == (row, []), raw
    assert (typed is None) == bool(reasons), raw


@pytest.mark.parametrize("name", TABLE_NAMES)
@ROWS
@given(data=st.data())
def test_the_fast_csv_path_and_check_fields_agree_on_any_record(name, data):
    table = TABLES[name]
    record = data.draw(csv_records(table))
    assert_fast_path_agrees(fast_csv_row(table), table, record)


@pytest.mark.parametrize("name", TABLE_NAMES)
@ROWS
@given(data=st.data())
def test_the_fast_json_path_and_check_fields_agree_on_any_object(name, data):
    table = TABLES[name]
    obj = data.draw(json_objects(table))
    assert_fast_path_agrees(fast_json_row(table), table, obj)


@pytest.mark.parametrize("name", TABLE_NAMES)
@ROWS
@given(data=st.data())
def test_a_csv_record_and_the_same_text_as_a_json_object_get_the_same_verdict(name, data):
    table = TABLES[name]
    record = data.draw(st.tuples(*[TEXT_BY_TYPE.get(c.type, STRING_TEXT) for c in table.columns]).map(list))
    assert check_fields(table, record) == check_fields(table, dict(zip(table.column_names, record)))


@BOUNDED
@given(st.one_of(INTEGER_TEXT, JSON_SCALARS))
def test_parse_integer_gives_a_column_value_or_a_value_error(value):
    try:
        number = parse_integer(value)
    except ValueError:
        return
    assert number.__class__ is int and 0 < number <= MAX_INTEGER


@BOUNDED
@given(st.one_of(STRING_TEXT, JSON_SCALARS))
def test_parse_string_gives_trimmed_text_or_a_value_error(value):
    try:
        text = parse_string(value)
    except ValueError:
        return
    assert text == text.strip() and len(text) <= MAX_STRING_LENGTH and "\x00" not in text


@BOUNDED
@given(st.one_of(DATETIME_TEXT, JSON_SCALARS))
def test_parse_datetime_gives_a_naive_utc_second_or_a_value_error(value):
    try:
        moment = parse_datetime(value)
    except ValueError:
        return
    assert moment.tzinfo is None and moment.microsecond == 0 and 1000 <= moment.year <= 9999


@BOUNDED
@given(MOMENTS)
def test_a_date_time_with_an_offset_is_stored_as_the_same_instant_in_utc(moment):
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    expected = aware.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    if 1000 <= expected.year <= 9999:
        assert parse_datetime(moment.isoformat()) == expected


SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


@BOUNDED
@given(st.tuples(st.text(max_size=10), SURROGATES, st.text(max_size=10)).map("".join))
def test_every_string_the_rules_accept_can_be_stored_as_utf8(value):
    try:
        text = parse_string(value)
    except ValueError:
        return
    text.encode("utf-8")
