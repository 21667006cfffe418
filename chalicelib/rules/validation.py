"""Data rules as pure functions over rows: no database, no AWS, no HTTP.

A row comes in either as a sequence of CSV fields (in dictionary order) or as a mapping from column
name to value (the API's JSON objects). `check_fields` turns it into a tuple of typed values or a list
of reasons, each naming the field. `classify` then applies the rules that need stored state
(references, duplicates) given what the database said about the batch.

Standard library only: the Glue jobs import this module too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.rules.dictionary import DATETIME, INTEGER, MAX_INTEGER, MAX_STRING_LENGTH, STRING, Table

Row = tuple  # typed values in dictionary order


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
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise ValueError(f"must be a whole positive number, got {value!r}")
    if number <= 0:
        raise ValueError(f"must be a whole positive number, got {number}")
    if number > MAX_INTEGER:
        raise ValueError(f"must be at most {MAX_INTEGER}, got {number}")
    return number


def parse_string(value: Any) -> str:
    """Text of 1 to 255 characters; surrounding whitespace is not part of the value."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    text = value.strip()
    if len(text) > MAX_STRING_LENGTH:
        raise ValueError(f"must be at most {MAX_STRING_LENGTH} characters, got {len(text)}")
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


def parse_datetime(value: Any) -> datetime:
    """An ISO 8601 date and time, as a naive UTC datetime with whole seconds.

    An offset is converted to UTC; no offset means UTC. Fractions of a second are dropped: the column
    keeps seconds, and dropping them here keeps a re-delivered row identical to the stored one.
    """
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 date and time string, got {type(value).__name__}")
    if len(value) == 20 and value[19] == "Z" and value[10] == "T":
        # The common shape (2021-11-07T02:48:42Z) is already UTC with whole seconds.
        try:
            parsed = datetime.fromisoformat(value[:19])
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None and parsed.year >= 1000:
                return parsed
    text = value.strip()
    # A date alone is not a hire time; require the time part (T or space separated).
    if len(text) < 16 or text[10] not in "Tt ":
        raise ValueError(f"must be an ISO 8601 date and time like 2021-11-07T02:48:42Z, got {value!r}")
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "zZ" else text)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise ValueError(f"must be an ISO 8601 date and time like 2021-11-07T02:48:42Z, got {value!r}") from None
    if not 1000 <= parsed.year <= 9999:
        raise ValueError(f"year must be between 1000 and 9999, got {parsed.year}")
    return parsed.replace(microsecond=0)


PARSERS = {INTEGER: parse_integer, STRING: parse_string, DATETIME: parse_datetime}

# The common case of each parser, for CSV text, as a statement that sets `{v}` from the field `{f}`
# or returns None. Each accepts a subset of what its parser accepts, with the same value (tests check
# this on thousands of inputs); anything else falls back to the parser, whose errors name the problem.
FAST_CSV_PARSERS = {
    # ASCII digits only: no sign, no space, no "²"; the range as in parse_integer.
    INTEGER: (
        "if not ({f}.isdigit() and {f}.isascii()): return None\n"
        "{v} = int({f})\n"
        "if not 0 < {v} <= MAX_INTEGER: return None"
    ),
    STRING: ("{v} = {f}.strip()\nif not {v} or len({v}) > MAX_STRING_LENGTH or '\\x00' in {v}: return None"),
    # parse_datetime's own first branch: 2021-11-07T02:48:42Z, already UTC with whole seconds.
    DATETIME: (
        "if len({f}) != 20 or {f}[19] != 'Z' or {f}[10] != 'T': return None\n"
        "try:\n"
        "    {v} = _fromisoformat({f}[:19])\n"
        "except ValueError:\n"
        "    return None\n"
        "if {v}.tzinfo is not None or {v}.year < 1000: return None"
    ),
}


def _field_parsers(table: Table) -> tuple[tuple[str, Any], ...]:
    parsers = _PARSERS_BY_TABLE.get(table.name)
    if parsers is None:
        parsers = _PARSERS_BY_TABLE[table.name] = tuple((c.name, PARSERS[c.type]) for c in table.columns)
    return parsers


_PARSERS_BY_TABLE: dict[str, tuple[tuple[str, Any], ...]] = {}


def check_fields(table: Table, raw: Sequence[Any] | Mapping[str, Any]) -> tuple[Row | None, list[str]]:
    """Typed values of one row in dictionary order, or None and the reasons it breaks the rules.

    Covers the rules that need nothing but the row: every field present and non-blank, types,
    lengths, ISO 8601 datetimes, no unknown fields, the right number of CSV fields.
    """
    parsers = _field_parsers(table)
    reasons: list[str] = []
    if raw.__class__ is dict or isinstance(raw, Mapping):
        names = table.column_names
        if len(raw) > len(names) or not all(k in names for k in raw):
            unknown = [str(k) for k in raw if k not in names]
            if unknown:
                reasons.append(f"unknown field(s): {', '.join(sorted(unknown))}")
        values = [raw.get(name) for name in names]
    elif raw.__class__ is list or isinstance(raw, (list, tuple)):
        if len(raw) != len(parsers):
            return None, [f"expected {len(parsers)} fields ({', '.join(table.column_names)}), got {len(raw)}"]
        values = raw
    else:
        return None, [f"row must be an object with fields {', '.join(table.column_names)}"]
    typed = []
    for (name, parse), value in zip(parsers, values):
        if value is None or (value.__class__ is str and (not value or value.isspace())):
            reasons.append(f"{name}: is required")
            continue
        try:
            typed.append(parse(value))
        except ValueError as exc:
            reasons.append(f"{name}: {exc}")
    if reasons:
        return None, reasons
    return tuple(typed), []


# The same for a JSON object's values: numbers arrive as ints (not bools, floats or digit strings),
# text as strings; anything else falls back to the parser.
FAST_JSON_PARSERS = {
    INTEGER: "if {f}.__class__ is not int or not 0 < {f} <= MAX_INTEGER: return None\n{v} = {f}",
    STRING: "if {f}.__class__ is not str: return None\n" + FAST_CSV_PARSERS[STRING],
    DATETIME: "if {f}.__class__ is not str: return None\n" + FAST_CSV_PARSERS[DATETIME],
}

_FAST_ROWS: dict[tuple[str, bool], Any] = {}


def _fast_row(table: Table, json_objects: bool) -> Any:
    fast = _FAST_ROWS.get((table.name, json_objects))
    if fast is None:
        n = len(table.columns)
        fields = ", ".join(f"f{i}" for i in range(n))
        if json_objects:  # exactly the table's fields: none missing, none unknown
            body = [f"if len(raw) != {n}: return None", "try:"]
            body += [f"    f{i} = raw[{name!r}]" for i, name in enumerate(table.column_names)]
            body += ["except KeyError:", "    return None"]
        else:
            body = [f"if len(raw) != {n}: return None", f"{fields}, = raw"]
        parsers = FAST_JSON_PARSERS if json_objects else FAST_CSV_PARSERS
        for i, column in enumerate(table.columns):
            body.extend(parsers[column.type].format(f=f"f{i}", v=f"v{i}").splitlines())
        body.append(f"return ({''.join(f'v{i}, ' for i in range(n))})")
        source = "def fast(raw):\n" + "".join(f"    {line}\n" for line in body)
        scope = {
            "MAX_INTEGER": MAX_INTEGER,
            "MAX_STRING_LENGTH": MAX_STRING_LENGTH,
            "_fromisoformat": datetime.fromisoformat,
        }
        kind = "json object" if json_objects else "csv record"
        exec(compile(source, f"<fast {kind} row for {table.name}>", "exec"), scope)
        fast = _FAST_ROWS[(table.name, json_objects)] = scope["fast"]
    return fast


def fast_csv_row(table: Table) -> Any:
    """A function from a CSV record (a list of strings) of `table` to its typed row, for records in the
    common shape (see FAST_CSV_PARSERS), or None: then `check_fields` decides, and gives the reasons.

    Generated per table from the dictionary: one straight-line function, a few times faster per row
    than `check_fields` (which a million-row file feels).
    """
    return _fast_row(table, json_objects=False)


def fast_json_row(table: Table) -> Any:
    """`fast_csv_row` for a JSON object (a dict) of `table`, the API's rows (see FAST_JSON_PARSERS)."""
    return _fast_row(table, json_objects=True)


@dataclass(slots=True)
class Candidate:
    """One incoming row: where it came from, what it said, and what the field rules made of it."""

    position: int  # index in the batch, or line number in the file
    raw: Any
    row: Row | None = None
    reasons: list[str] = field(default_factory=list)


def candidates(table: Table, raws: Iterable[tuple[int, Any]]) -> list[Candidate]:
    """Apply the field rules to (position, raw) pairs."""
    fast_csv, fast_json = fast_csv_row(table), fast_json_row(table)
    out = []
    append = out.append
    for position, raw in raws:
        kind = raw.__class__
        row = fast_csv(raw) if kind is list else fast_json(raw) if kind is dict else None
        if row is not None:
            append(Candidate(position, raw, row, []))
        else:
            row, reasons = check_fields(table, raw)
            append(Candidate(position, raw, row, reasons))
    return out


@dataclass
class Lookups:
    """What `classify` needs to look up for a batch (the ids of its field-valid rows, and per referenced
    table the ids they name), and the batch split by the field rules. Pure: the file loader works it
    out on its parsing thread, ahead of the chunk's transaction."""

    ids: set[int]
    refs: dict[str, set[int]]
    valid: list[Candidate]  # rows that passed the field rules, in batch order
    invalid: list[Candidate]  # the others


def lookups(table: Table, batch: Sequence[Candidate]) -> Lookups:
    valid = [c for c in batch if c.row is not None]
    invalid = [c for c in batch if c.row is None] if len(valid) < len(batch) else []
    refs = {col.references: {c.row[i] for c in valid} for i, col in enumerate(table.columns) if col.references}
    return Lookups({c.row[0] for c in valid}, refs, valid, invalid)


@dataclass
class Classified:
    to_insert: list[Candidate] = field(default_factory=list)
    unchanged: list[Candidate] = field(default_factory=list)
    rejected: list[Candidate] = field(default_factory=list)


def classify(
    table: Table,
    batch: Sequence[Candidate],
    stored: Mapping[int, Row],
    existing_refs: Mapping[str, set[int]],
    lookups: Lookups | None = None,
) -> Classified:
    """Sort a batch into rows to insert, identical re-deliveries and rejections.

    `stored` maps the batch's ids that already exist to their stored rows; `existing_refs` maps each
    referenced table to the referenced ids that exist. Within the batch, an id is kept at its first
    occurrence and rejected after it. `batch` is not modified, so a retried transaction can classify again.
    Given `lookups(table, batch)`, the common case of a new file's chunk (no id stored or repeated, every
    reference there) is sorted without looking at each row again: `to_insert` is then `lookups.valid`.
    """
    if lookups is not None and not stored and len(lookups.valid) == len(lookups.ids):
        if all(wanted <= existing_refs.get(name, set()) for name, wanted in lookups.refs.items()):
            return Classified(to_insert=lookups.valid, rejected=lookups.invalid)
    result = Classified()
    seen: dict[int, int] = {}
    ref_columns = [(i, col) for i, col in enumerate(table.columns) if col.references]
    for cand in batch:
        if cand.row is None:
            result.rejected.append(cand)
            continue
        reasons: list[str] = []
        key = cand.row[0]
        if key in seen:
            reasons.append(f"id: {key} is repeated in this batch (first at {seen[key]})")
            result.rejected.append(Candidate(cand.position, cand.raw, cand.row, reasons))
            continue
        seen[key] = cand.position
        for i, col in ref_columns:
            if cand.row[i] not in existing_refs.get(col.references, ()):
                reasons.append(f"{col.name}: {col.references} {cand.row[i]} does not exist")
        if key in stored:
            if stored[key] == cand.row and not reasons:
                result.unchanged.append(cand)
                continue
            if stored[key] != cand.row:
                reasons.append(f"id: {key} already exists with different values")
        if reasons:
            result.rejected.append(Candidate(cand.position, cand.raw, cand.row, reasons))
        else:
            result.to_insert.append(cand)
    return result


def to_json_value(value: Any) -> Any:
    """A stored value as it appears in JSON: datetimes as ISO 8601 UTC with a Z."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def row_to_dict(table: Table, row: Sequence[Any]) -> dict[str, Any]:
    return {name: to_json_value(value) for name, value in zip(table.column_names, row)}


def raw_json(raw: Any) -> str:
    """The raw row as stored in the rejection log: JSON, keys sorted, non-ASCII kept."""
    return json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str)


def rejection_fingerprint(source: str, table_name: str, position: int, raw: Any) -> str:
    """Identity of a rejection: the same row of the same source re-delivered is logged once."""
    text = "\x1f".join((source, table_name, str(position), raw_json(raw)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
