"""The rule of each column type, stated once: what a field must be to be stored.

Each `FieldRule` knows, for its type, the full parse (a typed value, or ValueError with the reason),
the source text of its fast-path checks (CSV text, JSON values) that `rules.rows` compiles into
per-table row functions, and the check of a value read back from an Avro backup. The bounds the
rules share (integer range, string length, years) are the constants below; the reports and the
backups read them from here.

Standard library only: the Glue jobs import this module too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.rules.compiler import value_function
from chalicelib.rules.dictionary import DATETIME, INTEGER, MAX_INTEGER, MAX_STRING_LENGTH, STRING

MIN_INTEGER = 1
# The years a MySQL DATETIME holds; a stored hire time is in them.
MIN_YEAR, MAX_YEAR = 1000, 9999
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)
# The same years as whole seconds since 1970, for values restored from Avro timestamps.
MIN_SECONDS = (datetime(MIN_YEAR, 1, 1, tzinfo=UTC) - EPOCH) // SECOND
MAX_SECONDS = (datetime(MAX_YEAR, 12, 31, 23, 59, 59, tzinfo=UTC) - EPOCH) // SECOND

REQUIRED = "is required"

# Constants written into generated source as literals (cheaper than global lookups on the hot path).
LITERALS = {
    "MIN_INTEGER": MIN_INTEGER,
    "MAX_INTEGER": MAX_INTEGER,
    "MAX_STRING_LENGTH": MAX_STRING_LENGTH,
    "MIN_YEAR": MIN_YEAR,
}


def missing(value: Any) -> bool:
    """No value: absent (None), empty or only whitespace. Every parser refuses it; its reason is REQUIRED."""
    return value is None or (value.__class__ is str and (not value or value.isspace()))


def reason(name: str, value: Any, refusal: ValueError) -> str:
    """Why `value` of the field `name` breaks the rule whose parser refused it with `refusal`."""
    return f"{name}: {REQUIRED if missing(value) else refusal}"


def parse_integer(value: Any) -> int:
    """A whole positive number that fits the INT column, from JSON or CSV text."""
    if value.__class__ is int:
        number = value
    elif isinstance(value, bool):
        raise ValueError("must be a whole positive number, not a boolean")
    elif isinstance(value, int):
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.isdigit():
            raise ValueError(f"must be a whole positive number, got {value!r}")
        number = int(text)
    else:  # floats too, even whole ones: the spec's integers are written without a fraction or exponent
        raise ValueError(f"must be a whole positive number, got {value!r}")
    if number < MIN_INTEGER:
        raise ValueError(f"must be a whole positive number, got {number}")
    if number > MAX_INTEGER:
        raise ValueError(f"must be at most {MAX_INTEGER}, got {number}")
    return number


def parse_string(value: Any) -> str:
    """Text of 1 to MAX_STRING_LENGTH characters; surrounding whitespace is not part of the value."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise ValueError(REQUIRED)
    if len(text) > MAX_STRING_LENGTH:
        raise ValueError(f"must be at most {MAX_STRING_LENGTH} characters, got {len(text)}")
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    if not text.isascii() and _lone_surrogate(text):
        raise ValueError("must be text that UTF-8 can hold: it has a lone surrogate")
    return text


# The extended ISO 8601 forms parse_datetime takes (ASCII digits); the Glue job's Spark rule matches it too.
# An offset's minutes are 00-59 (fromisoformat would read +05:75 as 6 hours 15 minutes).
ISO_DATETIME_PATTERN = r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}(?::?[0-5]\d)?)?"
_ISO_DATETIME = re.compile(ISO_DATETIME_PATTERN, re.ASCII).fullmatch
_lone_surrogate = re.compile("[\ud800-\udfff]").search


def _year_reason(year: int) -> str:
    return f"year must be between {MIN_YEAR} and {MAX_YEAR}, got {year}"


# The common form of a datetime, 2021-11-07T02:48:42Z: already UTC with whole seconds. As a statement
# that sets `{v}` from the text `{f}` or returns None; both parse_datetime and the fast paths take it.
# Every separator is checked: fromisoformat also reads week dates (2021-W45-7) and basic times with a
# fraction (024842.5), which the rule refuses.
COMMON_DATETIME = (
    "if len({f}) != 20 or {f}[19] != 'Z' or {f}[10] != 'T' or {f}[4] != '-' or {f}[7] != '-'"
    " or {f}[13] != ':' or {f}[16] != ':': return None\n"
    "try:\n"
    "    {v} = _fromisoformat({f}[:19])\n"
    "except ValueError:\n"
    "    return None\n"
    "if {v}.tzinfo is not None or {v}.year < {MIN_YEAR}: return None"
)
_common_datetime = value_function(
    "common_datetime",
    COMMON_DATETIME.format(f="text", v="parsed", **LITERALS),
    "text",
    "parsed",
    {"_fromisoformat": datetime.fromisoformat},
)


def parse_datetime(value: Any) -> datetime:
    """An ISO 8601 date and time, as a naive UTC datetime with whole seconds.

    An offset is converted to UTC; no offset means UTC. Fractions of a second are dropped: the column
    keeps seconds, and dropping them here keeps a re-delivered row identical to the stored one.
    """
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 date and time string, got {type(value).__name__}")
    parsed = _common_datetime(value)
    if parsed is not None:
        return parsed
    text = value.strip()
    # A date alone is not a hire time; the time part is required (T or space separated), and only the
    # extended calendar form: no week dates, no basic-format times, offsets of hours and minutes.
    if not _ISO_DATETIME(text):
        raise ValueError(f"must be an ISO 8601 date and time like 2021-11-07T02:48:42Z, got {value!r}")
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "zZ" else text)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise ValueError(f"must be an ISO 8601 date and time like 2021-11-07T02:48:42Z, got {value!r}") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(_year_reason(parsed.year))
    return parsed.replace(microsecond=0)


def restored_seconds(value: Any) -> int:
    """An Avro timestamp (a datetime; naive means UTC) as whole seconds since 1970, fraction dropped as
    parse_datetime drops it, or ValueError when its year is out of bounds."""
    if not isinstance(value, datetime):
        raise ValueError(f"must be a date and time, got {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # Floor division: exact integer arithmetic, and the earlier whole second before 1970 as after it.
    seconds = (value - EPOCH) // SECOND
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        try:
            year = value.astimezone(UTC).year
        except (OverflowError, ValueError):  # the year in UTC is one Python cannot hold: 0 or 10000
            year = 0 if seconds < MIN_SECONDS else 10000
        raise ValueError(_year_reason(year))
    return seconds


def refuse(name: str, check: Callable[[Any], Any], value: Any) -> None:
    """Raise ValueError with the reason `value` breaks the rule `check` states, naming the field."""
    try:
        check(value)
    except ValueError as exc:
        raise ValueError(reason(name, value, exc)) from None
    # The rule takes this value in other forms (e.g. digits as text) but a backup never holds it so.
    raise ValueError(f"{name}: not a stored value of its type, got {type(value).__name__}")


@dataclass(frozen=True)
class FieldRule:
    """The rule of one column type.

    `csv` and `json` are statements that set `{v}` from the field `{f}` (CSV text; a JSON value) or
    return None: each accepts a subset of what `parse` accepts, with the same value (tests check this
    on thousands of inputs), and leaves anything else to `parse`, whose errors name the problem.
    `restored` sets `{v}` from a value read from an Avro backup (`{name}` is the field's name as a
    literal) or raises the reason, by `refuse`: it accepts exactly what the rule accepts of the types
    Avro gives (datetimes become whole seconds since 1970).
    """

    type: str
    parse: Callable[[Any], Any]
    csv: str
    json: str
    restored: str

    def source(self, form: str, f: str, v: str, name: str = "") -> list[str]:
        """The lines of the `form` ("csv", "json" or "restored") check for the variables `f` and `v`."""
        return getattr(self, form).format(f=f, v=v, name=repr(name), **LITERALS).splitlines()


def _refusing(fast: str, check: str) -> str:
    """A fast check that refuses, with the rule's reason, what it would have left to the parser."""
    return fast.replace("return None", f"refuse({{name}}, {check}, {{f}})")


_CSV_STRING = (
    "{v} = {f}.strip()\nif not {v} or len({v}) > {MAX_STRING_LENGTH} or '\\x00' in {v}: return None\n"
    "if not {v}.isascii() and _lone_surrogate({v}): return None"
)
_JSON_INTEGER = "if {f}.__class__ is not int or not {MIN_INTEGER} <= {f} <= {MAX_INTEGER}: return None\n{v} = {f}"
_JSON_STRING = "if {f}.__class__ is not str: return None\n" + _CSV_STRING

RULES: dict[str, FieldRule] = {
    INTEGER: FieldRule(
        INTEGER,
        parse_integer,
        # ASCII digits only: no sign, no space, no "²".
        csv=(
            "if not ({f}.isdigit() and {f}.isascii()): return None\n"
            "{v} = int({f})\n"
            "if not {MIN_INTEGER} <= {v} <= {MAX_INTEGER}: return None"
        ),
        # Numbers arrive as ints (not bools, floats or digit strings).
        json=_JSON_INTEGER,
        restored=_refusing(_JSON_INTEGER, "parse_integer"),
    ),
    STRING: FieldRule(
        STRING,
        parse_string,
        csv=_CSV_STRING,
        json=_JSON_STRING,
        restored=_refusing(_JSON_STRING, "parse_string"),
    ),
    DATETIME: FieldRule(
        DATETIME,
        parse_datetime,
        csv=COMMON_DATETIME,
        json="if {f}.__class__ is not str: return None\n" + COMMON_DATETIME,
        restored="try:\n    {v} = restored_seconds({f})\nexcept ValueError:\n    refuse({name}, restored_seconds, {f})",
    ),
}

# What the generated sources call.
SCOPE: dict[str, Any] = {
    "_fromisoformat": datetime.fromisoformat,
    "_lone_surrogate": _lone_surrogate,
    "refuse": refuse,
    "parse_integer": parse_integer,
    "parse_string": parse_string,
    "restored_seconds": restored_seconds,
}
