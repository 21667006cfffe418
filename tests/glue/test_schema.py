"""The jobs' Spark schema is derived from the data dictionary, not restated."""

from pyspark.sql.types import IntegerType, StringType, TimestampNTZType

from chalicelib.rules import dictionary
from hrjobs import schema


def test_spark_schema_follows_the_dictionary_for_every_table():
    kinds = {
        dictionary.INTEGER: IntegerType(),
        dictionary.STRING: StringType(),
        dictionary.DATETIME: TimestampNTZType(),
    }
    for table in dictionary.iter_tables():
        spark_schema = schema.spark_schema(table)
        assert spark_schema.fieldNames() == list(table.column_names)
        assert [f.dataType for f in spark_schema.fields] == [kinds[c.type] for c in table.columns]
        assert not any(f.nullable for f in spark_schema.fields)


def test_avro_schema_text_is_the_dictionarys():
    import json

    for table in dictionary.iter_tables():
        assert json.loads(schema.avro_schema_json(table)) == dictionary.avro_schema(table)
