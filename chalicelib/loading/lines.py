"""The loader's line path: a chunk of plain lines (no quote, no lone carriage return) read with one
regular expression per table (`rules.lines`) instead of a csv record and typed values per field.

Lines in the table's common shape become the chunk's rows as the match's text groups: their ids,
referenced ids and summary counts are taken from those in bulk, and the backend stages them with one
template (`Database.stage_lines`). Every other line goes through the csv reader and the full rules, as
on the record path. When a chunk cannot be classified in bulk (a stored or repeated id, a missing
reference) it is read again whole the record path's way (`candidates`), so the outcome is the rules'.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import cache
from itertools import compress
from operator import itemgetter, not_
from typing import Any

from chalicelib.rules import validation
from chalicelib.rules.dictionary import DATETIME, INTEGER, Table
from chalicelib.rules.lines import LineShape, line_shape


def plain_text(text: str, longest: int | None = None) -> bool:
    """Whether a text of whole physical lines can take the line path: no quote (a quoted field may span
    lines), no carriage return but before a line feed, no line the csv reader refuses as too long
    (`longest`: the longest line's length, if known)."""
    if '"' in text or ("\r" in text and text.count("\r") != text.count("\r\n")):
        return False
    if longest is None:
        return not _has_line_longer(text, csv.field_size_limit())
    return longest <= csv.field_size_limit()


def _has_line_longer(text: str, limit: int) -> bool:
    """Whether a line of `text` has more than `limit` characters: window by window, each jump to the
    last line break of the next `limit + 1` characters (a few jumps per megabyte of short lines)."""
    at, end = 0, len(text)
    while end - at > limit:
        cut = text.rfind("\n", at, at + limit + 1)
        if cut < 0:
            return True
        at = cut + 1
    return False


_BLANK = re.compile(r"^[^\S\n]*\n", re.MULTILINE)
_LINE_MAY_BE_BLANK = re.compile(r"\n\s")  # a blank line starts the text or follows a line break


def count_records(text: str) -> int:
    """The records of a plain text of whole lines: its lines but the blank ones (the csv reader skips them)."""
    last = text[text.rfind("\n") + 1 :]  # a last line without its line break
    blank = 0
    if text[:1].isspace() or _LINE_MAY_BE_BLANK.search(text):  # else no line is blank: no need to find them
        blank = len(_BLANK.findall(text))
    return text.count("\n") - blank + (last != "" and not last.isspace())


@cache
def _with_fields(width: int) -> re.Pattern:
    return re.compile(r"^[^,\n]*" + r"(?:,[^,\n]*)" * (width - 1) + "$", re.MULTILINE)


def has_record_of(text: str, width: int) -> bool:
    """Whether a plain text has a line of `width` fields."""
    return _with_fields(width).search(text) is not None


class Lazy(Sequence):
    """A sequence of `size` items worked out only when something reads them (the chunk's rare path)."""

    def __init__(self, size: int, make: Callable[[], list]):
        self._size, self._make, self._items = size, make, None

    def _all(self) -> list:
        if self._items is None:
            self._items = self._make()
        return self._items

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index):
        return self._all()[index]

    def __iter__(self):
        return iter(self._all())


class LineChunk:
    """The records of consecutive plain lines of a file (`text`) that come after `before` lines.
    `records_of(text, before)` reads lines as the record path does."""

    def __init__(self, table: Table, text: str, before: int, records_of: Callable[[str, int], Iterator]):
        self.table, self.text, self.before = table, text, before
        shape: LineShape = line_shape(table)
        self.shape = shape
        matches = shape.pattern.findall(text)
        other = shape.other
        # A match with an empty first group is a line not in the shape (or the empty match at the end).
        in_shape = list(map(bool, map(itemgetter(0), matches)))
        self.matches = list(compress(matches, in_shape))
        others = [
            (before + i, matches[i][other])
            for i in compress(range(len(matches)), map(not_, in_shape))
            if matches[i][other] and not matches[i][other].isspace()
        ]
        self.others = validation.candidates(table, (record for n, line in others for record in records_of(line, n)))
        self.valid_others = [c for c in self.others if c.row is not None]
        self.invalid = [c for c in self.others if c.row is None]
        self._records_of = records_of
        self.records = len(self.matches) + len(self.others)
        self.valid_count = len(self.matches) + len(self.valid_others)

    def release(self) -> None:
        """Free the match groups (the bulk of the chunk's memory) once the rows are staged; `rows()`
        reads the text again if it is needed after all."""
        self.matches = None

    def _matches(self) -> list[tuple]:
        if self.matches is None:
            self.matches = [m for m in self.shape.pattern.findall(self.text) if m[0]]
        return self.matches

    def column(self, index: int, part: int = 0) -> list[str]:
        """The text of column `index` (its group `part`) of every line in the shape."""
        return list(map(itemgetter(self.shape.groups[index] + part), self.matches))

    def ids(self) -> list[int]:
        return [*map(int, self.column(0)), *(c.row[0] for c in self.valid_others)]

    def referenced(self) -> dict[str, set[int]]:
        """Per referenced table, the ids the chunk's valid rows name."""
        out = {}
        for i, column in enumerate(self.table.columns):
            if column.references:
                named = set(map(int, set(self.column(i))))
                named.update(c.row[i] for c in self.valid_others)
                out[column.references] = named
        return out

    def rows(self) -> list[tuple]:
        """The valid rows as typed values (lines in the shape first, then the others)."""
        makers = []
        for i, column in enumerate(self.table.columns):
            at = self.shape.groups[i]
            if column.type == INTEGER:
                makers.append(lambda m, at=at: int(m[at]))
            elif column.type == DATETIME:
                makers.append(lambda m, at=at: datetime.fromisoformat(f"{m[at]}T{m[at + 3]}"))
            else:
                makers.append(itemgetter(at))
        typed = [tuple(make(m) for make in makers) for m in self._matches()]
        return typed + [c.row for c in self.valid_others]

    def candidates(self) -> list[validation.Candidate]:
        """Every record of the chunk as the record path reads it (csv reader, then the rules)."""
        return validation.candidates(self.table, self._records_of(self.text, self.before))

    def quarter_keys(self, year_at: int, reference_at: Sequence[int]) -> Counter:
        """Counts of (year, month, referenced ids...) texts of the lines in the shape, for the summary."""
        at = self.shape.groups[year_at]
        keys = itemgetter(at + 1, at + 2, *(self.shape.groups[i] for i in reference_at))
        return Counter(map(keys, self.matches))


def prepared(db: Any, table: Table, chunk: LineChunk):
    """The chunk as `ingest.Prepared`: its lookups, rows (typed only if something reads them) and staging."""
    from chalicelib.loading import ingest

    ids = chunk.ids()
    valid = Lazy(chunk.valid_count, lambda: [c for c in chunk.candidates() if c.row is not None])
    # As many ids as valid rows (no id repeats) is one of `classify`'s conditions for the bulk case.
    found = validation.Lookups(set(ids), chunk.referenced(), valid, chunk.invalid)
    rows = Lazy(chunk.valid_count, chunk.rows)
    staged = db.stage_lines(table, chunk)
    chunk.release()
    return ingest.Prepared(found, rows, staged)


def line_records(parse: Callable[[Any, int], Iterator]) -> Callable[[str, int], Iterator]:
    """Records of a text of whole lines, numbered after `before` lines (the record path's reader)."""
    return lambda text, before: parse(io.StringIO(text, newline=""), before)
