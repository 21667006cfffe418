"""A CSV file as Spark records, split in Spark exactly as ``csv.reader`` splits each line, in one pass.

Lines are what Hadoop's line reader makes of the file (``\\n``, ``\\r\\n`` or ``\\r`` ends a line; a
UTF-8 byte order mark before line 1 is not data). Each line gets an `ordinal`: its partition's index
above bit 33, its index within the partition below (``monotonically_increasing_id``), so ordinals
follow the file's order; `line_numbers` turns them into line numbers (1-based, as the service's
loader counts them) from each partition's line count, for the few rows that need one (rejected rows).
Blank lines stay in the records, flagged, so that each partition's count is its number of lines.

Splitting: a line without a quote character splits at every comma. A line with one is matched
against the grammar of ``csv``'s default dialect in strict mode (a field is empty, unquoted text not
starting with a quote, or a quoted text where a quote is written twice) and its fields extracted by
the same expressions; a line the grammar refuses, or with a field longer than ``csv``'s field limit,
is not `splittable`: ``csv`` would raise, and the row is rejected with ``csv``'s own message
(`rows.rejection_reasons`). No Python runs on any line here. A record is one line: a quoted field
that runs over a line break is two broken lines here (the service's loader reads it as one record;
docs/glue.md).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from hrjobs import field_rules

_PARTITION_BITS = 33  # monotonically_increasing_id: partition index above bit 33, row index below

# csv's default dialect (delimiter ",", quotechar '"', doublequote, strict), as Java regular expressions.
# Atomic groups and possessive quantifiers: a field's kind is decided by its first character, and
# nothing is ever given back, so a hostile line costs linear time.
_QUOTED = '"(?:[^"]|"")*+"'
_UNQUOTED = '[^,"][^,]*+'
_FIELD = f"(?>{_QUOTED}|{_UNQUOTED}|)"
WELL_FORMED = f"^{_FIELD}(?:,{_FIELD})*+\\z"
_FIELD_AFTER_COMMA = f",({_QUOTED}|{_UNQUOTED}|)"  # every match consumes its comma: none is empty


def partition_of(ordinal: Column) -> Column:
    return F.shiftright(ordinal, _PARTITION_BITS)


def _index_in_partition(ordinal: Column) -> Column:
    return ordinal.bitwiseAND((1 << _PARTITION_BITS) - 1)


def _quoted_fields(line: Column) -> Column:
    """The fields of a well-formed line holding quotes: a comma is put in front so that every field,
    the first included, follows one; quoted fields lose their quotes and undouble the inner ones."""
    tokens = F.regexp_extract_all(F.concat(F.lit(","), line), F.lit(_FIELD_AFTER_COMMA), 1)
    return F.transform(
        tokens,
        lambda token: F.when(
            token.startswith('"'), F.regexp_replace(token.substr(F.lit(2), F.length(token) - 2), '""', '"')
        ).otherwise(token),
    )


def lines(spark: SparkSession, uri: str) -> DataFrame:
    """(ordinal, line) of each line of the file: the same ordinals each time the same file is read."""
    return spark.read.text(uri).select(F.monotonically_increasing_id().alias("ordinal"), F.col("value").alias("line"))


def records(spark: SparkSession, uri: str) -> DataFrame:
    """The file's lines as (ordinal, line, fields, splittable, blank): `fields` is what ``csv.reader``
    gives for the line (when `splittable`); `blank` marks a record the service's loader skips (no
    field, or one blank field)."""
    line = F.col("line")
    quoted = F.instr(line, '"') > 0
    fields = F.when(quoted, _quoted_fields(line)).otherwise(F.split(line, ",", -1))
    split = lines(spark, uri).withColumns(
        {
            "fields": fields,
            "well_formed": ~quoted | line.rlike(WELL_FORMED),
        }
    )
    limit = csv.field_size_limit()
    fields_col = F.col("fields")
    splittable = F.col("well_formed") & ~F.exists(fields_col, lambda f: F.length(f) > limit)
    return split.withColumn("splittable", splittable).select(
        "ordinal",
        "line",
        "fields",
        "splittable",
        (F.col("splittable") & (F.size(fields_col) == 1) & (field_rules.strip(fields_col.getItem(0)) == "")).alias(
            "blank"
        ),
    )


def line_numbers(counts: Iterable[tuple[int, int]]) -> Callable[[Column], Column]:
    """A function from an ordinal column to its line number, for a file whose partitions hold `counts`
    ((partition index, lines) pairs) lines."""
    offsets, total = [], 0
    for index, count in sorted(counts):
        offsets += [F.lit(index), F.lit(total)]
        total += count
    if not offsets:
        return lambda ordinal: ordinal + 1
    first = F.create_map(*offsets)
    return lambda ordinal: F.element_at(first, partition_of(ordinal)) + _index_in_partition(ordinal) + 1
