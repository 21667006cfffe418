"""Files through Hadoop's FileSystem API: the same calls reach ``s3://`` on Glue (EMRFS) and
``file://`` in local runs, so the jobs need no boto3 for their data."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import SparkSession


@dataclass(frozen=True)
class FileEntry:
    uri: str
    size: int


def _fs_and_path(spark: SparkSession, uri: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def _plain_fs_and_path(spark: SparkSession, uri: str):
    """For files other tools also read and write (manifest.json): locally, Hadoop's checksummed file
    system would add a ``.crc`` side file and refuse the file once another tool rewrites it."""
    fs, path = _fs_and_path(spark, uri)
    checksummed = spark.sparkContext._jvm.java.lang.Class.forName("org.apache.hadoop.fs.ChecksumFileSystem")
    return (fs.getRawFileSystem() if checksummed.isInstance(fs) else fs), path


def _is_data_file(name: str) -> bool:
    # Hadoop's and Spark's side files (_SUCCESS, .crc, _temporary) are not data.
    return not name.startswith(("_", "."))


def normalize(uri: str) -> str:
    """Hadoop prints local paths as ``file:/x``; keep the ``file:///x`` form the callers passed."""
    if uri.startswith("file:/") and not uri.startswith("file:///"):
        return "file:///" + uri[len("file:/") :].lstrip("/")
    return uri


def join(base: str, *parts: str) -> str:
    """`base` and relative `parts` joined with single slashes."""
    out = base.rstrip("/")
    for part in parts:
        out += "/" + part.strip("/")
    return out


def exists(spark: SparkSession, uri: str) -> bool:
    fs, path = _fs_and_path(spark, uri)
    return bool(fs.exists(path))


def is_directory(spark: SparkSession, uri: str) -> bool:
    fs, path = _fs_and_path(spark, uri)
    return bool(fs.exists(path) and fs.getFileStatus(path).isDirectory())


def list_files(spark: SparkSession, uri: str, suffix: str = "") -> list[FileEntry]:
    """The data files at `uri`: the file itself, or the files under the folder (recursively), in
    name order, skipping side files; only names ending with `suffix` (case-insensitive)."""
    fs, path = _fs_and_path(spark, uri)
    if not fs.exists(path):
        raise FileNotFoundError(uri)
    status = fs.getFileStatus(path)
    if not status.isDirectory():
        return [FileEntry(uri, int(status.getLen()))]
    out = []
    files = fs.listFiles(path, True)
    base = normalize(path.toUri().toString()).rstrip("/")
    while files.hasNext():
        st = files.next()
        full = normalize(st.getPath().toUri().toString())
        relative = full[len(base) :].lstrip("/") if full.startswith(base) else st.getPath().getName()
        if any(not _is_data_file(part) for part in relative.split("/")):
            continue
        if suffix and not relative.lower().endswith(suffix.lower()):
            continue
        out.append(FileEntry(join(uri, relative), int(st.getLen())))
    return sorted(out, key=lambda e: e.uri)


def data_size(spark: SparkSession, uri: str) -> int:
    """Bytes of data at `uri` (a file, or the data files of a folder)."""
    return sum(entry.size for entry in list_files(spark, uri))


def read_bytes(spark: SparkSession, uri: str) -> bytes:
    fs, path = _plain_fs_and_path(spark, uri)
    stream = fs.open(path)
    try:
        jvm = spark.sparkContext._jvm
        return bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
    finally:
        stream.close()


def write_bytes(spark: SparkSession, uri: str, data: bytes) -> None:
    """Create (or replace) the object at `uri` with `data`."""
    fs, path = _plain_fs_and_path(spark, uri)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(data))
    finally:
        stream.close()


def delete(spark: SparkSession, uri: str) -> None:
    fs, path = _fs_and_path(spark, uri)
    if fs.exists(path):
        fs.delete(path, True)


def upload(spark: SparkSession, local_path: str, destination: str) -> None:
    """Copy the file at `local_path` on this machine to `destination` (replacing it), without a checksum
    side file."""
    fs, dst = _plain_fs_and_path(spark, destination)
    fs.copyFromLocalFile(False, True, spark.sparkContext._jvm.org.apache.hadoop.fs.Path(local_path), dst)


def copy(spark: SparkSession, source: str, destination: str) -> None:
    jvm = spark.sparkContext._jvm
    src_fs, src = _fs_and_path(spark, source)
    dst_fs, dst = _fs_and_path(spark, destination)
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    if not jvm.org.apache.hadoop.fs.FileUtil.copy(src_fs, src, dst_fs, dst, False, conf):
        raise OSError(f"could not copy {source} to {destination}")
