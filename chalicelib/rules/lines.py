"""The common shape of a whole CSV line of a table, as one regular expression per table: what the file
loader's line path (`loading.lines`) reads without building a Python object per field.

A line in this shape holds exactly the table's fields, unquoted, each in the common form its rule takes
on the fast path (`rules.fields`), narrowed further so that every value it matches is valid and its text
is already the stored value: integers without sign, leading zero or surrounding space, below a billion
(so within 1..MAX_INTEGER); strings of 1..MAX_STRING_LENGTH characters with nothing `str.strip` would
remove and no quote, comma, tab, backslash, line break, NUL or surrogate; datetimes as
``YYYY-MM-DDTHH:MM:SSZ`` with a real calendar date (29 February is left to the rules) and a year from
MIN_YEAR. Anything else is left to the csv reader and the rules (`check_fields`), which give the
reasons. Tests feed fuzzed files to both and require the same rows, rejected lines and reasons.

Standard library only: the Glue jobs import this package too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from chalicelib.rules.dictionary import DATETIME, INTEGER, MAX_INTEGER, MAX_STRING_LENGTH, STRING, Table
from chalicelib.rules.fields import MIN_INTEGER, MIN_YEAR

_MAX_DIGITS = 9  # below a billion: in range of any INT column
assert MIN_INTEGER == 1 and MAX_INTEGER >= 10**_MAX_DIGITS - 1 and MIN_YEAR == 1000

_EDGE = r"[^\s\",\\\x00\ud800-\udfff]"  # a string's first or last character: not stripped, no CSV or TSV meaning
_INNER = r"[^\",\\\t\r\n\x00\ud800-\udfff]"
# Month-day pairs every year has (29 February is not one of them).
_MONTH_DAY = r"(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31"

# Per type: the capturing pattern of one field, and how many groups it has. A datetime's groups are
# its date, year, month and time of day.
FIELD_PATTERNS = {
    INTEGER: (f"([1-9][0-9]{{0,{_MAX_DIGITS - 1}}})", 1),
    STRING: (f"({_EDGE}(?:{_INNER}{{0,{MAX_STRING_LENGTH - 2}}}{_EDGE})?)", 1),
    DATETIME: (
        f"(([1-9][0-9]{{3}})-(?=(?:{_MONTH_DAY})T)([0-9]{{2}})-[0-9]{{2}})"
        "T((?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])Z",
        4,
    ),
}


@dataclass(frozen=True)
class LineShape:
    """The common line shape of one table. `pattern` matches each physical line of a text (multiline
    mode): a line in the shape gives the fields' groups; any other line gives empty groups and its text,
    without its line break, in the last group. `groups[i]` is the index of column i's first group."""

    table: Table
    pattern: re.Pattern
    groups: tuple[int, ...]

    @property
    def other(self) -> int:
        """The index of the group that holds a line not in the shape."""
        return self.pattern.groups - 1


@cache
def line_shape(table: Table) -> LineShape:
    """The common line shape of `table`, generated from its columns' types."""
    parts, groups, at = [], [], 0
    for column in table.columns:
        pattern, count = FIELD_PATTERNS[column.type]
        parts.append(pattern)
        groups.append(at)
        at += count
    pattern = re.compile(r"^(?:" + ",".join(parts) + r"\r?$|(.*))\n?", re.MULTILINE)
    return LineShape(table, pattern, tuple(groups))
