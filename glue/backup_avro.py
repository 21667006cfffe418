"""Glue job (the seeds' RDSToS3): MySQL tables -> one Avro file set per table, plus a manifest.

    --BACKUP_ROOT      where ``backups/`` lives: s3://bucket/ (the service's data bucket)
    --TABLES           optional; comma-separated (default: every table of the dictionary)
    --BACKUP_ID        optional; default: a new id from chalicelib.backups.layout (UTC timestamp)
    --READ_PARTITIONS  optional (4): parallel range queries per table
    + the database options of hrjobs.runtime (--DB_SECRET_ARN or --CONNECTION_NAME)

Layout (``chalicelib.backups.layout``): ``backups/<id>/<table>.avro/`` is a folder of Avro part files
whose schema is exactly ``dictionary.avro_schema(table)`` (deflate), and ``backups/<id>/manifest.json``
is written last, so a backup without a manifest is an incomplete one. Each table is read in its own
queries: the tables of one backup are not a single transactional snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pyspark import StorageLevel
from pyspark.sql import SparkSession

from chalicelib.backups import layout as backup_layout
from chalicelib.rules import dictionary
from hrjobs import avro_io, database, runtime, storage
from hrjobs.database import MysqlTarget

log = logging.getLogger("backup_avro")

REQUIRED = ("BACKUP_ROOT",)
OPTIONAL: dict[str, str | None] = {"TABLES": None, "BACKUP_ID": None, "READ_PARTITIONS": "4"}


def tables_to_back_up(names: str | None) -> list[dictionary.Table]:
    """The tables named in a comma-separated list (all when empty), in load order."""
    if not names or not names.strip():
        return list(dictionary.iter_tables())
    return dictionary.in_load_order([dictionary.table(n.strip()) for n in names.split(",") if n.strip()])


def back_up_table(
    spark: SparkSession, target: MysqlTarget, table: dictionary.Table, uri: str, read_partitions: int = 4
) -> dict:
    """Write `table` as Avro part files into the folder `uri`; returns ``{"rows": n, "bytes": n}``."""
    rows = database.read_table(spark, target, table, read_partitions).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        count = rows.count()  # the rows written below are these, not a second read
        avro_io.write_avro(spark, rows, table, uri)
    finally:
        rows.unpersist()
    return {"rows": count, "bytes": storage.data_size(spark, uri)}


def run_backup(
    spark: SparkSession,
    target: MysqlTarget,
    backup_root: str,
    tables: list[dictionary.Table] | None = None,
    backup_id: str | None = None,
    read_partitions: int = 4,
) -> dict:
    """Back up `tables` (default: all) under ``<backup_root>/backups/<id>/``; returns the manifest."""
    runtime.configure(spark)
    backup_id = backup_id or backup_layout.new_backup_id()
    manifest_uri = storage.join(backup_root, backup_layout.manifest_path(backup_id))
    if storage.exists(spark, manifest_uri):
        raise FileExistsError(f"backup {backup_id} already exists at {manifest_uri}")
    written = {}
    for table in tables or list(dictionary.iter_tables()):
        uri = storage.join(backup_root, backup_layout.table_path(backup_id, table.name))
        written[table.name] = back_up_table(spark, target, table, uri, read_partitions)
        log.info("backed up %s: %s", table.name, written[table.name])
    manifest = backup_layout.manifest(backup_id, written, source="glue")
    storage.write_bytes(spark, manifest_uri, backup_layout.dumps(manifest))
    return manifest


def backup_job(session: SparkSession, target: MysqlTarget, args: Mapping[str, str | None]) -> dict:
    tables = tables_to_back_up(args["TABLES"])
    return {
        "manifest": run_backup(
            session, target, args["BACKUP_ROOT"], tables, args["BACKUP_ID"], int(args["READ_PARTITIONS"])
        )
    }


def main(argv: list[str] | None = None, spark: SparkSession | None = None) -> dict:
    return runtime.run_job("backup_avro", backup_job, REQUIRED, OPTIONAL, argv, spark)


if __name__ == "__main__":
    main()
