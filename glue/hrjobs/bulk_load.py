"""Appending rows with MySQL's own bulk path: Spark writes them as LOAD DATA text (the service's
format: tab-separated, backslash escapes, datetimes as seconds since 1970), one file per writer, and
the driver sends each file with ``LOAD DATA LOCAL INFILE``, all of them at once (a thread and a
connection each), through the service's MySQL backend. Python moves the files' bytes, never a row,
and no Python worker starts on the executors: the database, not the driver, is the limit (docs/glue.md).

It needs a folder the executors write and the driver reads: Glue's ``--TempDir`` (S3), or a local
run's disk. Without one the caller falls back to JDBC INSERTs (hrjobs.database.append).
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from chalicelib.db.mysql import TSV_ESCAPES, MysqlDatabase
from chalicelib.rules import dictionary
from chalicelib.rules.dictionary import Table
from chalicelib.runtime.settings import DatabaseLogin
from hrjobs import storage


def scratch_folder(spark: SparkSession) -> str | None:
    """A new folder all executors share: beside the checkpoints (Glue's --TempDir), or on this
    machine's disk when Spark runs here; None when there is no such folder."""
    checkpoints = spark.sparkContext.getCheckpointDir()
    if checkpoints:
        return storage.join(checkpoints.rsplit("/checkpoints", 1)[0], f"bulk-load-{uuid.uuid4().hex}")
    if spark.sparkContext.master.startswith("local"):
        return (Path(tempfile.gettempdir()) / f"hr-bulk-load-{uuid.uuid4().hex}").as_uri()
    return None


def _escaped(text):
    for char, escape in TSV_ESCAPES.items():
        text = F.replace(text, F.lit(chr(char)), F.lit(escape))
    return text


def tsv_lines(df: DataFrame, table: Table) -> DataFrame:
    """`df` (the table's typed columns) as lines of the backend's LOAD DATA text, datetimes as epoch seconds."""
    values = []
    for column in table.columns:
        value = F.col(column.name)
        if column.type == dictionary.STRING:
            values.append(_escaped(value))
        elif column.type == dictionary.DATETIME:  # wall-clock UTC; the session's zone is UTC
            values.append(F.unix_seconds(value.cast("timestamp")).cast("string"))
        else:
            values.append(value.cast("string"))
    return df.select(F.concat_ws("\t", *values).alias("value"))


@contextlib.contextmanager
def _local_copy(uri: str) -> Iterator[str]:
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        yield parts.path
        return
    import boto3  # on Glue: the part is in S3

    fd, path = tempfile.mkstemp(suffix=".tsv")
    os.close(fd)
    try:
        boto3.client("s3").download_file(parts.netloc, parts.path.lstrip("/"), path)
        yield path
    finally:
        os.unlink(path)


def load_part(login: DatabaseLogin, table: Table, uri: str) -> int:
    """LOAD DATA LOCAL of one part file into `table`, in its own transaction; the rows stored."""
    with _local_copy(uri) as path:
        with open(path, "rb") as part:
            expected = sum(block.count(b"\n") for block in iter(functools.partial(part.read, 1 << 20), b""))
        if not expected:
            return 0
        db = MysqlDatabase.for_login(login)
        try:
            _, problem = db.run(lambda: db._load_data(table, path, expected, epoch_datetimes=True))
        finally:
            db.close()
    if problem:
        raise RuntimeError(problem)
    return expected


def append(spark: SparkSession, df: DataFrame, login: DatabaseLogin, table: Table, folder: str) -> int:
    """Append `df` (the table's typed columns; one writer per partition) through LOAD DATA; returns
    the rows stored. Each part commits on its own, as each JDBC writer does."""
    tsv_lines(df, table).write.mode("overwrite").text(folder)
    try:
        parts = [entry.uri for entry in storage.list_files(spark, folder)]
        if not parts:
            return 0
        with ThreadPoolExecutor(len(parts), thread_name_prefix="load-part") as senders:
            return sum(senders.map(functools.partial(load_part, login, table), parts))
    finally:
        storage.delete(spark, folder)
