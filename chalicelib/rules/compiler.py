"""The one compiler of generated row functions, and their one cache.

The per-row hot paths (the field rules of a CSV record or of a JSON object, the check of a record read
from an Avro backup, MySQL's LOAD DATA line of a row) are functions written per table as straight-line
code: a loop over the columns with a branch per type costs a few times more per row. Their sources are
made from the data dictionary alone: column names only as string literals (repr), bounds only as
number literals, never text from a request or a file.

Standard library only: the Glue jobs import this module too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.rules.dictionary import Table


@dataclass(frozen=True)
class RowSource:
    """A function to generate: its name, its one parameter, the lines of its body and the names they use."""

    name: str
    parameter: str
    body: Sequence[str]
    scope: Mapping[str, Any]


def define(name: str, parameter: str, body: Sequence[str], scope: Mapping[str, Any], filename: str) -> Callable:
    """Compile `def name(parameter): body` with `scope` as its globals; `filename` shows in tracebacks."""
    source = f"def {name}({parameter}):\n" + "".join(f"    {line}\n" for line in body)
    namespace = dict(scope)
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def value_function(name: str, body: str, parameter: str, result: str, scope: Mapping[str, Any]) -> Callable:
    """A function of one value from statements that set `result` from `parameter` (or return early)."""
    return define(name, parameter, [*body.splitlines(), f"return {result}"], scope, f"<{name}>")


_ROW_FUNCTIONS: dict[tuple[Callable[[Table], RowSource], Table], Callable] = {}


def row_function(build: Callable[[Table], RowSource], table: Table) -> Callable:
    """The function `build` writes for `table`: compiled on first use, then the same one for the process.

    `build` must be a module-level function (it is half of the cache key). Two threads asking at once
    may both compile; either result is the same function.
    """
    key = (build, table)
    function = _ROW_FUNCTIONS.get(key)
    if function is None:
        source = build(table)
        function = define(source.name, source.parameter, source.body, source.scope, f"<{source.name} for {table.name}>")
        _ROW_FUNCTIONS[key] = function
    return function
