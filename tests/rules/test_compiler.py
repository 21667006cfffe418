"""The one compiler of generated row functions: one compile per table, column names only as literals."""

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chalicelib.db.mysql import _tsv_line
from chalicelib.rules.compiler import RowSource, row_function
from chalicelib.rules.dictionary import DATETIME, INTEGER, STRING, TABLES, Column, Table
from chalicelib.rules.rows import fast_json_row, restored_row


def _seconds(naive_utc: datetime) -> int:
    return (naive_utc.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)


CALLS: list[str] = []


def _counted_source(table: Table) -> RowSource:
    CALLS.append(table.name)
    return RowSource("first_value", "row", ["return row[0]"], {})


def test_a_row_function_is_compiled_once_per_table():
    CALLS.clear()
    first = row_function(_counted_source, TABLES["jobs"])
    assert row_function(_counted_source, TABLES["jobs"]) is first
    assert row_function(_counted_source, TABLES["departments"]) is not first
    assert CALLS == ["jobs", "departments"] and first(("a", "b")) == "a"


def test_the_generated_functions_take_column_names_as_literals_only():
    name = "x'] + __import__('os').getcwd() + ['"
    table = Table("odd", (Column("id", INTEGER), Column(name, STRING), Column("at", DATETIME)))
    when = datetime(2021, 1, 1, tzinfo=UTC)
    assert fast_json_row(table)({"id": 1, name: "a", "at": "2021-01-01T00:00:00Z"}) == (
        1,
        "a",
        when.replace(tzinfo=None),
    )
    assert restored_row(table)({"id": 1, name: "a", "at": when}) == (1, "a", _seconds(when.replace(tzinfo=None)))
    assert _tsv_line(table)((1, "a\tb", 5)) == "1\ta\\tb\t5\n"


def test_only_the_compiler_generates_code():
    root = Path(__file__).resolve().parents[2]
    generating = sorted(
        str(path.relative_to(root))
        for folder in ("chalicelib", "glue")
        for path in (root / folder).rglob("*.py")
        if any(
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"exec", "eval"}
            for node in ast.walk(ast.parse(path.read_text()))
        )
    )
    assert generating == ["chalicelib/rules/compiler.py"]
