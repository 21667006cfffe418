"""Loading CSV files: the path shared by the S3 trigger, `POST /uploads/{table}` and the CLI."""

from __future__ import annotations

import csv
from typing import IO, Iterable, Iterator

from chalicelib.db import Database
from chalicelib.dictionary import Table
from chalicelib.ingest import BatchResult, insert_batch

CHUNK_ROWS = 1000


def csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for each non-blank CSV record; there is no header row."""
    reader = csv.reader(lines)
    for fields in reader:
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        yield reader.line_num, fields


def load_csv(db: Database, table: Table, text: IO[str], source: str, chunk_rows: int = CHUNK_ROWS) -> BatchResult:
    """Load a CSV text stream into `table` chunk by chunk; every chunk is one transaction."""
    total = BatchResult(table=table.name)
    chunk: list[tuple[int, list[str]]] = []
    for numbered in csv_rows(text):
        chunk.append(numbered)
        if len(chunk) >= chunk_rows:
            total.add(insert_batch(db, table, chunk, source))
            chunk = []
    if chunk:
        total.add(insert_batch(db, table, chunk, source))
    return total
