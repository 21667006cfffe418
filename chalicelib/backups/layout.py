"""Where backups live and what their manifest says; shared by the API, the CLI and the Glue jobs.

A backup is a folder ``backups/<backup id>/`` (in the bucket, or under a local directory) holding, per
table, either one Avro object container file ``<table>.avro`` (written by the API / CLI with fastavro)
or a folder ``<table>.avro/`` of Avro part files (written by the Glue job), plus ``manifest.json``.
Both sides read both forms. Standard library only: the Glue jobs import it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

BACKUPS_PREFIX = "backups/"
MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


def new_backup_id(now: datetime | None = None) -> str:
    """A sortable, unique-per-millisecond backup id: ``20261122T101500123Z``."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z"


def backup_prefix(backup_id: str) -> str:
    return f"{BACKUPS_PREFIX}{backup_id}/"


def table_path(backup_id: str, table_name: str) -> str:
    """Relative path of a table's Avro data in a backup (a file, or a folder of part files)."""
    return f"{backup_prefix(backup_id)}{table_name}.avro"


def manifest_path(backup_id: str) -> str:
    return f"{backup_prefix(backup_id)}{MANIFEST_NAME}"


def manifest(backup_id: str, tables: dict[str, dict], source: str) -> dict:
    """The manifest of a backup. `tables` maps table name to {"rows": int, "bytes": int}."""
    return {
        "format_version": FORMAT_VERSION,
        "backup": backup_id,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": source,  # "api", "cli", "schedule" or "glue"
        "tables": {name: {"path": f"{name}.avro", **info} for name, info in tables.items()},
    }


def dumps(doc: dict) -> bytes:
    return json.dumps(doc, indent=2, sort_keys=True).encode()


def backup_id_from_key(key: str) -> str | None:
    """The backup id in a key or path like ``backups/<id>/departments.avro`` (or None)."""
    parts = key.replace("\\", "/").split("/")
    if BACKUPS_PREFIX.rstrip("/") in parts:
        i = parts.index(BACKUPS_PREFIX.rstrip("/"))
        if i + 1 < len(parts) and parts[i + 1]:
            return parts[i + 1]
    return None
