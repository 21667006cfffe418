"""Per-row Python of the CSV load, run on the executors for the few rows that need it: splitting
lines that hold quotes (``csv``'s rules, not a re-statement of them), and wording the reasons of
rejected rows with the service's own rules (``chalicelib.rules.validation``). Module-level functions,
so that Spark ships them by reference to this module (present on every executor through
``--extra-py-files``)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

from chalicelib.db import rejections
from chalicelib.reports.spreadsheet import safe_cell
from chalicelib.rules import dictionary, validation

INSERT, UNCHANGED, REJECTED = "insert", "unchanged", "rejected"

RECORD_SCHEMA = StructType(
    [
        StructField("position", LongType(), False),
        StructField("line", StringType(), False),
        StructField("fields", ArrayType(StringType(), False), False),
        StructField("split_error", StringType(), True),
    ]
)
REJECTION_SCHEMA = StructType(
    [
        StructField("position", LongType(), False),
        StructField("fields", ArrayType(StringType(), False), False),
        StructField("reasons", ArrayType(StringType(), False), False),
        StructField("raw", StringType(), False),
        StructField("reasons_json", StringType(), False),
        StructField("fingerprint", StringType(), False),
        StructField("row_id", LongType(), True),
    ]
)


class RulesDisagree(RuntimeError):
    """The Spark rules rejected a row the Python rules accept: a bug, never a verdict on the data."""


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


def is_blank(fields: list[str]) -> bool:
    """A record that is not a row: no field, or one blank field (the service's loader skips it too)."""
    return not fields or (len(fields) == 1 and not fields[0].strip())


def split_records(numbered_lines: Iterable[Any]) -> Iterator[tuple]:
    """(position, line) pairs -> rows of RECORD_SCHEMA: the line, its CSV fields, or the line as one
    field and why it cannot be split; blank records are skipped."""
    for position, line in numbered_lines:
        fields, errors = split_line(line)
        if errors or not is_blank(fields):
            yield position, line, fields, errors[0] if errors else None


def fields_of(row: Any) -> list[str]:
    """The CSV fields of a classified line, split again from its text (only rejected lines need them):
    `csv` splits a line without quotes at every comma, as Spark did."""
    return split_line(row["line"])[0]


def rejection_reasons(table: dictionary.Table, row: Any) -> list[str]:
    """Why the rules reject `row` (a classified line, see load_csv.classify), in the service's words:
    the field rules' reasons (`validation.check_fields`), else `validation.classify` of the line with
    what Spark found about it: its first occurrence in the file, its stored row, its references."""
    if row["split_error"]:
        return [row["split_error"]]
    if not row["field_ok"]:
        _, reasons = validation.check_fields(table, fields_of(row))
    else:
        typed = tuple(row[name] for name in table.column_names)
        position, first = row["position"], row["first_position"]
        batch = [validation.Candidate(position, None, typed, [])]
        if first is not None and first != position:
            batch.insert(0, validation.Candidate(first, None, typed, []))
        stored = {typed[0]: tuple(row["stored"])} if row["stored"] is not None else {}
        existing = {
            c.references: ({typed[i]} if row[f"{c.name}_exists"] else set())
            for i, c in enumerate(table.columns)
            if c.references
        }
        classified = validation.classify(table, batch, stored, existing)
        reasons = [reason for c in classified.rejected if c.position == position for reason in c.reasons]
    if not reasons:
        raise RulesDisagree(f"{table.name} line {row['position']}: rejected by Spark, accepted by the Python rules")
    return reasons


def rejection_entries(table_name: str, source: str, rows: Iterable[Any]) -> Iterator[tuple]:
    """Rejected lines -> rows of REJECTION_SCHEMA: reasons, and the rejection log's raw row, fingerprint
    and row id, as the service's log stores them (`chalicelib.db.rejections`)."""
    table = dictionary.table(table_name)
    for row in rows:
        fields = fields_of(row)
        reasons = rejection_reasons(table, row)
        yield (
            row["position"],
            fields,
            reasons,
            rejections.stored_raw(fields),
            json.dumps(reasons, ensure_ascii=False),
            validation.rejection_fingerprint(source, table.name, row["position"], fields),
            rejections.rejected_row_id(table, fields),
        )
