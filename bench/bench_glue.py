"""The Glue jobs on 1,000,000 hired_employees rows, locally (Spark local[2] into MariaDB):

- the CSV load job beside a raw ``LOAD DATA LOCAL INFILE`` of the same file into an equivalent empty
  table, in the same run (the floor: no rules, no rejection log, one server-side parse);
- the backup job (MySQL -> Avro) in rows/s.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.common import MYSQL, ROOT, WORK, database_name, mysql_connection, report, scratch_database

ROWS = int(os.environ.get("BENCH_GLUE_ROWS", "1000000"))
DEPARTMENTS, JOBS = 12, 183
JDBC_JAR = os.environ.get("MARIADB_JDBC_JAR", "/usr/share/java/mariadb-java-client.jar")


def write_employees_csv(path: Path, rows: int) -> None:
    """`rows` valid hired_employees lines (no header), deterministic."""
    rng = random.Random(2021)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(1, rows + 1):
            fh.write(
                f"{i},Employee {i},2021-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                f"T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z,"
                f"{rng.randint(1, DEPARTMENTS)},{rng.randint(1, JOBS)}\n"
            )


def local_spark(scratch: Path):
    sys.path.insert(0, str(ROOT / "glue"))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), str(ROOT / "glue"), os.environ.get("PYTHONPATH")])
    )
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("hr-glue-bench")
        .config("spark.jars", JDBC_JAR)
        .config("spark.driver.memory", "3g")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.warehouse.dir", (scratch / "warehouse").as_uri())
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={scratch / 'metastore_db'};create=true",
        )
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dderby.system.home={scratch} -Dderby.stream.error.file={scratch / 'derby.log'}",
        )
        .enableHiveSupport()
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("FATAL")
    return session


def main() -> None:
    from chalicelib import db as databases
    from chalicelib.rules import dictionary

    csv_path = WORK / "glue" / "incoming" / "hired_employees" / "bench.csv"
    started = time.perf_counter()
    write_employees_csv(csv_path, ROWS)
    generated = time.perf_counter() - started
    scratch = Path(tempfile.mkdtemp(prefix="hr-glue-bench-"))
    with scratch_database("hr_bench_glue") as url:
        name = database_name(url)
        service = databases.connect(url)
        service.create_schema()
        service.insert_rows(dictionary.DEPARTMENTS, [(i, f"Department {i}") for i in range(1, DEPARTMENTS + 1)])
        service.insert_rows(dictionary.JOBS, [(i, f"Job {i}") for i in range(1, JOBS + 1)])
        service.close()

        # Baseline: the server parses the same file into an equivalent empty table (no rules, no FKs).
        conn = mysql_connection(name)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE hired_employees_raw LIKE hired_employees")
            started = time.perf_counter()
            cur.execute(
                "LOAD DATA LOCAL INFILE %s INTO TABLE hired_employees_raw FIELDS TERMINATED BY ',' "
                "(id, name, @dt, department_id, job_id) SET datetime = STR_TO_DATE(@dt, '%%Y-%%m-%%dT%%H:%%i:%%sZ')",
                (str(csv_path),),
            )
            raw_seconds = time.perf_counter() - started
            cur.execute("SELECT COUNT(*) FROM hired_employees_raw")
            raw_rows = cur.fetchone()[0]
        conn.close()

        spark = local_spark(scratch)
        try:
            import backup_avro
            import load_csv

            from chalicelib.runtime.settings import DatabaseLogin
            from hrjobs import runtime
            from hrjobs.database import MysqlTarget

            runtime.configure(spark)
            login = DatabaseLogin(MYSQL["host"], MYSQL["port"], name, MYSQL["user"], MYSQL["password"], tls=False)
            target = MysqlTarget(login, "org.mariadb.jdbc.Driver")
            started = time.perf_counter()
            [loaded] = load_csv.run_load(spark, target, csv_path.as_uri(), write_connections=2, read_partitions=2)
            load_seconds = time.perf_counter() - started
            started = time.perf_counter()
            [again] = load_csv.run_load(spark, target, csv_path.as_uri(), write_connections=2, read_partitions=2)
            rerun_seconds = time.perf_counter() - started

            backup_root = (scratch / "bucket").as_uri()
            started = time.perf_counter()
            manifest = backup_avro.run_backup(
                spark, target, backup_root, [dictionary.HIRED_EMPLOYEES], read_partitions=2
            )
            backup_seconds = time.perf_counter() - started
        finally:
            spark.stop()
            shutil.rmtree(scratch, ignore_errors=True)

    backed_up = manifest["tables"]["hired_employees"]
    report(
        f"Glue jobs, local[2] on {os.cpu_count()} CPUs, {ROWS:,} hired_employees rows "
        f"({csv_path.stat().st_size / 1e6:.0f} MB CSV, generated in {generated:.1f} s)",
        [
            (
                "LOAD DATA LOCAL INFILE (baseline)",
                f"{raw_seconds:.1f} s, {raw_rows / raw_seconds:,.0f} rows/s ({raw_rows:,} rows)",
            ),
            (
                "load job, first run",
                f"{load_seconds:.1f} s, {loaded.inserted / load_seconds:,.0f} rows/s "
                f"(inserted {loaded.inserted:,}, rejected {loaded.rejected:,})",
            ),
            ("  phases (s)", ", ".join(f"{k} {v}" for k, v in loaded.seconds.items())),
            ("load job / LOAD DATA", f"{load_seconds / raw_seconds:.1f}x the time"),
            (
                "load job, re-run (all unchanged)",
                f"{rerun_seconds:.1f} s (inserted {again.inserted:,}, unchanged {again.unchanged:,})",
            ),
            (
                "backup job (MySQL -> Avro)",
                f"{backup_seconds:.1f} s, {backed_up['rows'] / backup_seconds:,.0f} rows/s, "
                f"{backed_up['bytes'] / 1e6:.1f} MB deflate",
            ),
        ],
    )
    if loaded.inserted != ROWS or again.inserted or again.unchanged != ROWS:
        raise AssertionError(f"load job miscounted: first {loaded}, re-run {again}")
