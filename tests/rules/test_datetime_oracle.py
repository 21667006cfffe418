"""The datetime rule's Python paths (the parser, the compiled fast paths, the CLI's line shape) against
the oracle (tests/rules/datetime_oracle.py), a second statement of the rule written independently of
the first.

`parse_datetime` and the compiled fast paths (`fast_csv_row`, `fast_json_row`) share the common-form
check (`fields.COMMON_DATETIME`), so comparing them with each other cannot catch a form that check lets
through: Python's `fromisoformat` reads week dates, basic times with a fraction and out-of-range offset
minutes, all of which the rule refuses. Here every path is compared with the oracle on every near miss
of a few valid texts (each character replaced, inserted or deleted; every pair of characters of the
common form replaced), on the other forms `fromisoformat` knows, and on generated token soups.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.rules.dictionary import TABLES
from chalicelib.rules.fields import parse_datetime
from chalicelib.rules.lines import line_shape
from chalicelib.rules.rows import fast_csv_row, fast_json_row
from tests.rules.datetime_oracle import (
    ALPHABET,
    OTHER_FORMS,
    SEEDS,
    epoch_seconds,
    near_misses,
    oracle,
    seconds_of,
    two_character_changes,
)

EMPLOYEES = TABLES["hired_employees"]
FAST_CSV, FAST_JSON = fast_csv_row(EMPLOYEES), fast_json_row(EMPLOYEES)
SHAPE = line_shape(EMPLOYEES)  # the CLI's line path: a line in this shape is stored from its text


def _line_shape_seconds(text: str) -> int | None:
    """The seconds the line path stores for `text` in a line of the common shape, or None when that line
    is not in the shape (the csv reader and the rules take it)."""
    if any(c in text for c in ',"\r\n'):  # another record's shape, or no single line
        return None
    [match, *_] = SHAPE.pattern.findall(f"7,Ann,{text},1,1\n")
    if not match[0]:
        return None
    at = SHAPE.groups[2]
    return epoch_seconds(*map(int, match[at].split("-")), *map(int, match[at + 3].split(":")))


def disagreements(texts) -> list[tuple[str, str, object, object]]:
    """(path, text, the path's seconds, the oracle's) wherever a path decides otherwise than the oracle.
    A fast path may decline a text (None: the full rule decides it), never decide it otherwise; so may the
    line path."""
    out = []
    for text in texts:
        expected = oracle(text)
        try:
            moment = parse_datetime(text)
            got = seconds_of(moment) if moment.microsecond == 0 and moment.tzinfo is None else ("not whole", moment)
        except ValueError:
            got = None
        if got != expected:
            out.append(("parse_datetime", text, got, expected))
        for name, row in (
            ("fast csv", FAST_CSV(["7", "Ann", text, "1", "1"])),
            ("fast json", FAST_JSON({"id": 7, "name": "Ann", "datetime": text, "department_id": 1, "job_id": 1})),
        ):
            if row is not None and seconds_of(row[2]) != expected:
                out.append((name, text, seconds_of(row[2]), expected))
        in_shape = _line_shape_seconds(text)
        if in_shape is not None and in_shape != expected:
            out.append(("line shape", text, in_shape, expected))
    return out


def test_the_oracle_reads_the_spec_examples():
    assert oracle("2021-11-07T02:48:42Z") == 1636253322  # date -d 2021-11-07T02:48:42Z +%s
    assert epoch_seconds(2021, 11, 7, 2, 48, 42) == 1636253322
    assert oracle("2021-11-07T02:48:42.999+01:00") == oracle("2021-11-07T01:48:42Z")
    assert oracle(" 2021-11-07 02:48 ") == oracle("2021-11-07T02:48:00Z")
    for refused in ("2021-W45-7T02:48:42Z", "2021-11-07T024842.5Z", "2021-11-07T02:48:42+05:75", "2021-02-29T00:00Z"):
        assert oracle(refused) is None, refused


@pytest.mark.parametrize("seed", SEEDS)
def test_every_one_character_near_miss_is_decided_as_the_oracle_decides_it(seed):
    texts = list(near_misses(seed))
    assert len(texts) > 20 * len(ALPHABET)
    assert disagreements(texts) == []


def test_every_two_character_change_of_the_common_form_is_decided_as_the_oracle_decides_it():
    texts = two_character_changes()
    assert len(texts) > 10_000
    assert disagreements(texts) == []


def test_the_forms_fromisoformat_knows_are_decided_as_the_oracle_decides_them():
    assert disagreements(OTHER_FORMS) == []


TOKENS = st.sampled_from(
    ["2021", "11", "07", "7", "45", "311", "02", "48", "42", "5", "123456", "-", ":", "T", "t", " ", "Z", "z", "W",
     ".", ",", "+", "-0800", "+05:30", "+0575", "\u0663", "\t"]
)  # fmt: skip


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(TOKENS, min_size=1, max_size=14).map("".join))
def test_any_token_soup_is_decided_as_the_oracle_decides_it(text):
    assert disagreements([text]) == []
