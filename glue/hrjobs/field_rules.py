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
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from chalicelib.rules import dictionary, fields
from chalicelib.rules.dictionary import Table

Stage = dict[str, Column]  # named columns computed together; a later stage reads them by name


# Every character str.isspace() holds is below this: U+3000 IDEOGRAPHIC SPACE is the last (tests/glue checks
# the whole range), so the search takes a millisecond instead of 0.2 s of the job's start.
_WHITESPACE_END = 0x3001


@functools.cache
def _whitespace() -> str:
    """The characters Python's ``str.strip()`` removes (``str.isspace``)."""
    return "".join(c for c in map(chr, range(_WHITESPACE_END)) if c.isspace())


def _printable_ascii(code: Column) -> Column:
    return code.between(0x21, 0x7E)


def strip(text: Column) -> Column:
    """``text.strip()``: Python's whitespace (`str.isspace`), not Spark's `trim` (spaces only). Every such
    character is below 0x21 or above 0x7E, so a text that starts and ends with printable ASCII (most
    fields) is its own strip, without the search through the whitespace set."""
    plain = _printable_ascii(F.ascii(text)) & _printable_ascii(F.ascii(F.substring(text, -1, 1)))
    return F.when(plain, text).otherwise(F.btrim(text, F.lit(_whitespace())))


def _matches(text: Column, pattern: str) -> Column:
    # \z, not $: Java's $ also matches before a final line break.
    return text.rlike(f"^(?:{pattern})\\z")


def _integer(text: Column, p: str) -> list[Stage]:
    """`fields.parse_integer` of CSV text: ASCII digits (leading zeros allowed), MIN_INTEGER..MAX_INTEGER.
    Digits only, the cast reads them base 10 whatever the leading zeros, and is null past a bigint."""
    digits_only = (F.length(text) > 0) & (F.translate(text, "0123456789", "") == "")
    return [
        {f"{p}number": F.when(digits_only, text.cast("bigint"))},
        {
            f"{p}ok": F.coalesce(F.col(f"{p}number").between(fields.MIN_INTEGER, fields.MAX_INTEGER), F.lit(False)),
            f"{p}value": F.col(f"{p}number").cast("int"),
        },
    ]


def _string(text: Column, p: str) -> list[Stage]:
    """`fields.parse_string`: 1..MAX_STRING_LENGTH characters once stripped, no NUL."""
    ok = F.length(text).between(1, dictionary.MAX_STRING_LENGTH) & (F.instr(text, "\x00") == 0)
    return [{f"{p}ok": F.coalesce(ok, F.lit(False)), f"{p}value": text}]


def _number(text: Column, start: int, length: int) -> Column:
    return F.substring(text, start, length).cast("int")


def _datetime(text: Column, p: str) -> list[Stage]:
    """`fields.parse_datetime`: the pattern, a real calendar date and time (datetime.fromisoformat),
    an offset under 24 hours taken off, the fraction dropped, the UTC time within MIN_YEAR..MAX_YEAR."""
    c = functools.partial(lambda prefix, name: F.col(prefix + name), p)
    # Once the pattern matched, every part sits at a known place: YYYY-MM-DDTHH:MM[:SS[.f]][offset].
    has_seconds = F.substring(text, 17, 1) == ":"
    rest = F.when(has_seconds, F.expr(f"substring(`{p}text`, 20)")).otherwise(F.expr(f"substring(`{p}text`, 17)"))
    parts = {
        f"{p}shaped": _matches(text, fields.ISO_DATETIME_PATTERN),
        f"{p}year": _number(text, 1, 4),
        f"{p}month": _number(text, 6, 2),
        f"{p}day": _number(text, 9, 2),
        f"{p}hour": _number(text, 12, 2),
        f"{p}minute": _number(text, 15, 2),
        f"{p}second": F.when(has_seconds, _number(text, 18, 2)).otherwise(F.lit(0)),
        # "", Z, z, +HH, +HHMM or +HH:MM once a fraction is dropped (most texts have none)
        f"{p}offset": F.when(
            rest.startswith(".") | rest.startswith(","), F.regexp_replace(rest, "^[.,][0-9]+", "")
        ).otherwise(rest),
    }
    offset = c("offset")
    signed = offset.startswith("+") | offset.startswith("-")
    minutes = F.when(F.length(offset) > 3, F.substring(offset, -2, 2).cast("int")).otherwise(F.lit(0))
    month_ok = c("shaped") & c("month").between(1, 12) & (c("year") >= 1)
    days = F.dayofmonth(F.last_day(F.when(month_ok, F.make_date(c("year"), c("month"), F.lit(1)))))
    checks = {
        f"{p}offset_minutes": F.when(signed, _number(offset, 2, 2) * 60 + minutes).otherwise(F.lit(0)),
        f"{p}sign": F.when(offset.startswith("-"), F.lit(-1)).otherwise(F.lit(1)),
        f"{p}calendar_ok": month_ok
        & c("day").between(1, days)
        & (c("hour") <= 23)
        & (c("minute") <= 59)
        & (c("second") <= 59),
    }
    date = F.when(c("calendar_ok") & (c("offset_minutes") < 24 * 60), F.make_date(c("year"), c("month"), c("day")))
    seconds = {
        f"{p}seconds": F.unix_date(date).cast("bigint") * 86400
        + c("hour") * 3600
        + c("minute") * 60
        + c("second")
        - c("sign") * c("offset_minutes").cast("bigint") * 60
    }
    # Seconds since 1970 as a UTC wall-clock time: the jobs' session time zone is UTC (runtime.configure).
    result = {
        f"{p}ok": F.coalesce(c("seconds").between(fields.MIN_SECONDS, fields.MAX_SECONDS), F.lit(False)),
        f"{p}value": F.timestamp_seconds(c("seconds")).cast("timestamp_ntz"),
    }
    return [{f"{p}text": text}, parts, checks, seconds, result]


RULES: dict[str, Callable[[Column, str], list[Stage]]] = {
    dictionary.INTEGER: _integer,
    dictionary.STRING: _string,
    dictionary.DATETIME: _datetime,
}


def check_fields(df: DataFrame, table: Table, values: str = "fields") -> DataFrame:
    """`df` with `field_ok` (the array column `values`, a CSV record's fields, passes every field rule
    of `table`: the right number of fields, each field its type's rule) and the typed values in
    dictionary order, named as the columns (null unless `field_ok`).

    Each rule is a few stages of projections: a value costly to compute (a stripped field, an offset)
    is computed once and read by name, where nested expressions would recompute it per use.
    """
    width = len(table.columns)
    stripped = {f"_t{i}": strip(F.col(values).getItem(i)) for i in range(width)}
    stages = [RULES[c.type](F.col(f"_t{i}"), f"_c{i}_") for i, c in enumerate(table.columns)]
    df = df.withColumns(stripped)
    for depth in range(max(map(len, stages))):
        df = df.withColumns({k: v for stage in stages if depth < len(stage) for k, v in stage[depth].items()})
    ok = F.size(values) == width
    for i in range(width):
        ok = ok & F.col(f"_c{i}_ok")
    ok = F.coalesce(ok, F.lit(False))
    scratch = [name for name in df.columns if name.startswith(("_t", "_c"))]
    return df.withColumn("field_ok", ok).select(
        *(name for name in df.columns if name not in scratch),
        "field_ok",
        *(F.when(F.col("field_ok"), F.col(f"_c{i}_value")).alias(c.name) for i, c in enumerate(table.columns)),
    )
