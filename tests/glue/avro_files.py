"""Reading and writing Avro files with fastavro, as the API's backups do, for the Glue job tests."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import fastavro

from chalicelib.rules import dictionary


def part_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))


def read_folder(folder: Path) -> tuple[list[dict], list[dict], set[str]]:
    """(records of every part file, each part's writer schema as stored, codecs) of a folder of Avro parts."""
    records, schemas, codecs = [], [], set()
    for part in part_files(folder):
        with part.open("rb") as fh:
            reader = fastavro.reader(fh)
            schemas.append(json.loads(reader.metadata["avro.schema"]))
            codecs.add(reader.codec)
            records.extend(reader)
    return records, schemas, codecs


def write_file(path: Path, table: dictionary.Table, rows: list[tuple]) -> None:
    """One Avro object container file with the dictionary's schema, as the API writes a backup."""
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [
        {
            c.name: (v.replace(tzinfo=UTC) if c.type == dictionary.DATETIME else v)
            for c, v in zip(table.columns, row)
        }
        for row in rows
    ]
    with path.open("wb") as fh:
        fastavro.writer(fh, fastavro.parse_schema(dictionary.avro_schema(table)), records, codec="deflate")
