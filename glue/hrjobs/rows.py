"""Per-row Python of the CSV load, run on the driver for the few rows that need it, the rejected ones
as they stream in: their fields split again by ``csv`` (its error is the reason of a line it cannot
split), their reasons worded by the service's own rules (``chalicelib.rules.validation``), and the
lines of the rejected-rows report."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from chalicelib.reports.spreadsheet import safe_cell
from chalicelib.rules import dictionary, validation

INSERT, UNCHANGED, REJECTED = "insert", "unchanged", "rejected"


class RulesDisagree(RuntimeError):
    """The Spark rules rejected a row the Python rules accept: a bug, never a verdict on the data."""


def split_line(line: str) -> tuple[list[str], list[str]]:
    """The CSV fields of one line, or the line as one field and why it cannot be split."""
    try:
        return next(csv.reader([line], strict=True), []), []
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


def rejection_reasons(table: dictionary.Table, row: Any, fields: list[str], errors: list[str]) -> list[str]:
    """Why the rules reject `row` (a classified line, see load_csv.classify; `fields` and `errors`: its
    `split_line`), in the service's words: csv's error, the field rules' reasons
    (`validation.check_fields`), else `validation.classify` of the line with what Spark found about
    it: its first occurrence in the file, its stored row, its references."""
    if errors:
        return errors
    if not row["field_ok"]:
        _, reasons = validation.check_fields(table, fields)
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


def rejection_entries(table_name: str, rows: Iterable[Any]) -> Iterator[tuple]:
    """Rejected lines (`load_csv.rejected_lines`) -> (line number, fields, reasons): what the report and
    the rejection log (`RejectionLog.log_new_rejections`) are made of."""
    table = dictionary.table(table_name)
    for row in rows:
        fields, errors = split_line(row["line"])
        yield row["position"], fields, rejection_reasons(table, row, fields, errors)
