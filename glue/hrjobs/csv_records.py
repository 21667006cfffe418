"""A CSV file as Spark records: line numbers, and fields split by Spark where that is exact.

Lines are what Hadoop's line reader makes of the file (``\\n``, ``\\r\\n`` or ``\\r`` ends a line; a
UTF-8 byte order mark before line 1 is not data), numbered from 1 like the service's loader. A line
with no quote character, no NUL and no more characters than ``csv``'s field limit splits at every
comma exactly as ``csv.reader`` splits it: Spark does those. The others (quoted fields) are split by
``csv`` itself on the executors (`rows.split_records`); they are few in the files this service
receives. A record is one line: a quoted field that runs over a line break is two broken lines here
(the service's loader reads it as one record; docs/glue.md).
"""

from __future__ import annotations

import csv

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from hrjobs import field_rules, rows

_PARTITION_BITS = 33  # monotonically_increasing_id: partition index above bit 33, row index below


def numbered_lines(spark: SparkSession, uri: str) -> DataFrame:
    """(position, line) for each line of the file, position being its line number (1-based).

    Line numbers across partitions come from each partition's line count (one quick pass over the
    file), as RDD.zipWithIndex does, but without moving the lines through Python.
    """
    text = spark.read.text(uri).select(F.monotonically_increasing_id().alias("id"), F.col("value").alias("line"))
    partition = F.shiftright("id", _PARTITION_BITS)
    counts = sorted(tuple(r) for r in text.groupBy(partition.alias("p")).count().collect())
    offsets, total = [], 0
    for index, count in counts:
        offsets += [F.lit(index), F.lit(total)]
        total += count
    if not offsets:
        return text.select(F.col("id").alias("position"), "line")
    first_line = F.element_at(F.create_map(*offsets), partition)
    row_in_partition = F.col("id").bitwiseAND((1 << _PARTITION_BITS) - 1)
    return text.select((first_line + row_in_partition + 1).alias("position"), "line")


def records(spark: SparkSession, uri: str) -> DataFrame:
    """The file's records as rows of `rows.RECORD_SCHEMA` (position, fields, split_error); blank
    records skipped, as the service's loader skips them."""
    lines = numbered_lines(spark, uri)
    line = F.col("line")
    by_csv = (F.instr(line, '"') > 0) | (F.instr(line, "\x00") > 0) | (F.length(line) > csv.field_size_limit())
    blank = (F.instr(line, ",") == 0) & (field_rules.strip(line) == "")
    native = lines.where(~by_csv & ~blank).select(
        "position", F.split(line, ",", -1).alias("fields"), F.lit(None).cast("string").alias("split_error")
    )
    quoted = lines.where(by_csv).rdd.map(tuple).mapPartitions(rows.split_records)
    return native.unionByName(spark.createDataFrame(quoted, rows.RECORD_SCHEMA, verifySchema=False))
