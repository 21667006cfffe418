"""Per-row work of the CSV load, run on the executors: the service's own rules from
``chalicelib.rules.validation``, applied to partitions of rows. Module-level functions, so that Spark ships
them by reference to this module (present on every executor through ``--extra-py-files``)."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

from chalicelib.reports.spreadsheet import safe_cell
from chalicelib.rules import dictionary, validation
from hrjobs.schema import spark_schema

INSERT, UNCHANGED, REJECTED = "insert", "unchanged", "rejected"


def parsed_schema(table: dictionary.Table) -> StructType:
    """A CSV line after the field rules: its line number, its text, the reasons it breaks the rules
    (empty when none), and its typed values (null when it breaks them)."""
    return StructType(
        [
            StructField("position", LongType(), False),
            StructField("line", StringType(), False),
            StructField("reasons", ArrayType(StringType(), False), False),
            *spark_schema(table, nullable=True).fields,
        ]
    )


def classified_schema(table: dictionary.Table) -> StructType:
    """A CSV line after every rule: its outcome, and for rejections their log entry's fields."""
    return StructType(
        [
            StructField("outcome", StringType(), False),
            StructField("position", LongType(), False),
            StructField("fields", ArrayType(StringType(), False), False),
            StructField("reasons", ArrayType(StringType(), False), False),
            StructField("raw", StringType(), True),
            StructField("reasons_json", StringType(), True),
            StructField("fingerprint", StringType(), True),
            *spark_schema(table, nullable=True).fields,
        ]
    )


def split_line(line: str) -> tuple[list[str], list[str]]:
    """The CSV fields of one line, or the line as one field and why it cannot be split."""
    try:
        return next(csv.reader([line]), []), []
    except csv.Error as exc:
        return [line], [f"malformed CSV line: {exc}"]


def report_lines(table_name: str, rejected: Iterable[Any]) -> Iterator[str]:
    """The rejected-rows report's lines: its header, then per rejected row (position, reasons,
    fields) its line number, its reasons joined by "; " and its fields, as the service's loader writes."""
    yield _csv_line(["line", "reasons", *dictionary.table(table_name).column_names])
    for position, reasons, fields in rejected:
        yield _csv_line([position, "; ".join(reasons), *map(safe_cell, fields)])


def _csv_line(values: list) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def parse_lines(table_name: str, numbered_lines: Iterable[tuple[str, int]]) -> Iterator[tuple]:
    """(line text, 0-based line index) pairs of one CSV file -> rows of `parsed_schema`.

    Blank lines are skipped (they keep their number, so positions stay line numbers), as the
    service's loader does; a UTF-8 byte order mark on line 1 is not data.
    """
    table = dictionary.table(table_name)
    width = len(table.columns)
    for line, index in numbered_lines:
        if index == 0:
            line = line.lstrip("\ufeff")
        if not line.strip():
            continue
        fields, reasons = split_line(line)
        row = None
        if not reasons:
            row, reasons = validation.check_fields(table, fields)
        # The line's text travels on, not its fields: one string is cheaper to move between Python
        # and the JVM, and only rejected lines need splitting again.
        yield (index + 1, line, reasons, *(row if row is not None else (None,) * width))


def classify_partition(table_name: str, source: str, columns: list[str], rows: Iterable[Any]) -> Iterator[tuple]:
    """One partition of parsed rows -> rows of `classified_schema`, by ``validation.classify``.

    `columns` names the rows' fields. The partition must hold every occurrence of its ids, in line
    order, each row carrying ``stored`` (the stored row with its id, or null) and a
    ``<column>_exists`` flag per reference column.
    """
    table = dictionary.table(table_name)
    at = {name: i for i, name in enumerate(columns)}
    value_at = [at[n] for n in table.column_names]
    position_at, line_at, reasons_at, stored_at = at["position"], at["line"], at["reasons"], at["stored"]
    refs = [(i, c.references, at[f"{c.name}_exists"]) for i, c in enumerate(table.columns) if c.references]
    batch: list[validation.Candidate] = []
    lines: dict[int, str] = {}
    stored: dict[int, tuple] = {}
    existing: dict[str, set[int]] = defaultdict(set)
    for r in rows:
        position = r[position_at]
        lines[position] = r[line_at]
        if r[reasons_at]:
            batch.append(validation.Candidate(position, None, None, list(r[reasons_at])))
            continue
        typed = tuple(r[i] for i in value_at)
        batch.append(validation.Candidate(position, None, typed, []))
        if r[stored_at] is not None:
            stored[typed[0]] = tuple(r[stored_at])
        for i, referenced, flag_at in refs:
            if r[flag_at]:
                existing[referenced].add(typed[i])
    classified = validation.classify(table, batch, stored, existing)
    empty = (None,) * len(value_at)
    for outcome, candidates in ((INSERT, classified.to_insert), (UNCHANGED, classified.unchanged)):
        for c in candidates:
            yield (outcome, c.position, [], [], None, None, None, *c.row)
    for c in classified.rejected:
        raw, _ = split_line(lines[c.position])
        yield (
            REJECTED,
            c.position,
            raw,
            c.reasons,
            validation.raw_json(raw),
            json.dumps(c.reasons, ensure_ascii=False),
            validation.rejection_fingerprint(source, table.name, c.position, raw),
            *(c.row if c.row is not None else empty),
        )
