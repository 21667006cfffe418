"""Rows made ready for a backend's bulk write ahead of the transaction that writes them (no SQL here)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


class StagedRows:
    """A chunk of rows made ready for the backend's bulk insert (see `Database.stage_rows`), which may be
    done on another thread, ahead of and beside the transaction that inserts them. Knows its row count
    (``len``), their keys, per referencing column the values its rows name, and their share of derived
    data; `discard()` frees what it holds."""

    def __init__(self, count: int, rows: Sequence[Sequence[Any]] | None = None):
        self.count, self.rows = count, rows
        self.named: dict[str, set[int]] = {}
        # The rows' keys as runs of consecutive numbers (see `id_runs`); None when a key repeats.
        self.key_runs: list[tuple[int, int]] | None = []
        # hired_employees: the rows' hires per (year, department_id, job_id) in Q1..Q4.
        self.quarterly: dict[tuple[int, int, int], list[int]] | None = None

    def __len__(self) -> int:
        return self.count

    def discard(self) -> None:
        self.rows = None

    @staticmethod
    def holding(staged: StagedRows | None, rows: Sequence[Sequence[Any]]) -> StagedRows | None:
        """`staged` if it holds exactly `rows`, else None. `staged` is of these rows or of a superset of
        them (a chunk's rows before classification took some out), so a count that matches means the
        same rows."""
        return staged if staged is not None and len(staged) == len(rows) else None


def id_runs(ids: Iterable[int]) -> list[tuple[int, int]]:
    """The distinct ids as runs of consecutive numbers: (first, last) pairs, ascending."""
    runs: list[tuple[int, int]] = []
    for key in sorted(set(ids)):
        if runs and key == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], key)
        else:
            runs.append((key, key))
    return runs
