"""Avro files in and out of Spark, with the dictionary's schema.

On Glue, Spark's own Avro source (spark-avro, on Glue's classpath) does the work. The pyspark wheel
has no spark-avro, so local runs go through Spark's built-in Hive support instead, which reads and
writes the same Avro object container files. `_has_spark_avro` is the one place that tells the two
apart; both paths write files whose schema is exactly ``dictionary.avro_schema(table)``.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from chalicelib.rules.dictionary import Table
from hrjobs import schema, storage

log = logging.getLogger(__name__)

CODEC = "deflate"


def _has_spark_avro(spark: SparkSession) -> bool:
    """Whether Spark's Avro data source is on the classpath (Glue: yes; the pyspark wheel: no)."""
    jvm = spark.sparkContext._jvm
    try:
        jvm.org.apache.spark.sql.execution.datasources.DataSource.lookupDataSource(
            "avro", spark._jsparkSession.sessionState().conf()
        )
        return True
    except Exception:
        return False


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def write_avro(spark: SparkSession, df: DataFrame, table: Table, uri: str) -> None:
    """Write `df` (the table's columns) as Avro part files into the folder `uri`, which must not exist."""
    rows = schema.to_avro_columns(df, table)
    avro_schema = schema.avro_schema_json(table)
    if _has_spark_avro(spark):
        rows.write.format("avro").option("avroSchema", avro_schema).option("compression", CODEC).mode(
            "errorifexists"
        ).save(uri)
        return
    log.info("spark-avro not on the classpath: writing %s through Spark's Hive Avro SerDe", uri)
    name = f"hr_avro_{uuid.uuid4().hex}"
    view = f"{name}_rows"
    rows.createOrReplaceTempView(view)
    spark.conf.set("hive.exec.compress.output", "true")
    spark.conf.set("avro.output.codec", CODEC)
    try:
        # An explicit LOCATION makes the table external: dropping it below keeps the files.
        spark.sql(
            f"CREATE TABLE {name} USING hive OPTIONS (fileFormat 'avro') LOCATION {_sql_string(uri)} "
            f"TBLPROPERTIES ('avro.schema.literal' = {_sql_string(avro_schema)}) AS SELECT * FROM {view}"
        )
    finally:
        spark.sql(f"DROP TABLE IF EXISTS {name}")
        spark.catalog.dropTempView(view)


@contextlib.contextmanager
def read_avro(spark: SparkSession, uri: str, table: Table) -> Iterator[DataFrame]:
    """The rows of the Avro data at `uri` (one file, or a folder of part files) in the jobs' types,
    read with the dictionary's schema as the reader schema: a file whose fields do not resolve
    against it fails the read. Valid inside the `with` block."""
    avro_schema = schema.avro_schema_json(table)
    if _has_spark_avro(spark):
        yield schema.from_avro_columns(spark.read.format("avro").option("avroSchema", avro_schema).load(uri), table)
        return
    name = f"hr_avro_{uuid.uuid4().hex}"
    folder, scratch = uri, None
    if not storage.is_directory(spark, uri):
        # A Hive table's location must be a folder: give the single file one (local runs only).
        scratch = Path(tempfile.mkdtemp(prefix="hr-avro-"))
        folder = scratch.as_uri()
        storage.copy(spark, uri, storage.join(folder, "part-00000.avro"))
    try:
        spark.sql(
            f"CREATE TABLE {name} USING hive OPTIONS (fileFormat 'avro') LOCATION {_sql_string(folder)} "
            f"TBLPROPERTIES ('avro.schema.literal' = {_sql_string(avro_schema)})"
        )
        yield schema.from_avro_columns(spark.table(name), table)
    finally:
        spark.sql(f"DROP TABLE IF EXISTS {name}")
        if scratch is not None:
            storage.delete(spark, scratch.as_uri())
