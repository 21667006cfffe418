"""The field rules applied to whole rows: `check_fields` (every rule, with reasons) and the row functions
generated from the same rules for the hot paths (`fast_csv_row`, `fast_json_row`, `restored_row`).

A row comes in either as a sequence of CSV fields (in dictionary order) or as a mapping from column
name to value (the API's JSON objects); a restored row is an Avro record read from a backup.

Standard library only: the Glue jobs import this module too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chalicelib.rules.compiler import RowSource, row_function
from chalicelib.rules.dictionary import Table
from chalicelib.rules.fields import RULES, SCOPE, reason

Row = tuple  # typed values in dictionary order


def _parsers(table: Table) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    parsers = _PARSERS.get(table.name)
    if parsers is None:
        parsers = _PARSERS[table.name] = tuple((c.name, RULES[c.type].parse) for c in table.columns)
    return parsers


_PARSERS: dict[str, tuple[tuple[str, Callable[[Any], Any]], ...]] = {}


def check_fields(table: Table, raw: Sequence[Any] | Mapping[str, Any]) -> tuple[Row | None, list[str]]:
    """Typed values of one row in dictionary order, or None and the reasons it breaks the rules.

    Covers the rules that need nothing but the row: every field present and non-blank, types,
    lengths, ISO 8601 datetimes, no unknown fields, the right number of CSV fields.
    """
    names = table.column_names
    reasons: list[str] = []
    if raw.__class__ is dict or isinstance(raw, Mapping):
        if len(raw) > len(names) or not all(k in names for k in raw):
            unknown = [str(k) for k in raw if k not in names]
            if unknown:
                reasons.append(f"unknown field(s): {', '.join(sorted(unknown))}")
        values = [raw.get(name) for name in names]
    elif raw.__class__ is list or isinstance(raw, (list, tuple)):
        if len(raw) != len(names):
            return None, [f"expected {len(names)} fields ({', '.join(names)}), got {len(raw)}"]
        values = raw
    else:
        return None, [f"row must be an object with fields {', '.join(names)}"]
    typed = []
    for (name, parse), value in zip(_parsers(table), values):
        try:
            typed.append(parse(value))
        except ValueError as exc:
            reasons.append(reason(name, value, exc))
    if reasons:
        return None, reasons
    return tuple(typed), []


def _checks(table: Table, form: str) -> list[str]:
    """Each column's `form` check, from field f<i> to value v<i>, then the row of values."""
    lines = []
    for i, column in enumerate(table.columns):
        lines += RULES[column.type].source(form, f=f"f{i}", v=f"v{i}", name=column.name)
    lines.append(f"return ({''.join(f'v{i}, ' for i in range(len(table.columns)))})")
    return lines


def _fast_csv_source(table: Table) -> RowSource:
    n = len(table.columns)
    unpack = [f"if len(raw) != {n}: return None", f"{''.join(f'f{i}, ' for i in range(n))}= raw"]
    return RowSource("fast_csv_row", "raw", unpack + _checks(table, "csv"), SCOPE)


def _fast_json_source(table: Table) -> RowSource:
    # Exactly the table's fields: none missing, none unknown.
    lines = [f"if len(raw) != {len(table.columns)}: return None", "try:"]
    lines += [f"    f{i} = raw[{name!r}]" for i, name in enumerate(table.column_names)]
    lines += ["except KeyError:", "    return None"]
    return RowSource("fast_json_row", "raw", lines + _checks(table, "json"), SCOPE)


def _restored_source(table: Table) -> RowSource:
    lines = ["get = record.get"] + [f"f{i} = get({name!r})" for i, name in enumerate(table.column_names)]
    return RowSource("restored_row", "record", lines + _checks(table, "restored"), SCOPE)


def fast_csv_row(table: Table) -> Callable[[list[str]], Row | None]:
    """A function from a CSV record (a list of strings) of `table` to its typed row, for records in the
    common shape (each rule's `csv` check), or None: then `check_fields` decides, and gives the reasons.

    Generated per table from the dictionary: one straight-line function, a few times faster per row
    than `check_fields` (which a million-row file feels).
    """
    return row_function(_fast_csv_source, table)


def fast_json_row(table: Table) -> Callable[[dict], Row | None]:
    """`fast_csv_row` for a JSON object (a dict) of `table`, the API's rows (each rule's `json` check)."""
    return row_function(_fast_json_source, table)


def restored_row(table: Table) -> Callable[[Mapping[str, Any]], Row]:
    """A function from an Avro record of `table` (as fastavro reads it) to its typed row, datetimes as
    whole seconds since 1970, raising ValueError with a reason naming the field when the record breaks
    a data rule: the rules of `check_fields`, for the values an Avro file holds."""
    return row_function(_restored_source, table)
