"""The loader's line path against the record path (csv reader, then every rule) on fuzzed files: the same
valid rows, ids, references, summary counts and LOAD DATA text, the same rejected lines with the same
reasons, and the same record count in the check pass."""

from __future__ import annotations

import csv
import io
import random
from collections import Counter

import pytest

from chalicelib.db.mysql import _tsv_line, _tsv_template
from chalicelib.db.summary import quarterly_counts, quarterly_counts_of_lines
from chalicelib.loading import lines, loader
from chalicelib.rules.dictionary import DATETIME, INTEGER, STRING, TABLES
from chalicelib.rules.lines import line_shape
from chalicelib.rules.validation import candidates
from tests.rules.pools import COMMON, TRICKY, mutated

MORE = {
    INTEGER: ["999999999", "1000000000", "12", "0012"],
    STRING: ["x", "a" * 254, " ", "\u00a0Ann", "Ann\u00a0", "\x1cAnn", "A\x0bB", "Ann\u2028", "d'Arc", "\u00e9"],
    DATETIME: [
        "2021-04-31T10:00:00Z",
        "2021-04-30T10:00:00Z",
        "2023-02-29T10:00:00Z",
        "2021-12-31T23:59:59Z",
        "2021-13-01T00:00:00Z",
        "2021-06-15T23:60:00Z",
        "2021-06-15T10:00:60Z",
    ],
}


def fuzzed_line(table, rng: random.Random) -> str:
    if rng.random() < 0.03:
        return rng.choice(["", "   ", "\t", ",,,,", "1", "\u00a0"])
    fields = []
    for column in table.columns:
        pool = TRICKY[column.type] + MORE[column.type]
        kind = rng.random()
        fields.append(
            COMMON[column.type] if kind < 0.55 else rng.choice(pool) if kind < 0.85 else mutated(rng.choice(pool), rng)
        )
    if rng.random() < 0.5:
        fields[0] = str(rng.randint(1, 400))  # distinct-ish ids, some repeated
    if rng.random() < 0.03:
        fields = fields[:-1] if rng.random() < 0.5 else [*fields, "extra"]
    # Fields that would need quoting are written as they are: a line breaks where they say.
    return ",".join(f.replace('"', "") for f in fields)


def fuzzed_text(table, rng: random.Random, count: int) -> str:
    ends = ["\n"] * 8 + ["\r\n"]
    end = rng.choice(ends)
    text = "".join(fuzzed_line(table, rng) + end for _ in range(count))
    return text if rng.random() < 0.7 else text.rstrip("\r\n")


def record_path(table, text: str):
    return candidates(table, loader._records(io.StringIO(text, newline="")))


@pytest.mark.parametrize("table", list(TABLES.values()), ids=list(TABLES))
def test_the_line_path_gives_what_the_record_path_gives_on_fuzzed_files(table):
    rng = random.Random(20261202)
    records_of = lines.line_records(loader._records)
    in_shape = 0
    for _ in range(150):
        text = fuzzed_text(table, rng, rng.randint(1, 120))
        if not lines.plain_text(text):
            continue
        expected = record_path(table, text)
        chunk = lines.LineChunk(table, text, 0, records_of)
        in_shape += len(chunk.matches)
        valid = [c.row for c in expected if c.row is not None]
        assert chunk.records == len(expected) and chunk.valid_count == len(valid)
        assert [(c.position, c.raw, c.reasons) for c in chunk.invalid] == [
            (c.position, c.raw, c.reasons) for c in expected if c.row is None
        ]
        assert Counter(chunk.rows()) == Counter(valid)
        assert Counter(chunk.ids()) == Counter(row[0] for row in valid)
        referenced = {
            col.references: {row[i] for row in valid} for i, col in enumerate(table.columns) if col.references
        }
        assert chunk.referenced() == referenced
        template = _tsv_template(line_shape(table))
        staged = [template.format(*m) for m in chunk.matches] + [_tsv_line(table)(c.row) for c in chunk.valid_others]
        assert Counter(staged) == Counter(map(_tsv_line(table), valid))
        if table.name == "hired_employees":
            assert quarterly_counts_of_lines(chunk) == quarterly_counts(valid)
        assert chunk.candidates() == expected  # the rare path reads the chunk as the record path does
        if "\x00" not in text and any(c.row for c in expected):  # the check pass refuses NUL bytes whole
            assert loader.check(loader.open_bytes(text.encode()), table).records == len(expected)
    assert in_shape > 500  # the line path does take the common shape


def test_a_file_with_quotes_switches_to_the_csv_reader_from_its_block_and_numbers_lines_the_same(db, monkeypatch):
    table = TABLES["departments"]
    plain = "".join(f"{i},Dept {i}\n" for i in range(1, 8))
    quoted = '8,"Research, and\nDevelopment"\n9,Legal\n\n10,  Ops  \n'
    text = plain + quoted
    result = loader.load(db, table, loader.open_bytes(text.encode()), "q.csv", chunk_rows=3)
    assert (result.inserted, result.rejected) == (10, 0)
    assert db.get_row(table, 8) == (8, "Research, and\nDevelopment")
    assert loader.check(loader.open_bytes(text.encode()), table).records == 10
    broken = (plain + '8,"open\n9,x\n').encode()
    messages = []
    for line_path in (True, False):
        monkeypatch.setattr(loader, "LINE_PATH", line_path)
        monkeypatch.setattr(loader, "READ_BYTES", 16)  # the quote is in a later piece
        with pytest.raises(loader.UnreadableFile) as refused:
            loader.check(loader.open_bytes(broken), table)
        messages.append(str(refused.value))
    assert (
        messages[0] == messages[1] == "line 9: not valid CSV: a quoted field is not closed before the end of the file"
    )


@pytest.mark.parametrize("read_bytes", [7, 64, 1 << 20])
def test_the_check_pass_counts_plain_pieces_as_the_csv_reader_counts_records(monkeypatch, read_bytes):
    monkeypatch.setattr(loader, "READ_BYTES", read_bytes)
    table = TABLES["jobs"]
    rows = [f"{i},Job {i}" if i % 7 else "  " for i in range(1, 40)]
    for text in (
        "\r\n".join(rows) + "\r\n",
        "\n".join(rows),
        "\n".join(rows[:20]) + '\n21,"Multi\r\nline"\n' + "\r\n".join(rows[21:]),
    ):
        expected = record_path(table, text)
        assert loader.check(loader.open_bytes(text.encode()), table).records == len(expected), text


@pytest.mark.parametrize("piece_chars", [50, 1 << 16])
def test_chunks_cut_at_whole_lines_and_number_them_as_the_record_path(db, monkeypatch, piece_chars):
    table = TABLES["hired_employees"]
    rng = random.Random(7)
    body = fuzzed_text(table, rng, 400).replace("\x00", "").encode()  # the reader refuses NUL bytes
    monkeypatch.setattr(loader, "PIECE_CHARS", piece_chars)

    def read(line_path: bool) -> list:
        monkeypatch.setattr(loader, "LINE_PATH", line_path)
        chunks = list(loader._chunks(loader.open_bytes(body), db, table, 37))
        for chunk in chunks:
            chunk.discard()
        return [(c.position, c.row, c.reasons) for chunk in chunks for c in chunk.candidates]

    assert read(True) == read(False)


def test_records_of_plain_text_are_counted_as_the_csv_reader_counts_them():
    rng = random.Random(11)
    parts = ["1,a", "", " ", "\t", "\u00a0", "\u3000 ", "x", " 2,b", "3, ", ",", "\x0b"]
    for _ in range(400):
        text = "\n".join(rng.choice(parts) for _ in range(rng.randint(0, 12))) + rng.choice(["", "\n"])
        expected = sum(1 for fields in csv.reader(io.StringIO(text, newline="")) if not _blank(fields))
        assert lines.count_records(text) == expected, repr(text)


def _blank(fields: list[str]) -> bool:
    return not fields or (len(fields) == 1 and not fields[0].strip())


@pytest.mark.parametrize("at", ["first", "middle", "last"])
def test_a_line_longer_than_csv_allows_is_not_plain_text(at):
    limit = csv.field_size_limit()
    short, fits, too_long = "1,a", "x" * limit, "x" * (limit + 1)
    lines_of = {"first": [too_long, short, short], "middle": [short, too_long, short], "last": [short, short, too_long]}
    assert lines.plain_text("\n".join([short, fits, short] * 3) + "\n")
    assert not lines.plain_text("\n".join(lines_of[at]) + "\n")
    assert not lines.plain_text("\n".join(lines_of[at]))
