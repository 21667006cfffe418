"""The Glue jobs on 1,000,000 hired_employees rows, locally (Spark local[2] into MariaDB):

- the CSV load job beside a raw ``LOAD DATA LOCAL INFILE`` of the same file into an equivalent empty
  table (its keys, indexes and foreign keys: `bench_load.raw_load_data`, the load benchmark's
  baseline), in the same run, before the jobs and after them (the floor: no rules, no rejection log,
  one server-side parse);
- the backup job (MySQL -> Avro) in rows/s;
- the job's fixed cost: a 1,000-row file, the first job of a fresh JVM (in a process of its own);
- the same at scale: SCALE_ROWS rows, the first job of a fresh JVM, beside raw ``LOAD DATA`` of that file,
  where the fixed cost weighs less (BENCH_GLUE_SCALE_ROWS=0 skips it).
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from bench.bench_load import raw_load_data
from bench.common import WORK, database_name, mysql_connection, report, run_measured, scratch_database

ROWS = int(os.environ.get("BENCH_GLUE_ROWS", "1000000"))
SCALE_ROWS = int(os.environ.get("BENCH_GLUE_SCALE_ROWS", "5000000"))
DEPARTMENTS, JOBS = 12, 183
SMALL_ROWS = 1_000  # the fixed-cost run: about no data, every phase of the job
CONNECTIONS = ("--WRITE_CONNECTIONS", "2", "--READ_PARTITIONS", "2")  # as many as local[2] has cores
JDBC_JAR = os.environ.get("MARIADB_JDBC_JAR", "/usr/share/java/mariadb-java-client.jar")


# About 1% of the lines break a rule, one kind after another: what the job's rejected-row path costs.
BROKEN = (
    "{i},,2021-03-01T10:00:00Z,1,1",  # name missing
    "{i},Bad Date {i},2021-02-30T10:00:00Z,1,1",  # no such day
    "{i},No Department {i},2021-03-01T10:00:00Z,999,1",  # reference missing
    "{i},Short {i},2021-03-01T10:00:00Z",  # three fields
    "{r},Repeat {i},2021-03-01T10:00:00Z,1,1",  # an id already in the file
    '{i},"Quoted, Name {i}",2021-03-01T10:00:00Z,2,2',  # valid: a comma inside quotes (csv splits it)
)


def write_employees_csv(path: Path, rows: int) -> int:
    """`rows` hired_employees lines (no header), deterministic, about 1% of them broken; returns how
    many the rules accept."""
    rng = random.Random(2021)
    path.parent.mkdir(parents=True, exist_ok=True)
    valid = 0
    with path.open("w", encoding="utf-8") as fh:
        for i in range(1, rows + 1):
            if i % 100 == 50:
                kind = (i // 100) % len(BROKEN)
                fh.write(BROKEN[kind].format(i=i, r=i - 1) + "\n")
                valid += BROKEN[kind].startswith('{i},"')
                continue
            valid += 1
            fh.write(
                f"{i},Employee {i},2021-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                f"T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z,"
                f"{rng.randint(1, DEPARTMENTS)},{rng.randint(1, JOBS)}\n"
            )
    return valid


def _timed_job(spark, target, job: str, *argv: str) -> tuple[dict, float]:
    from glue import local

    started = time.perf_counter()
    summary = local.run(job, target, local.job_arguments(job, argv), spark)
    return summary, time.perf_counter() - started


def fresh_jvm_load(url: str, path: str, *argv: str) -> str:
    """One load job, the first of a new local[2] session (the session's own start not counted), as
    "seconds inserted" for the parent process to read."""
    from glue import local

    scratch = Path(tempfile.mkdtemp(prefix="hr-glue-bench-"))
    spark = local.local_session("local[2]", scratch, config={"spark.driver.memory": "3g"})
    try:
        summary, seconds = _timed_job(spark, local.target_for_url(url), "load_csv", "--SOURCE", path, *argv)
    finally:
        spark.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return f"{seconds} {summary['files'][0]['inserted']}"


def _fresh_jvm_load(url: str, path: Path, *argv: str) -> tuple[float, int]:
    """`fresh_jvm_load` in a Python process (and so a JVM) of its own: (seconds, rows inserted)."""
    code = "import sys; from bench.bench_glue import fresh_jvm_load; print(fresh_jvm_load(*sys.argv[1:]))"
    *_, out = run_measured(["-c", code, url, str(path), *argv])
    seconds, inserted = out.strip().splitlines()[-1].split()
    return float(seconds), int(inserted)


def _truncate(name: str) -> None:
    conn = mysql_connection(name)
    with conn.cursor() as cur:
        for table in ("rejections", "quarterly_hires", "hired_employees"):
            cur.execute(f"TRUNCATE TABLE `{table}`")  # DELETE would leave InnoDB purging during a run
    conn.close()


def main() -> None:
    from chalicelib import db as databases
    from chalicelib.rules import dictionary

    csv_path = WORK / "glue" / "incoming" / "hired_employees" / "bench.csv"
    started = time.perf_counter()
    valid = write_employees_csv(csv_path, ROWS)
    generated = time.perf_counter() - started
    scratch = Path(tempfile.mkdtemp(prefix="hr-glue-bench-"))
    with scratch_database("hr_bench_glue") as url:
        name = database_name(url)
        service = databases.connect(url)
        service.create_schema()
        service.insert_rows(dictionary.DEPARTMENTS, [(i, f"Department {i}") for i in range(1, DEPARTMENTS + 1)])
        service.insert_rows(dictionary.JOBS, [(i, f"Job {i}") for i in range(1, JOBS + 1)])
        service.close()

        # Baseline: the server parses the same file into an equivalent empty table, as bench_load measures it;
        # once before the jobs and once after them, as this machine's speed drifts within a run.
        raw_before = raw_load_data(url, csv_path)
        conn = mysql_connection(name)
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM raw_hired_employees")
            raw_rows = cur.fetchone()[0]
        conn.close()

        from glue import local

        spark = local.local_session("local[2]", scratch, config={"spark.driver.memory": "3g"})
        try:
            target = local.target_for_url(url)

            def run(job: str, *argv: str) -> tuple[dict, float]:
                return _timed_job(spark, target, job, *argv)

            first, load_seconds = run("load_csv", "--SOURCE", str(csv_path), *CONNECTIONS)
            second, rerun_seconds = run("load_csv", "--SOURCE", str(csv_path), *CONNECTIONS)
            # The same first load once the JVM has compiled the job's code (a long-lived session; a
            # Glue run starts a fresh JVM, so the cold figure above is the one to plan with).
            _truncate(name)
            third, warm_seconds = run("load_csv", "--SOURCE", str(csv_path), *CONNECTIONS)
            backup, backup_seconds = run(
                "backup_avro",
                "--BACKUP_ROOT",
                str(scratch / "bucket"),
                "--TABLES",
                "hired_employees",
                "--READ_PARTITIONS",
                "2",
            )
        finally:
            spark.stop()
            shutil.rmtree(scratch, ignore_errors=True)
        raw_after = raw_load_data(url, csv_path)
        raw_seconds = (raw_before + raw_after) / 2

        # The fixed cost: the same job on a small file, in a fresh JVM of its own, into an emptied table.
        _truncate(name)
        small_path = csv_path.with_name("small.csv")
        with csv_path.open(encoding="utf-8") as source, small_path.open("w", encoding="utf-8") as small:
            small.writelines(itertools.islice(source, SMALL_ROWS))
        small_seconds, _ = _fresh_jvm_load(url, small_path, *CONNECTIONS)

        # At scale: a bigger file, into the emptied table, beside raw LOAD DATA of the same file.
        scale = None
        if SCALE_ROWS:
            _truncate(name)
            scale_path = csv_path.with_name("scale.csv")
            try:
                scale_valid = write_employees_csv(scale_path, SCALE_ROWS)
                scale_raw = raw_load_data(url, scale_path)
                scale_seconds, scale_inserted = _fresh_jvm_load(url, scale_path, *CONNECTIONS)
            finally:
                scale_path.unlink(missing_ok=True)
            if scale_inserted != scale_valid:
                raise AssertionError(
                    f"load job inserted {scale_inserted:,} of {SCALE_ROWS:,} rows, not {scale_valid:,}"
                )
            scale = (scale_seconds, scale_raw)

    [loaded], [again], [warm] = first["files"], second["files"], third["files"]
    manifest = backup["manifest"]
    backed_up = manifest["tables"]["hired_employees"]
    report(
        f"Glue jobs, local[2] on {os.cpu_count()} CPUs, {ROWS:,} hired_employees rows "
        f"({csv_path.stat().st_size / 1e6:.0f} MB CSV, generated in {generated:.1f} s)",
        [
            (
                "LOAD DATA LOCAL INFILE (baseline)",
                f"{raw_seconds:.1f} s, {raw_rows / raw_seconds:,.0f} rows/s ({raw_rows:,} rows; the mean of "
                f"{raw_before:.1f} s before the jobs and {raw_after:.1f} s after them)",
            ),
            (
                "load job, first run",
                f"{load_seconds:.1f} s, {loaded['inserted'] / load_seconds:,.0f} rows/s "
                f"(inserted {loaded['inserted']:,}, rejected {loaded['rejected']:,})",
            ),
            ("  phases (s)", ", ".join(f"{k} {v}" for k, v in loaded["seconds"].items())),
            ("load job / LOAD DATA", f"{load_seconds / raw_seconds:.1f}x the time (target <= 2x)"),
            (
                "load job, re-run (all unchanged)",
                f"{rerun_seconds:.1f} s (inserted {again['inserted']:,}, unchanged {again['unchanged']:,})",
            ),
            (
                "load job, first load again, warm JVM",
                f"{warm_seconds:.1f} s ({warm_seconds / raw_seconds:.1f}x LOAD DATA), phases (s): "
                + ", ".join(f"{k} {v}" for k, v in warm["seconds"].items()),
            ),
            (
                f"load job, {SMALL_ROWS:,} rows, first job of a fresh JVM",
                f"{small_seconds:.1f} s: what a fresh JVM costs the job whatever the file's size "
                f"({small_seconds / raw_seconds:.1f}x the {ROWS:,}-row LOAD DATA)",
            ),
            *(
                [
                    (
                        f"load job, {SCALE_ROWS:,} rows, first job of a fresh JVM",
                        f"{scale[0]:.1f} s against LOAD DATA of the same file, {scale[1]:.1f} s: "
                        f"{scale[0] / scale[1]:.1f}x the time (target <= 2x)",
                    )
                ]
                if scale
                else []
            ),
            (
                "backup job (MySQL -> Avro)",
                f"{backup_seconds:.1f} s, {backed_up['rows'] / backup_seconds:,.0f} rows/s, "
                f"{backed_up['bytes'] / 1e6:.1f} MB deflate",
            ),
        ],
    )
    if loaded["inserted"] != valid or again["inserted"] or again["unchanged"] != valid or warm["inserted"] != valid:
        raise AssertionError(f"load job miscounted: first {loaded}, re-run {again}")
