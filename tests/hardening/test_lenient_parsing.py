"""Which integer and datetime forms the data rules accept: those the spec allows, and no other.

The spec: "Integers are whole positive numbers" and "`datetime` is ISO 8601 (e.g. 2021-11-07T02:48:42Z);
an offset is converted; no offset means UTC". Read conservatively: what real exports write (digits,
possibly zero-padded or space-padded in a CSV cell; a space instead of the T, an offset with or without
a colon, fractions of a second, seconds left out, lowercase t/z as RFC 3339 allows) stays accepted.
Refused: numbers that are not written as whole numbers (a JSON 1.0 or 1e3 is a float: the same text
in a CSV cell is refused already, and one rule serves both), and forms outside the ISO 8601 calendar
date-time that Python's fromisoformat happens to take (offsets with seconds, week dates, a basic-format
time after an extended-format date).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.rules.fields import parse_datetime, parse_integer


@pytest.mark.parametrize(
    "value, expected",
    [
        (12, 12),  # a JSON integer
        ("12", 12),
        (" 12 ", 12),  # a CSV cell padded by its exporter
        ("0012", 12),  # zero-padded ids are common in exports; still a whole number
        (2**31 - 1, 2**31 - 1),
    ],
)
def test_whole_positive_numbers_are_accepted(value, expected):
    assert parse_integer(value) == expected


@pytest.mark.parametrize(
    "value",
    ["+12", "-12", "0", "12.0", "1e3", "1_000", "0x1F", "١٢", "１２", "²", "", " ", True, False, None, [12], 2**31],
)
def test_integers_in_other_forms_are_refused(value):
    with pytest.raises(ValueError):
        parse_integer(value)


@pytest.mark.parametrize("value", [1.0, 1e3, 12.0, 2.0**30])
def test_json_floats_are_refused_even_when_whole(value):
    with pytest.raises(ValueError):
        parse_integer(value)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2021-11-07T02:48:42Z", datetime(2021, 11, 7, 2, 48, 42)),
        ("2021-11-07 02:48:42", datetime(2021, 11, 7, 2, 48, 42)),  # what database and spreadsheet exports write
        ("2021-11-07T02:48:42", datetime(2021, 11, 7, 2, 48, 42)),  # no offset: UTC
        ("2021-11-07t02:48:42z", datetime(2021, 11, 7, 2, 48, 42)),  # RFC 3339 allows lowercase
        ("2021-11-07T02:48:42+02:00", datetime(2021, 11, 7, 0, 48, 42)),
        ("2021-11-07T02:48:42-00:00", datetime(2021, 11, 7, 2, 48, 42)),
        ("2021-11-07T02:48:42+0200", datetime(2021, 11, 7, 0, 48, 42)),  # strftime's %z
        ("2021-11-07T02:48:42.123Z", datetime(2021, 11, 7, 2, 48, 42)),  # fractions dropped
        ("2021-11-07T02:48:42.123456+05:30", datetime(2021, 11, 6, 21, 18, 42)),
        ("2021-11-07T02:48", datetime(2021, 11, 7, 2, 48)),  # ISO 8601 reduced precision
        (" 2021-11-07T02:48:42Z ", datetime(2021, 11, 7, 2, 48, 42)),  # a padded CSV cell
    ],
)
def test_iso_8601_date_times_real_exports_write_are_accepted(value, expected):
    assert parse_datetime(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2021-11-07",  # a date is not a hire time
        "2021-11-07T02",
        "2021-11-07T0248",
        "07/11/2021 02:48:42",
        "2021-11-07T02:48:42+24:00",
        "2021-13-07T02:48:42Z",
        "2021-02-29T02:48:42Z",
        "0999-11-07T02:48:42Z",
        "２０２１-11-07T02:48:42Z",
        "2021-11-07T02:48:42Zjunk",
        1636253322,
        None,
    ],
)
def test_date_times_that_are_not_iso_8601_are_refused(value):
    with pytest.raises(ValueError):
        parse_datetime(value)


@pytest.mark.parametrize(
    "value",
    [
        "2021-11-07T02:48:42+02:00:30",  # ISO 8601 offsets have hours and minutes only
        "2021-11-07T02:48:42.5+02:00:30.5",
        "2021-W44-7T02:48:42",  # a week date, not the calendar date the spec shows; no export writes one
        "2021-11-07T024842",  # basic-format time after an extended-format date: ISO 8601 forbids the mix
        "2021-11-07T02:48:42+05:75",  # an offset's minutes are 00-59; fromisoformat adds 75 minutes
        "2021-11-07T02:48:42-0860",
    ],
)
def test_forms_python_takes_but_iso_8601_does_not_are_refused(value):
    with pytest.raises(ValueError):
        parse_datetime(value)
