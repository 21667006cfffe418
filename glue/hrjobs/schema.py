"""Spark types derived from the data dictionary; nothing here restates a table or a column.

`datetime` columns are TIMESTAMP_NTZ inside the jobs: MySQL's DATETIME holds a naive UTC wall-clock
time, and NTZ moves it through JDBC unchanged whatever the JVM's time zone. Avro's
``timestamp-millis`` is an instant, so the Avro side casts to TIMESTAMP under a UTC session zone.
"""

from __future__ import annotations

import json

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, IntegerType, StringType, StructField, StructType, TimestampNTZType

from chalicelib.rules import dictionary
from chalicelib.rules.dictionary import Table

_SPARK_TYPES: dict[str, DataType] = {
    dictionary.INTEGER: IntegerType(),
    dictionary.STRING: StringType(),
    dictionary.DATETIME: TimestampNTZType(),
}


def spark_type(column: dictionary.Column) -> DataType:
    """The Spark type a column of the dictionary is held in."""
    return _SPARK_TYPES[column.type]


def spark_schema(table: Table, nullable: bool = False) -> StructType:
    """The table's columns, named, typed and ordered as the dictionary (non-nullable by default, as
    every field is required)."""
    return StructType([StructField(c.name, spark_type(c), nullable) for c in table.columns])


def typed_columns(table: Table) -> list[SparkColumn]:
    """The table's columns, in dictionary order, cast to their Spark types."""
    return [F.col(c.name).cast(spark_type(c)).alias(c.name) for c in table.columns]


def avro_schema_json(table: Table) -> str:
    """The dictionary's Avro schema for `table` as the JSON text Avro writers take."""
    return json.dumps(dictionary.avro_schema(table))


def to_avro_columns(df: DataFrame, table: Table) -> DataFrame:
    """Rows ready for an Avro writer: dictionary order; datetimes as instants (UTC session zone)."""
    return df.select(
        [
            (
                F.col(c.name).cast("timestamp") if c.type == dictionary.DATETIME else F.col(c.name).cast(spark_type(c))
            ).alias(c.name)
            for c in table.columns
        ]
    )


def from_avro_columns(df: DataFrame, table: Table) -> DataFrame:
    """Rows read from Avro, back in the jobs' types (datetimes as UTC wall-clock NTZ)."""
    missing = [c for c in table.column_names if c not in df.columns]
    if missing:
        raise ValueError(f"Avro data for {table.name} lacks column(s): {', '.join(missing)}")
    return df.select(typed_columns(table))
