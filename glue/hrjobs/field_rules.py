"""The field rules of ``chalicelib.rules.fields`` as Spark column expressions, for CSV text.

One builder per column type of the data dictionary, each stating in Spark what the type's parser
(`fields.parse_integer`, `parse_string`, `parse_datetime`) accepts and the value it gives, from the
same constants (bounds, the ISO 8601 pattern) and Python's own definition of whitespace. They decide
which rows pass and their typed values; the reasons a row fails are still worded by the Python rules
(`validation.check_fields`), run on the rejected rows only. A differential test (tests/glue) feeds
fuzzed files to both and requires the same outcome for every line.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

from chalicelib.rules import dictionary, fields
from chalicelib.rules.dictionary import Table


@functools.cache
def _whitespace() -> str:
    """A Java regex class of the characters Python's ``str.strip()`` removes (``str.isspace``)."""
    chars = (chr(c) for c in range(sys.maxunicode + 1))
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars if c.isspace()) + "]"


def strip(text: Column) -> Column:
    """``text.strip()``: Python's whitespace, not Spark's `trim` (spaces only)."""
    ws = _whitespace()
    return F.regexp_replace(text, f"^{ws}+|{ws}+\\z", "")


def _matches(text: Column, pattern: str) -> Column:
    # \z, not $: Java's $ also matches before a final line break.
    return text.rlike(f"^(?:{pattern})\\z")


@dataclass(frozen=True)
class Checked:
    """A field after its rule: whether it passes, and its typed value (meaningful only when it passes)."""

    ok: Column
    value: Column


def _integer(field: Column) -> Checked:
    text = strip(field)
    digits = F.regexp_replace(text, "^0+", "")  # leading zeros: int("007") == 7
    width = len(str(fields.MAX_INTEGER))
    number = F.when(F.length(digits).between(1, width), digits.cast("bigint"))
    ok = _matches(text, "[0-9]+") & number.between(fields.MIN_INTEGER, fields.MAX_INTEGER)
    return Checked(F.coalesce(ok, F.lit(False)), number.cast("int"))


def _string(field: Column) -> Checked:
    text = strip(field)
    ok = F.length(text).between(1, dictionary.MAX_STRING_LENGTH) & (F.instr(text, "\x00") == 0)
    return Checked(ok, text)


def _number(text: Column, start: int, length: int) -> Column:
    return F.substring(text, start, length).cast("int")


def _datetime(field: Column) -> Checked:
    """`parse_datetime`: the pattern, a real calendar date and time (datetime.fromisoformat), the
    offset (under 24 hours) taken off, the fraction dropped, the UTC year within MIN_YEAR..MAX_YEAR."""
    text = strip(field)
    shaped = _matches(text, fields.ISO_DATETIME_PATTERN)
    # Once the pattern matched, every part sits at a known place: YYYY-MM-DDTHH:MM[:SS[.f]][offset].
    year, month, day = _number(text, 1, 4), _number(text, 6, 2), _number(text, 9, 2)
    hour, minute = _number(text, 12, 2), _number(text, 15, 2)
    has_seconds = F.substring(text, 17, 1) == ":"
    second = F.when(has_seconds, _number(text, 18, 2)).otherwise(F.lit(0))
    rest = F.when(has_seconds, text.substr(F.lit(20), F.length(text))).otherwise(text.substr(F.lit(17), F.length(text)))
    offset = F.regexp_replace(rest, "^[.,][0-9]+", "")
    signed = offset.rlike("^[+-]")
    offset_hours = F.when(signed, _number(offset, 2, 2)).otherwise(F.lit(0))
    offset_minutes = F.when(signed & (F.length(offset) > 3), F.substring(offset, -2, 2).cast("int")).otherwise(F.lit(0))
    offset_total = offset_hours * 60 + offset_minutes
    sign = F.when(F.substring(offset, 1, 1) == "-", F.lit(-1)).otherwise(F.lit(1))
    month_ok = month.between(1, 12) & (year >= 1)
    first_of_month = F.when(shaped & month_ok, F.make_date(year, month, F.lit(1)))
    day_ok = (day >= 1) & (day <= F.dayofmonth(F.last_day(first_of_month)))
    time_ok = (hour <= 23) & (minute <= 59) & (second <= 59) & (offset_total < 24 * 60)
    calendar_ok = shaped & month_ok & day_ok & time_ok
    date = F.when(calendar_ok, F.make_date(year, month, day))
    seconds = (
        F.unix_date(date).cast("bigint") * 86400
        + hour * 3600
        + minute * 60
        + second
        - sign * offset_total.cast("bigint") * 60
    )
    ok = calendar_ok & seconds.between(fields.MIN_SECONDS, fields.MAX_SECONDS)
    # Seconds since 1970 as a UTC wall-clock time: the jobs' session time zone is UTC (runtime.configure).
    value = F.timestamp_seconds(seconds).cast("timestamp_ntz")
    return Checked(F.coalesce(ok, F.lit(False)), value)


RULES: dict[str, Callable[[Column], Checked]] = {
    dictionary.INTEGER: _integer,
    dictionary.STRING: _string,
    dictionary.DATETIME: _datetime,
}


def check_columns(table: Table, values: Column) -> tuple[Column, list[Column]]:
    """For `values`, the array of a CSV record's fields: whether the record passes every field rule
    of `table` (the right number of fields, each field its type's rule), and its typed values in
    dictionary order (null when it does not pass)."""
    width = len(table.columns)
    ok = F.size(values) == width
    typed = []
    for i, column in enumerate(table.columns):
        checked = RULES[column.type](values.getItem(i))
        ok = ok & checked.ok
        typed.append((column, checked.value))
    ok = F.coalesce(ok, F.lit(False))
    return ok, [F.when(ok, value).alias(column.name) for column, value in typed]
