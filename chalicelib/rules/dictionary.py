"""The data dictionary: the one source of truth for the HR tables.

DDL, validation, the Avro schema, the Glue jobs' Spark schema and the README's table are all derived
from the definitions below; nothing else restates the tables or their columns.

This module must stay importable with the standard library alone: the Glue jobs ship it with
``--extra-py-files``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

# Column types, in the words of the contract. CSV carries every value as text; these say what it must parse as.
INTEGER = "integer"
STRING = "string"
DATETIME = "datetime"

MAX_STRING_LENGTH = 255
# Integers land in a signed 32-bit INT column on MySQL.
MAX_INTEGER = 2**31 - 1
MAX_BATCH_ROWS = 1000


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    references: str | None = None  # name of the table whose `id` this column must name
    doc: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    doc: str = ""

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def key(self) -> str:
        """Name of the primary-key column (always the first)."""
        return self.columns[0].name

    @cached_property
    def references(self) -> tuple[Column, ...]:
        return tuple(column for column in self.columns if column.references)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


DEPARTMENTS = Table(
    "departments",
    (
        Column("id", INTEGER, doc="department id"),
        Column("department", STRING, doc="department name"),
    ),
    doc="Departments of the company.",
)
JOBS = Table(
    "jobs",
    (
        Column("id", INTEGER, doc="job id"),
        Column("job", STRING, doc="job title"),
    ),
    doc="Job titles.",
)
HIRED_EMPLOYEES = Table(
    "hired_employees",
    (
        Column("id", INTEGER, doc="employee id"),
        Column("name", STRING, doc="employee name"),
        Column("datetime", DATETIME, doc="hire date and time, ISO 8601, stored in UTC"),
        Column("department_id", INTEGER, references="departments", doc="department the employee was hired into"),
        Column("job_id", INTEGER, references="jobs", doc="job the employee was hired for"),
    ),
    doc="Employees hired, one row per hire.",
)

# Referenced tables come before the tables that reference them: the order to create, load and restore.
TABLES: dict[str, Table] = {table.name: table for table in (DEPARTMENTS, JOBS, HIRED_EMPLOYEES)}
LOAD_ORDER: tuple[str, ...] = tuple(TABLES)


class UnknownTable(KeyError):
    """A name that is not a table of the data dictionary."""

    def __str__(self) -> str:
        return f"unknown table {self.args[0]!r}; expected one of: {', '.join(TABLES)}"


def table(name: str) -> Table:
    """The table called `name`, or UnknownTable. The only way user input becomes a table name."""
    try:
        return TABLES[name]
    except (KeyError, TypeError):
        raise UnknownTable(name) from None


def dependents(name: str) -> tuple[Table, ...]:
    """Tables with a column referencing `name`."""
    return tuple(t for t in TABLES.values() if any(c.references == name for c in t.columns))


def table_for_filename(filename: str) -> Table:
    """The table a CSV file is for, from its name: ``departments.csv``, ``jobs_2021.csv``...

    The longest table name that prefixes the file's base name wins (``hired_employees`` over a
    hypothetical ``hired``).
    """
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if not base.endswith(".csv"):
        raise UnknownTable(base)
    stem = base[: -len(".csv")]
    for name in sorted(TABLES, key=len, reverse=True):
        if stem == name or (stem.startswith(name) and stem[len(name)] in "._-"):
            return TABLES[name]
    raise UnknownTable(base)


def in_load_order(tables: list[Table] | tuple[Table, ...]) -> list[Table]:
    """`tables` sorted so that referenced tables come first."""
    return sorted(tables, key=lambda t: LOAD_ORDER.index(t.name))


def avro_schema(tbl: Table) -> dict:
    """The Avro record schema for `tbl`: fields named and ordered as the dictionary.

    `datetime` columns are ``timestamp-millis`` (UTC). Every field is required, as in the data rules.
    """
    avro_types = {
        INTEGER: "int",
        STRING: "string",
        DATETIME: {"type": "long", "logicalType": "timestamp-millis"},
    }
    return {
        "type": "record",
        "name": tbl.name,
        "namespace": "hr",
        "doc": tbl.doc,
        "fields": [{"name": c.name, "type": avro_types[c.type], "doc": c.doc} for c in tbl.columns],
    }


def markdown_table() -> str:
    """The README's data-dictionary table, generated from the definitions above."""
    lines = ["| table | columns, in CSV order |", "|---|---|"]
    for tbl in TABLES.values():
        cols = ", ".join(
            f"`{c.name}` {c.type.upper()}" + (f" -> `{c.references}.id`" if c.references else "") for c in tbl.columns
        )
        lines.append(f"| `{tbl.name}` | {cols} |")
    return "\n".join(lines)


def iter_tables() -> Iterator[Table]:
    return iter(TABLES.values())
