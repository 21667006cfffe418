"""Spark's split of CSV lines (hrjobs.csv_records) against ``csv.reader`` itself: for every line, the
same fields, the same verdict on whether it can be split at all, the same blank records, and line
numbers that count every line, blank ones included, across partitions."""

from __future__ import annotations

import csv
import random

import pytest
from pyspark.sql import functions as F

from hrjobs import csv_records

LINES = [
    "a,b,c", "", " ", ",", ",,", "a,", ",a", '""', '" "', '""""', '"a""b",c', '"a,b",c', 'x,"",y', 'a"b,c', 'a""b',
    '"a"b,c', '"a" ,b', '"a', '"', 'a,"b', '"a""', '"a"""', ' "a",b', '"a",', '"",""', '"x\x00y",z', "a\x00b,c",
    "\u00e9,\U0001f600", '"\u00e9,\U0001f600"', "\t,\u3000", '" a , b "', 'a,"b"c"', '""a', '"a"",b"', "a,b\x1f",
    "x" * 131072 + ",y", "x" * 131073 + ",y", '"' + "x" * 131072 + '",y', '"' + "x" * 131073 + '",y',
]  # fmt: skip


def _python(line: str) -> tuple[list[str] | None, bool]:
    """(fields, blank) as the service's loader sees the line (csv, strict); fields None when csv refuses it."""
    try:
        fields = next(csv.reader([line], strict=True), [])
    except csv.Error:
        return None, False
    return fields, not fields or (len(fields) == 1 and not fields[0].strip())


def _fuzzed(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = ['"', '"', ",", ",", "a", " ", "\u00e9", "\t", "b"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(count)]


@pytest.mark.parametrize("lines", [LINES, _fuzzed(7, 3000)], ids=["chosen", "fuzzed"])
def test_spark_splits_each_line_as_csv_does(spark, tmp_path, lines):
    path = tmp_path / "lines.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = csv_records.records(spark, path.as_uri()).orderBy("ordinal").collect()
    assert [r["line"] for r in got] == lines
    for row, line in zip(got, lines, strict=True):
        fields, blank = _python(line)
        assert row["splittable"] == (fields is not None), repr(line[:60])
        if fields is not None:
            assert list(row["fields"]) == (fields or [""]), repr(line[:60])
            assert row["blank"] == blank, repr(line[:60])
        else:
            assert not row["blank"]


def test_line_numbers_count_every_line_across_partitions(spark, tmp_path):
    lines = [f"{i},x" if i % 7 else "" for i in range(1, 5001)]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")  # many partitions
    try:
        records = csv_records.records(spark, path.as_uri())
        counts = records.groupBy(csv_records.partition_of(F.col("ordinal"))).count().collect()
        assert len(counts) > 5
        number = csv_records.line_numbers(tuple(r) for r in counts)
        got = records.select(number(F.col("ordinal")).alias("n"), "line").collect()
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert sorted((r["n"], r["line"]) for r in got) == list(enumerate(lines, start=1))
