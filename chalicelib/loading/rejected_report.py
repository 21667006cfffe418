"""The rejected rows of one load as a CSV file for people (the CLI saves it beside the file, the S3
loader puts it under `rejected/`)."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from typing import BinaryIO

from chalicelib.reports.spreadsheet import safe_cell
from chalicelib.rules import validation
from chalicelib.rules.dictionary import Table

READ_BYTES = 1 << 20


class _Utf8:
    """What csv.writer writes to: text, encoded into a binary file."""

    def __init__(self, binary: BinaryIO):
        self._binary = binary

    def write(self, text: str) -> int:
        self._binary.write(text.encode("utf-8"))
        return len(text)


class RejectedRowsReport:
    """The rejected rows of one load as a CSV for people: `line`, `reasons`, then the row's own fields.

    Spooled: kept in memory while small, in a temporary file beyond that.
    """

    def __init__(self, table: Table, spool_bytes: int = 4 << 20):
        self.table = table
        self.count = 0
        # Kept open for the report's lifetime; close() (or leaving the with block) closes it.
        self._file = tempfile.SpooledTemporaryFile(max_size=spool_bytes, mode="w+b")  # noqa: SIM115
        self._writer = csv.writer(_Utf8(self._file), lineterminator="\n")
        self._writer.writerow(["line", "reasons", *table.column_names])

    def add(self, rejected: Iterable[validation.Candidate]) -> None:
        for cand in rejected:
            raw = cand.raw
            fields = (
                list(raw) if isinstance(raw, (list, tuple)) else [raw.get(name) for name in self.table.column_names]
            )
            self._writer.writerow([cand.position, "; ".join(cand.reasons), *map(safe_cell, fields)])
            self.count += 1

    def fileobj(self) -> BinaryIO:
        """The report's bytes, from the start (for an upload)."""
        self._file.flush()
        self._file.seek(0)
        return self._file

    def save(self, path: str) -> str:
        """Write the report to `path` (atomically: a reader never sees half a report)."""
        partial = f"{path}.partial"
        with open(partial, "wb") as out:
            src = self.fileobj()
            while block := src.read(READ_BYTES):
                out.write(block)
        os.replace(partial, path)
        return path

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RejectedRowsReport:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
