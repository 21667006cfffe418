"""Glue job: CSV files in S3 -> MySQL, under exactly the rules the API applies.

    --SOURCE            s3://bucket/incoming/hired_employees/2021.csv, or a prefix ending in / (every
                        .csv under it, referenced tables first)
    --TABLE             optional; default: the folder (incoming/<table>/x.csv) or the file name
    --REJECTED_PREFIX   optional; default: s3://bucket/rejected/ beside incoming/
    --WRITE_CONNECTIONS optional (4): most JDBC connections writing at once
    --READ_PARTITIONS   optional (4): parallel range queries reading stored rows
    + the database options of hrjobs.runtime (--DB_SECRET_ARN or --CONNECTION_NAME)

Spark does the checking: each line is split (`hrjobs.csv_records`) and put through the field rules as
column expressions generated from the data dictionary (`hrjobs.field_rules`); then a repeated id, a
missing reference and a stored id are found by joins (the file's repeated ids, the referenced tables'
ids as broadcast sets, the stored rows in the file's id range), and each line gets the outcome
``validation.classify`` gives it for the file as one batch: insert, identical no-op or reject. Python
runs only on lines holding quotes (split by ``csv``) and on rejected lines (their reasons are worded
by ``chalicelib.rules``). Valid rows are appended over JDBC; rejected rows go to
``rejected/<folder>/<name>.rejected.csv`` (the service loader's report format) and to the ``rejections``
table, once per fingerprint, so re-running on the same input changes nothing.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from chalicelib.db.base import REJECTIONS
from chalicelib.loading.bucket_layout import INCOMING, REJECTED, report_path
from chalicelib.rules import dictionary
from chalicelib.rules.dictionary import Table
from hrjobs import bulk_load, csv_records, database, field_rules, rows, runtime, schema, storage
from hrjobs.database import MysqlTarget

log = logging.getLogger("load_csv")

REQUIRED = ("SOURCE",)
OPTIONAL: dict[str, str | None] = {
    "TABLE": None,
    "REJECTED_PREFIX": None,
    "WRITE_CONNECTIONS": "4",
    "READ_PARTITIONS": "4",
}
SOURCE_MAX_CHARS = 1024  # width of rejections.source


@dataclass
class LoadResult:
    source: str
    table: str
    inserted: int
    unchanged: int
    rejected: int
    newly_logged: int
    rejected_report: str | None
    seconds: dict[str, float]  # per phase: classify, insert, derive, log rejections


class _Stopwatch:
    """Seconds per phase of a load, for the job's summary."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 2)
        self._last = now


def table_for_source(uri: str, table_name: str | None = None) -> Table:
    """The table a CSV file loads into: `table_name`, else its folder (``incoming/<table>/x.csv``),
    else its file name (``incoming/hired_employees.csv``)."""
    if table_name:
        return dictionary.table(table_name)
    parts = uri.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] in dictionary.TABLES:
        return dictionary.TABLES[parts[-2]]
    return dictionary.table_for_filename(parts[-1])


def rejected_report_uri(source: str, table: Table, rejected_prefix: str | None = None) -> str:
    """Where a file's rejected-rows report goes, named as the service's loader names it:
    ``s3://b/incoming/jobs/x.csv`` -> ``s3://b/rejected/jobs/x.rejected.csv``."""
    marker = "/" + INCOMING
    if marker in source:
        root, relative = source.split(marker, 1)
    else:
        root, relative = None, f"{table.name}/{source.rstrip('/').rsplit('/', 1)[-1]}"
    if rejected_prefix is None:
        if root is None:
            raise ValueError(f"{source} is not under {INCOMING}: pass --REJECTED_PREFIX")
        rejected_prefix = f"{root}/{REJECTED}"
    return storage.join(rejected_prefix, report_path(relative))


def csv_sources(spark: SparkSession, source: str, table_name: str | None = None) -> list[tuple[str, Table]]:
    """(file, table) for `source` (one object, or every .csv under a prefix), referenced tables first."""
    if storage.is_directory(spark, source):
        files = [entry.uri for entry in storage.list_files(spark, source, ".csv")]
    elif storage.exists(spark, source):
        files = [source]
    else:
        raise FileNotFoundError(source)
    pairs = [(uri, table_for_source(uri, table_name)) for uri in files]
    return sorted(pairs, key=lambda p: (dictionary.LOAD_ORDER.index(p[1].name), p[0]))


def parse_csv(spark: SparkSession, uri: str, table: Table) -> DataFrame:
    """The file's records after the field rules, as Spark expressions (`field_rules`): position,
    line, split_error, field_ok, and the typed values (null unless field_ok)."""
    parsed = field_rules.check_fields(csv_records.records(spark, uri), table)
    # The fields array is dropped once checked: the line's text is cheaper to keep, and only rejected
    # lines need their fields again (`rows.fields_of`).
    return parsed.withColumn("field_ok", F.col("field_ok") & F.col("split_error").isNull()).drop("fields")


def _stored_in_range(spark: SparkSession, target: MysqlTarget, table: Table, lo: int, hi: int) -> int:
    query = f"SELECT COUNT(*) AS n FROM `{table.name}` WHERE `{table.key}` BETWEEN {int(lo)} AND {int(hi)}"
    return int(database.read_query(spark, target, query).first()["n"])


def classify(
    spark: SparkSession, target: MysqlTarget, table: Table, parsed: DataFrame, read_partitions: int = 4
) -> DataFrame:
    """Every record's outcome against what MySQL holds now, as `validation.classify` decides it for
    the whole file as one batch: joins, no per-row Python.

    A repeated id: every field-valid occurrence after the first (by line) is rejected. Then a missing
    reference rejects; a stored id is a no-op when the row is identical, else rejected. Rejected
    rows keep what `rows.rejection_reasons` needs to word the reasons.
    """
    key = table.key
    firsts = (
        parsed.where("field_ok").groupBy(key).agg(F.min("position").alias("first_position"), F.count("*").alias("n"))
    )
    lo, hi, most = firsts.agg(F.min(key), F.max(key), F.max("n")).first()
    df = parsed
    if most is not None and most > 1:
        df = df.join(F.broadcast(firsts.where("n > 1").drop("n")), key, "left")
    else:
        df = df.withColumn("first_position", F.lit(None).cast("long"))
    stored_type = StructType(schema.spark_schema(table, nullable=True).fields)
    if lo is not None and _stored_in_range(spark, target, table, lo, hi):
        stored = database.read_table(spark, target, table, read_partitions, id_range=(lo, hi)).select(
            F.col(key).alias("stored_key"), F.struct(*table.column_names).alias("stored")
        )
        df = df.join(stored, df[key] == stored["stored_key"], "left").drop("stored_key")
    else:
        df = df.withColumn("stored", F.lit(None).cast(stored_type))
    missing_reference = F.lit(False)
    for column in table.references:
        ref, flag = f"{column.name}_ref", f"{column.name}_exists"
        ids = database.read_ids(spark, target, column.references).select(F.col("id").alias(ref))
        df = df.join(F.broadcast(ids), df[column.name] == ids[ref], "left").withColumn(flag, F.col(ref).isNotNull())
        df = df.drop(ref)
        missing_reference = missing_reference | ~F.col(flag)
    row = F.struct(*table.column_names)
    outcome = (
        F.when(~F.col("field_ok"), rows.REJECTED)
        .when(F.col("first_position").isNotNull() & (F.col("first_position") != F.col("position")), rows.REJECTED)
        .when(missing_reference, rows.REJECTED)
        .when(F.col("stored").isNull(), rows.INSERT)
        .when(F.col("stored") == row, rows.UNCHANGED)
        .otherwise(rows.REJECTED)
    )
    df = df.withColumn("outcome", outcome)
    rejected = F.col("outcome") == rows.REJECTED
    # What only rejected rows need is dropped from the others: the snapshot of a million rows stays small.
    extra = ["line", "split_error", "first_position", "stored", *(f"{c.name}_exists" for c in table.references)]
    return df.select(
        "outcome",
        "position",
        "field_ok",
        *table.column_names,
        *(F.when(rejected, F.col(name)).alias(name) for name in extra),
    )


def rejections(classified: DataFrame, table: Table, source: str) -> DataFrame:
    """The rejected rows with their reasons, raw row and fingerprint (`rows.REJECTION_SCHEMA`), worded
    by the Python rules: Python runs on these rows only."""
    entries = classified.where(F.col("outcome") == rows.REJECTED).rdd.mapPartitions(
        functools.partial(rows.rejection_entries, table.name, source)
    )
    return classified.sparkSession.createDataFrame(entries, rows.REJECTION_SCHEMA, verifySchema=False)


def snapshot(df: DataFrame) -> DataFrame:
    """`df` computed once and kept: the classification must not be recomputed after the inserts it
    decided (it would then see them as stored). Reliable checkpoint when a checkpoint folder is
    set (Glue: under --TempDir), else a local one."""
    if df.sparkSession.sparkContext.getCheckpointDir():
        return df.checkpoint(eager=True)
    return df.localCheckpoint(eager=True)


def log_rejections(
    spark: SparkSession, target: MysqlTarget, table: Table, source: str, rejected: DataFrame, connections: int
) -> int:
    """Add the rejected rows not already logged (same fingerprint) to the rejections table; returns how many."""
    logged = database.read_query(
        spark, target, f"SELECT fingerprint FROM `{REJECTIONS}` WHERE table_name = '{table.name}'"
    )
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    entries = (
        rejected.join(logged, "fingerprint", "left_anti")
        .select(
            "fingerprint",
            F.lit(source[:SOURCE_MAX_CHARS]).alias("source"),
            F.lit(table.name).alias("table_name"),
            "position",
            "raw",
            F.col("reasons_json").alias("reasons"),
            F.lit(now).cast("timestamp_ntz").alias("rejected_at"),
            "row_id",
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        count = entries.count()
        if count:
            database.append(entries, target, REJECTIONS, connections)
        return count
    finally:
        entries.unpersist()


def write_rejected_report(spark: SparkSession, rejected: DataFrame, uri: str, table: Table) -> None:
    """The file's rejected rows as one CSV object at `uri`, in the service loader's format (header
    ``line,reasons,<columns>``; then per row its line number, its reasons joined by "; ", its fields),
    in line order; it replaces an earlier run's report."""
    # One partition sorted in place: coalescing sorted partitions does not keep their order.
    ordered = rejected.select("position", "reasons", "fields").coalesce(1).sortWithinPartitions("position")
    lines = ordered.rdd.mapPartitions(functools.partial(rows.report_lines, table.name))
    scratch = f"{uri}.writing"
    storage.delete(spark, scratch)
    lines.saveAsTextFile(scratch)
    [part] = [entry.uri for entry in storage.list_files(spark, scratch)]
    storage.delete(spark, uri)
    storage.move(spark, part, uri)
    storage.delete(spark, scratch)


def load_file(
    spark: SparkSession,
    target: MysqlTarget,
    uri: str,
    table: Table,
    rejected_prefix: str | None = None,
    write_connections: int = 4,
    read_partitions: int = 4,
) -> LoadResult:
    """Load one CSV file into `table`; see the module docstring."""
    report_uri = rejected_report_uri(uri, table, rejected_prefix)
    clock = _Stopwatch()
    parsed = parse_csv(spark, uri, table).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        classified = snapshot(classify(spark, target, table, parsed, read_partitions))
        clock.lap("classify")
    finally:
        parsed.unpersist()
    counts = {r["outcome"]: r["count"] for r in classified.groupBy("outcome").count().collect()}
    if counts.get(rows.INSERT):
        # Each connection writes one id range in ascending order: interleaved ids from concurrent
        # connections contend on the same primary-key pages.
        inserts = (
            classified.where(F.col("outcome") == rows.INSERT)
            .select(schema.typed_columns(table))
            .repartitionByRange(max(1, write_connections), table.key)
            .sortWithinPartitions(table.key)
        )
        folder = bulk_load.scratch_folder(spark)
        if folder:
            bulk_load.append(spark, inserts, target.login, table, folder)
        else:
            database.append(inserts, target, table.name, write_connections)
        clock.lap("insert")
    if counts.get(rows.INSERT) or counts.get(rows.UNCHANGED):
        # The JDBC writers commit their shares on their own, so the summary cannot join their unit of
        # work: it is rebuilt after them, and also when every row was already stored, so a re-run
        # repairs a summary that an earlier run failed to rebuild after its inserts.
        service = target.service_database()
        try:
            service.rebuild_derived()
        finally:
            service.close()
        clock.lap("derive")
    newly_logged = 0
    if counts.get(rows.REJECTED):
        rejected = rejections(classified, table, uri).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            write_rejected_report(spark, rejected, report_uri, table)
            newly_logged = log_rejections(spark, target, table, uri, rejected, write_connections)
        finally:
            rejected.unpersist()
    else:
        storage.delete(spark, report_uri)  # an earlier run's report no longer describes this file
    clock.lap("log rejections")
    result = LoadResult(
        source=uri,
        table=table.name,
        inserted=counts.get(rows.INSERT, 0),
        unchanged=counts.get(rows.UNCHANGED, 0),
        rejected=counts.get(rows.REJECTED, 0),
        newly_logged=newly_logged,
        rejected_report=report_uri if counts.get(rows.REJECTED) else None,
        seconds=clock.laps,
    )
    log.info("loaded %s", asdict(result))
    return result


def run_load(
    spark: SparkSession,
    target: MysqlTarget,
    source: str,
    table_name: str | None = None,
    rejected_prefix: str | None = None,
    write_connections: int = 4,
    read_partitions: int = 4,
) -> list[LoadResult]:
    """Load every CSV file of `source`, referenced tables first."""
    return [
        load_file(spark, target, uri, table, rejected_prefix, write_connections, read_partitions)
        for uri, table in csv_sources(spark, source, table_name)
    ]


def load_job(session: SparkSession, target: MysqlTarget, args: Mapping[str, str | None]) -> dict:
    results = run_load(
        session,
        target,
        args["SOURCE"],
        args["TABLE"],
        args["REJECTED_PREFIX"],
        int(args["WRITE_CONNECTIONS"]),
        int(args["READ_PARTITIONS"]),
    )
    return {"files": [asdict(r) for r in results]}


def main(argv: list[str] | None = None, spark: SparkSession | None = None) -> dict:
    return runtime.run_job("load_csv", load_job, REQUIRED, OPTIONAL, argv, spark)


if __name__ == "__main__":
    main()
