"""A CSV file as Spark records: line numbers, and fields split by Spark where that is exact.

Lines are what Hadoop's line reader makes of the file (``\\n``, ``\\r\\n`` or ``\\r`` ends a line; a
UTF-8 byte order mark before line 1 is not data), numbered from 1 like the service's loader. A line
with no quote character, no NUL and no more characters than ``csv``'s field limit splits at every
comma exactly as ``csv.reader`` splits it: Spark does those. The others (quoted fields) are split by
``csv`` itself (`rows.split_records`): on the driver when they are few, as in the files this service
receives, else on the executors. A record is one line: a quoted field that runs over a line break is
two broken lines here (the service's loader reads it as one record; docs/glue.md).
"""

from __future__ import annotations

import csv

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from hrjobs import field_rules, rows

_PARTITION_BITS = 33  # monotonically_increasing_id: partition index above bit 33, row index below


DRIVER_SPLIT_MAX = 50_000  # up to this many lines need csv: split on the driver (no Python workers)


def _needs_csv(line: Column) -> Column:
    """Lines Spark cannot split exactly by commas: a quote, a NUL, or longer than csv's field limit."""
    return (F.instr(line, '"') > 0) | (F.instr(line, "\x00") > 0) | (F.length(line) > csv.field_size_limit())


def numbered_lines(spark: SparkSession, uri: str) -> tuple[DataFrame, int]:
    """(position, line) for each line of the file, position being its line number (1-based), and how
    many lines need csv to split them.

    Line numbers across partitions come from each partition's line count (one quick pass over the
    file, which counts the lines that need csv too), as RDD.zipWithIndex does, but without moving the
    lines through Python.
    """
    text = spark.read.text(uri).select(F.monotonically_increasing_id().alias("id"), F.col("value").alias("line"))
    partition = F.shiftright("id", _PARTITION_BITS)
    counts = sorted(
        tuple(r)
        for r in text.groupBy(partition.alias("p"))
        .agg(F.count("*"), F.sum(_needs_csv(F.col("line")).cast("long")))
        .collect()
    )
    offsets, total = [], 0
    for index, count, _ in counts:
        offsets += [F.lit(index), F.lit(total)]
        total += count
    special = sum(n for _, _, n in counts)
    if not offsets:
        return text.select(F.col("id").alias("position"), "line"), special
    first_line = F.element_at(F.create_map(*offsets), partition)
    row_in_partition = F.col("id").bitwiseAND((1 << _PARTITION_BITS) - 1)
    return text.select((first_line + row_in_partition + 1).alias("position"), "line"), special


def records(spark: SparkSession, uri: str) -> DataFrame:
    """The file's records as rows of `rows.RECORD_SCHEMA` (position, line, fields, split_error); blank
    records skipped, as the service's loader skips them."""
    lines, special = numbered_lines(spark, uri)
    line = F.col("line")
    by_csv = _needs_csv(line)
    blank = (F.instr(line, ",") == 0) & (field_rules.strip(line) == "")
    native = lines.where(~by_csv & ~blank).select(
        "position", "line", F.split(line, ",", -1).alias("fields"), F.lit(None).cast("string").alias("split_error")
    )
    if not special:
        return native
    if special <= DRIVER_SPLIT_MAX:
        split = list(rows.split_records(tuple(r) for r in lines.where(by_csv).collect()))
    else:
        split = lines.where(by_csv).rdd.map(tuple).mapPartitions(rows.split_records)
    return native.unionByName(spark.createDataFrame(split, rows.RECORD_SCHEMA, verifySchema=False))
