"""Glue job: CSV files in S3 -> MySQL, under exactly the rules the API applies.

    --SOURCE            s3://bucket/incoming/hired_employees/2021.csv, or a prefix ending in / (every
                        .csv under it, referenced tables first)
    --TABLE             optional; default: the folder (incoming/<table>/x.csv) or the file name
    --REJECTED_PREFIX   optional; default: s3://bucket/rejected/ beside incoming/
    --WRITE_CONNECTIONS optional (4): most connections writing at once (LOAD DATA parts, or JDBC)
    --READ_PARTITIONS   optional (4): parallel range queries reading stored rows
    + the database options of hrjobs.runtime (--DB_SECRET_ARN or --CONNECTION_NAME)

Spark does the checking, in one pass over the file: each line is split (`hrjobs.csv_records`, quoted
lines by csv's grammar) and put through the field rules as column expressions generated from the data
dictionary (`hrjobs.field_rules`); then a repeated id, a missing reference and a stored id are found by
an aggregation and lookups (the file's repeated ids, the referenced tables' ids, the stored rows in the
file's id range), and each line gets the outcome ``validation.classify`` gives it for the file as one
batch: insert, identical no-op or reject. Python runs only on rejected lines (their fields split again
by ``csv``, their reasons worded by ``chalicelib.rules``). Valid rows are appended with LOAD DATA (JDBC
without a shared scratch folder), a first load with the table's keys deferred; rejected rows go to
``rejected/<folder>/<name>.rejected.csv`` (the service loader's report format) and to the ``rejections``
table through the service's log, once per fingerprint, so re-running on the same input changes nothing.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from chalicelib.db import Database
from chalicelib.db.schema import DEFER_KEYS_MIN_ROWS
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
INLINE_IDS = 10_000  # referenced ids up to this many go into the plan as a set literal
LOG_BATCH = 10_000  # rejected rows per transaction of the rejection log


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
    """The file's lines after the field rules, as Spark expressions (`field_rules`): ordinal,
    blank, field_ok (splittable, not blank, every field rule passed), and the typed values (null
    unless field_ok)."""
    parsed = field_rules.check_fields(csv_records.records(spark, uri), table)
    # The cache keeps what every row needs: the fields and the line's text are dropped once checked;
    # only rejected lines need them again, read from the file (`rejections`, `rows.split_line`).
    field_ok = F.col("field_ok") & F.col("splittable") & ~F.col("blank")
    return parsed.withColumn("field_ok", field_ok).drop("line", "fields", "splittable")


@dataclass(frozen=True)
class FileFacts:
    """What one pass over the parsed file tells: its lines per partition (for line numbers), and per
    partition the range of its field-valid ids."""

    partitions: list[tuple[int, int, int | None, int | None, int]]  # (index, lines, lowest id, highest id, valid)

    @classmethod
    def of(cls, parsed: DataFrame, key: str) -> FileFacts:
        valid_key = F.when(F.col("field_ok"), F.col(key))
        rows_ = parsed.groupBy(csv_records.partition_of(F.col("ordinal")).alias("p")).agg(
            F.count("*"), F.min(valid_key), F.max(valid_key), F.count(valid_key)
        )
        return cls(sorted(tuple(r) for r in rows_.collect()))

    @property
    def field_valid(self) -> int:
        """Lines that passed the field rules: an upper bound of the rows the file inserts."""
        return sum(valid for *_, valid in self.partitions)

    @property
    def id_range(self) -> tuple[int | None, int | None]:
        lows = [lo for _, _, lo, _, _ in self.partitions if lo is not None]
        highs = [hi for _, _, _, hi, _ in self.partitions if hi is not None]
        return (min(lows), max(highs)) if lows else (None, None)

    @property
    def ranges_apart(self) -> bool:
        """The partitions' id ranges do not overlap, in partition order (a file sorted by id)."""
        ranges = [(lo, hi) for _, _, lo, hi, _ in self.partitions if lo is not None]
        return all(a_hi < b_lo for (_, a_hi), (b_lo, _) in zip(ranges, ranges[1:]))

    def line_number(self, ordinal: Column) -> Column:
        return csv_records.line_numbers((index, lines) for index, lines, *_ in self.partitions)(ordinal)


def _stored_in_range(service: Database, table: Table, lo: int, hi: int) -> int:
    sql = f"SELECT COUNT(*) FROM {service.q(table.name)} WHERE {service.q(table.key)} BETWEEN %s AND %s"
    return service.query(sql, [int(lo), int(hi)])[0][0]


def repeated_ids(parsed: DataFrame, key: str) -> DataFrame:
    """(id, ordinal of its first field-valid line) of each id on more than one field-valid line."""
    return (
        parsed.where("field_ok")
        .groupBy(key)
        .agg(F.min("ordinal").alias("first_ordinal"), F.count("*").alias("n"))
        .where("n > 1")
        .drop("n")
    )


def _references_exist(spark: SparkSession, service: Database, df: DataFrame, column: str, table_name: str) -> DataFrame:
    """`df` with `<column>_exists`: whether `table_name` has the id `column` names. The referenced ids are
    read once, into the plan: as a set literal up to INLINE_IDS (departments, jobs: no join, no
    broadcast to run per action), else as a broadcast table joined."""
    key = dictionary.TABLES[table_name].key
    ids = [row[0] for row in service.query(f"SELECT {service.q(key)} FROM {service.q(table_name)}")]
    flag = f"{column}_exists"
    if len(ids) <= INLINE_IDS:
        return df.withColumn(flag, F.coalesce(F.col(column).isin(ids), F.lit(False)))
    ref = f"{column}_ref"
    known = spark.createDataFrame([(i,) for i in ids], f"{ref} int")
    joined = df.join(F.broadcast(known), df[column] == known[ref], "left")
    return joined.withColumn(flag, F.col(ref).isNotNull()).drop(ref)


def classify(
    spark: SparkSession,
    target: MysqlTarget,
    service: Database,
    table: Table,
    parsed: DataFrame,
    facts: FileFacts,
    repeats: DataFrame | None,
    read_partitions: int = 4,
) -> tuple[DataFrame, bool]:
    """Every record's outcome against what MySQL holds now, as `validation.classify` decides it for
    the whole file as one batch: joins, no per-row Python; and whether the outcome depends on stored
    rows (then it must be computed once, before the inserts: `snapshot`).

    A repeated id: every field-valid occurrence after the first (by line) is rejected. Then a missing
    reference rejects; a stored id is a no-op when the row is identical, else rejected. Rejected
    rows keep what `rows.rejection_reasons` needs to word the reasons; `position` (the line number)
    and `first_position` are computed for them only.
    """
    key = table.key
    df = parsed.where(~F.col("blank"))
    if repeats is None:  # no id repeated in the file
        df = df.withColumn("first_ordinal", F.lit(None).cast("long"))
    else:
        df = df.join(F.broadcast(repeats), key, "left")
    stored_type = StructType(schema.spark_schema(table, nullable=True).fields)
    lo, hi = facts.id_range
    against_stored = lo is not None and _stored_in_range(service, table, lo, hi) > 0
    if against_stored:
        stored = database.read_table(spark, target, table, read_partitions, id_range=(lo, hi)).select(
            F.col(key).alias("stored_key"), F.struct(*table.column_names).alias("stored")
        )
        df = df.join(stored, df[key] == stored["stored_key"], "left").drop("stored_key")
    else:
        df = df.withColumn("stored", F.lit(None).cast(stored_type))
    missing_reference = F.lit(False)
    for column in table.references:
        df = _references_exist(spark, service, df, column.name, column.references)
        missing_reference = missing_reference | ~F.col(f"{column.name}_exists")
    row = F.struct(*table.column_names)
    repeated = F.col("first_ordinal").isNotNull() & (F.col("first_ordinal") != F.col("ordinal"))
    outcome = (
        F.when(~F.col("field_ok"), rows.REJECTED)
        .when(repeated, rows.REJECTED)
        .when(missing_reference, rows.REJECTED)
        .when(F.col("stored").isNull(), rows.INSERT)
        .when(F.col("stored") == row, rows.UNCHANGED)
        .otherwise(rows.REJECTED)
    )
    df = df.withColumn("outcome", outcome)
    rejected = F.col("outcome") == rows.REJECTED
    # What only rejected rows need is dropped from the others.
    extra = {
        "position": facts.line_number(F.col("ordinal")),
        "first_position": facts.line_number(F.col("first_ordinal")),
        "stored": F.col("stored"),
        **{f"{c.name}_exists": F.col(f"{c.name}_exists") for c in table.references},
    }
    classified = df.select(
        "outcome",
        "ordinal",
        "field_ok",
        *table.column_names,
        *(F.when(rejected, value).alias(name) for name, value in extra.items()),
    )
    return classified, against_stored


def rejected_lines(spark: SparkSession, uri: str, classified: DataFrame) -> DataFrame:
    """The rejected rows of `classified` with their lines, read again from the file (the parse is cached
    without its text), in line order: the join keeps the file's splits as its partitions, in order,
    and each is sorted."""
    rejected = F.broadcast(classified.where(F.col("outcome") == rows.REJECTED))
    return rejected.join(csv_records.lines(spark, uri), "ordinal").sortWithinPartitions("position")


def snapshot(df: DataFrame) -> DataFrame:
    """`df` computed once and kept: the classification must not be recomputed after the inserts it
    decided (it would then see them as stored). Reliable checkpoint when a checkpoint folder is
    set (Glue: under --TempDir), else a local one."""
    if df.sparkSession.sparkContext.getCheckpointDir():
        return df.checkpoint(eager=True)
    return df.localCheckpoint(eager=True)


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
    service = target.service_database()
    parsed = parse_csv(spark, uri, table).persist(StorageLevel.MEMORY_AND_DISK)
    repeats = repeated_ids(parsed, table.key).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        facts = FileFacts.of(parsed, table.key)  # parses the file, into `parsed`'s cache
        repeated = repeats if repeats.count() else None
        classified, against_stored = classify(spark, target, service, table, parsed, facts, repeated, read_partitions)
        unchanged = 0  # only a stored row can be an identical no-op
        if against_stored:
            # The outcome depends on the stored rows: computed once, not again after the inserts.
            classified = snapshot(classified)
            unchanged = classified.where(F.col("outcome") == rows.UNCHANGED).count()
        clock.lap("classify")
        with ThreadPoolExecutor(1, thread_name_prefix="rejections") as beside:
            # The field-valid lines bound the rows to insert: a large first load defers the keys.
            deferring = facts.field_valid >= DEFER_KEYS_MIN_ROWS
            with service.keys_deferred(table) if deferring else contextlib.nullcontext(False) as deferred:
                inserted = _insert(spark, target, table, classified, facts, write_connections)
                clock.lap("insert")
                # Rejected rows are worded, reported and logged while the keys are built.
                rejected = beside.submit(report_and_log_rejected, spark, target, table, uri, classified, report_uri)
            if deferred:
                clock.lap("keys and derive")  # the summary is rebuilt while the keys are built
            elif inserted or unchanged:
                # The writers commit their shares on their own, so the summary cannot join their unit
                # of work: it is rebuilt after them, and also when every row was already stored, so a
                # re-run repairs a summary that an earlier run failed to rebuild after its inserts.
                service.rebuild_derived()
                clock.lap("derive")
            rejected_count, newly_logged = rejected.result()
        clock.lap("log rejections")
    finally:
        repeats.unpersist()
        parsed.unpersist()
        service.close()
    result = LoadResult(
        source=uri,
        table=table.name,
        inserted=inserted,
        unchanged=unchanged,
        rejected=rejected_count,
        newly_logged=newly_logged,
        rejected_report=report_uri if rejected_count else None,
        seconds=clock.laps,
    )
    log.info("loaded %s", asdict(result))
    return result


def report_and_log_rejected(
    spark: SparkSession, target: MysqlTarget, table: Table, uri: str, classified: DataFrame, report_uri: str
) -> tuple[int, int]:
    """The file's rejected rows, worded by the Python rules on the driver as they stream in (a few per
    hundred lines; no Python worker), to the report at `report_uri` (the service loader's format,
    replacing an earlier run's) and, those not logged yet, to the rejection log through the service's
    own log, LOG_BATCH rows per transaction: (rejected, newly logged).

    The rejected lines are found in parallel and kept (one count over every split), so the stream to
    the driver reads kept partitions one after another instead of scanning the file's splits one by one."""
    found = rejected_lines(spark, uri, classified).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        if not found.count():
            storage.delete(spark, report_uri)  # an earlier run's report no longer describes this file
            return 0, 0
        return _report_and_log(spark, target, table, uri, found.toLocalIterator(), report_uri)
    finally:
        found.unpersist()


def _report_and_log(
    spark: SparkSession, target: MysqlTarget, table: Table, uri: str, found: Iterator[Row], report_uri: str
) -> tuple[int, int]:
    entries = rows.rejection_entries(table.name, found)
    service = target.service_database()
    added = 0

    def logged(entries):  # (position, fields, reasons), logged a batch at a time on their way through
        nonlocal added
        while batch := list(itertools.islice(entries, LOG_BATCH)):
            added += service.run(functools.partial(service.log_new_rejections, uri, table, batch))
            yield from batch

    fd, scratch = tempfile.mkstemp(prefix="rejected-", suffix=".csv")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as report:
            rejected = -1  # the header is no rejected row
            for line in rows.report_lines(table.name, ((p, reasons, f) for p, f, reasons in logged(entries))):
                report.write(line + "\n")
                rejected += 1
        storage.upload(spark, scratch, report_uri)
    finally:
        os.unlink(scratch)
        service.close()
    return rejected, added


def _insert(
    spark: SparkSession, target: MysqlTarget, table: Table, classified: DataFrame, facts: FileFacts, writers: int
) -> int:
    """Store the rows `classified` inserts: each writer one id range in ascending order (interleaved
    ids from concurrent connections contend on the same primary-key pages). A file sorted by id is
    in such ranges already, partition by partition: then no shuffle, only fewer partitions if needed."""
    inserts = classified.where(F.col("outcome") == rows.INSERT).select(schema.typed_columns(table))
    writers = max(1, writers)
    if facts.ranges_apart:
        if len(facts.partitions) > writers:
            inserts = inserts.coalesce(writers)
    else:
        inserts = inserts.repartitionByRange(writers, table.key)
    counted = Observation("inserted")
    inserts = inserts.sortWithinPartitions(table.key).observe(counted, F.count(F.lit(1)).alias("rows"))
    folder = bulk_load.scratch_folder(spark)
    if folder:
        bulk_load.append(spark, inserts, target.login, table, folder)
    else:
        database.append(inserts, target, table.name, writers)
    return counted.get["rows"]


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
