"""Glue job (the seeds' S3ToRDS): replace one table's rows with a backup's, atomically.

    --TABLE            the table to restore
    --BACKUP           s3://bucket/backups/<id>/ (the backup), or the table's data in it:
                       .../<table>.avro, a single file (API / CLI backups) or a folder of part files
                       (this Glue job's backups)
    --WRITE_CONNECTIONS optional (4): most JDBC connections writing the staging table at once
    + the database options of hrjobs.runtime (--DB_SECRET_ARN or --CONNECTION_NAME)

The rows are read with the dictionary's Avro schema, counted (and checked against the backup's
manifest when it has one), written in parallel into a staging table, and only then swapped in, in
one transaction. Any failure before the commit leaves the table as it was.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from pyspark import StorageLevel
from pyspark.sql import SparkSession

from chalicelib.backups import layout as backup_layout
from chalicelib.db.base import DatabaseError, ReferenceViolation
from chalicelib.rules import dictionary
from chalicelib.rules.dictionary import Table
from hrjobs import avro_io, database, runtime, storage
from hrjobs.database import MysqlTarget

log = logging.getLogger("restore_avro")

REQUIRED = ("TABLE", "BACKUP")
OPTIONAL: dict[str, str | None] = {"WRITE_CONNECTIONS": "4"}


class RestoreFailed(RuntimeError):
    """The backup cannot replace the table; the table is unchanged."""


def avro_source(backup: str, table: Table) -> str:
    """The table's Avro data: `backup` itself when it names ``<table>.avro``, else inside the backup folder."""
    if backup.rstrip("/").endswith(".avro"):
        return backup.rstrip("/")
    return storage.join(backup, f"{table.name}.avro")


def manifest_rows(spark: SparkSession, source: str, table: Table) -> int | None:
    """The row count the backup's manifest records for `table` (None without a manifest)."""
    manifest_uri = storage.join(source.rsplit("/", 1)[0], backup_layout.MANIFEST_NAME)
    if not storage.exists(spark, manifest_uri):
        return None
    entry = json.loads(storage.read_bytes(spark, manifest_uri)).get("tables", {}).get(table.name)
    return None if entry is None or "rows" not in entry else int(entry["rows"])


def run_restore(
    spark: SparkSession, target: MysqlTarget, table: Table, backup: str, write_connections: int = 4
) -> dict:
    """Replace `table`'s rows with the backup's; see the module docstring."""
    runtime.configure(spark)
    source = avro_source(backup, table)
    expected = manifest_rows(spark, source, table)
    database.require_table(spark, target, table.name)
    db = target.service_database()
    try:
        with avro_io.read_avro(spark, source, table) as rows:
            rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
            try:
                count = rows.count()
                if expected is not None and count != expected:
                    raise RestoreFailed(f"{source} holds {count} rows, its manifest says {expected}")
                # Staged in parallel, then swapped in by the service's backend in one transaction.
                staging = db.create_staging(table)
                try:
                    database.append(rows, target, staging, write_connections)
                    try:
                        db.replace_from_staging(table, count)
                    except (ReferenceViolation, DatabaseError) as exc:
                        raise RestoreFailed(str(exc)) from exc
                finally:
                    db.drop_staging(table)
            finally:
                rows.unpersist()
    finally:
        db.close()
    log.info("restored %s from %s: %d rows", table.name, source, count)
    return {"table": table.name, "source": source, "rows": count}


def restore_job(session: SparkSession, target: MysqlTarget, args: Mapping[str, str | None]) -> dict:
    table = dictionary.table(args["TABLE"])
    return run_restore(session, target, table, args["BACKUP"], int(args["WRITE_CONNECTIONS"]))


def main(argv: list[str] | None = None, spark: SparkSession | None = None) -> dict:
    return runtime.run_job("restore_avro", restore_job, REQUIRED, OPTIONAL, argv, spark)


if __name__ == "__main__":
    main()
