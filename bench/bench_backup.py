"""Backup and restore of 1,000,000 hired_employees rows on MySQL, beside raw pymysql in the same run.

- backup: the CLI (`backup hired_employees`, a subprocess) vs. a raw pymysql fetch of the same rows;
  target >= 0.75x. (The backup has the server pack each batch of rows as one JSON document, which
  the C json parser reads faster than pymysql decodes rows: see `MysqlDatabase._query_many_rows`.)
- restore: the CLI (`restore hired_employees`) vs. a raw `LOAD DATA LOCAL INFILE` of the same rows into
  the empty table; target >= 0.5x. Measured three times: over the table as it was backed up (the
  restore must check or replace the current rows, in the same transaction), over the same ids with
  every row's values different, and into the table emptied (TRUNCATE, so that no background purge of
  the benchmark's own deletes competes with the restore, as none competed with the raw load).
- memory: peak RSS of each CLI subprocess (the whole process: interpreter, driver, fastavro); < 256 MB.

``python -m bench backup`` (``BENCH_BACKUP_ROWS`` to change the size).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pymysql.cursors

from bench.common import ROOT, WORK, database_name, mysql_connection, report, scratch_database, verdict
from chalicelib import db as databases

ROWS = int(os.environ.get("BENCH_BACKUP_ROWS", "1000000"))
COLUMNS = "id, name, datetime, department_id, job_id"
FIRST = ["Ana", "Søren", "María José", "Kenji", "Amara", "Lyman", "Chidi", "Elif", "Björn", "Roshelle"]
LAST = ["Pérez", "Brown", "Nguyen", "Dubois", "Ivanova", "Rossi", "Kowalski", "García", "Sharma", "de la Cruz"]


def write_rows(path: str, rows: int, seed: int = 42) -> None:
    rnd = random.Random(seed)
    start = datetime(2019, 1, 1)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(1, rows + 1):
            when = start + timedelta(seconds=rnd.randrange(4 * 365 * 86400))
            out.write(
                f"{i}\t{rnd.choice(FIRST)} {rnd.choice(LAST)} {i}\t{when:%Y-%m-%d %H:%M:%S}"
                f"\t{rnd.randint(1, 12)}\t{rnd.randint(1, 183)}\n"
            )


# Runs the CLI and prints the process's peak RSS (VmHWM) to stderr at exit. Not ru_maxrss: on Linux a
# child's ru_maxrss includes the RSS its parent had when it forked, i.e. this benchmark's own rows.
_MEASURED_CLI = """
import sys
from chalicelib.cli import main as cli
try:
    code = cli.main(sys.argv[1:])
finally:
    with open('/proc/self/status') as status:
        peak = next(line.split()[1] for line in status if line.startswith('VmHWM:'))
    print('peak-rss-kb', peak, file=sys.stderr)
sys.exit(code)
"""


def cli_measured(url: str, *args: str) -> tuple[float, float, str]:
    """Run the project's CLI in a subprocess; (seconds, its peak RSS in MB, stdout)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED_CLI, "--database", url, *args],
        cwd=ROOT,
        capture_output=True,
        env=dict(os.environ, LOG_LEVEL="ERROR"),
    )
    seconds = time.perf_counter() - started
    err = proc.stderr.decode()
    if proc.returncode:
        raise RuntimeError(f"cli {' '.join(args)} failed: {err[-2000:]}")
    peak_kb = int(err.rsplit("peak-rss-kb", 1)[1].split()[0])
    return seconds, peak_kb / 1024, proc.stdout.decode()


def load_tsv(cur, path: str) -> None:
    """Raw LOAD DATA LOCAL INFILE of a file from `write_rows` into hired_employees."""
    cur.execute(
        f"LOAD DATA LOCAL INFILE %s INTO TABLE hired_employees CHARACTER SET utf8mb4 "
        f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({COLUMNS})",
        [path],
    )


def checksum(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("CHECKSUM TABLE hired_employees")
        return cur.fetchone()[1]


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    tsv, other_tsv = str(WORK / "hired_employees.tsv"), str(WORK / "hired_employees_other.tsv")
    write_rows(tsv, ROWS)
    write_rows(other_tsv, ROWS, seed=7)
    with scratch_database("hr_bench_backup") as url:
        database = databases.connect(url)
        database.create_schema()
        database.close()
        conn = mysql_connection(database_name(url))
        with conn.cursor() as cur:
            cur.execute("INSERT INTO departments VALUES " + ", ".join(f"({i}, 'Department {i}')" for i in range(1, 13)))
            cur.execute("INSERT INTO jobs VALUES " + ", ".join(f"({i}, 'Job {i}')" for i in range(1, 184)))

            started = time.perf_counter()
            load_tsv(cur, tsv)
            raw_load = time.perf_counter() - started
            assert cur.rowcount == ROWS, cur.rowcount
        original = checksum(conn)

        started = time.perf_counter()
        with conn.cursor(pymysql.cursors.SSCursor) as stream:
            stream.execute(f"SELECT {COLUMNS} FROM hired_employees ORDER BY id")
            fetched = 0
            while batch := stream.fetchmany(10000):
                fetched += len(batch)
        raw_fetch_streamed = time.perf_counter() - started
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(f"SELECT {COLUMNS} FROM hired_employees ORDER BY id")
            fetched = len(cur.fetchall())
        raw_fetch_buffered = time.perf_counter() - started
        assert fetched == ROWS
        raw_fetch = min(raw_fetch_streamed, raw_fetch_buffered)

        target = WORK / "backups-bench"
        backup_s, backup_mb, out = cli_measured(url, "backup", "hired_employees", "--to", str(target))
        backup_id = out.split()[1]
        avro = target / "backups" / backup_id / "hired_employees.avro"
        restore_full_s, restore_full_mb, _ = cli_measured(url, "restore", "hired_employees", "--from", str(avro))
        assert checksum(conn) == original, "restore over the full table changed the rows"
        # Every row different (same ids, other values), loaded afresh: no purge of earlier writes
        # running in the background, as for the raw load. Then the table emptied by TRUNCATE, likewise.
        # The same replacement by hand first, as its baseline: DELETE and LOAD DATA in one transaction.
        with conn.cursor() as cur:
            cur.execute("TRUNCATE TABLE hired_employees")
            load_tsv(cur, other_tsv)
            started = time.perf_counter()
            conn.begin()
            cur.execute("DELETE FROM hired_employees")
            load_tsv(cur, tsv)
            conn.commit()
            raw_replace = time.perf_counter() - started
            cur.execute("TRUNCATE TABLE hired_employees")
            load_tsv(cur, other_tsv)
        assert checksum(conn) != original
        restore_changed_s, restore_changed_mb, _ = cli_measured(url, "restore", "hired_employees", "--from", str(avro))
        assert checksum(conn) == original, "restore over the changed table did not bring back the rows"
        with conn.cursor() as cur:
            cur.execute("TRUNCATE TABLE hired_employees")
        restore_empty_s, restore_empty_mb, _ = cli_measured(url, "restore", "hired_employees", "--from", str(avro))
        assert checksum(conn) == original, "restore into the empty table changed the rows"
        conn.close()

    rate = lambda seconds: f"{ROWS / seconds:>12,.0f} rows/s  ({seconds:6.2f} s)"  # noqa: E731
    peak = max(backup_mb, restore_full_mb, restore_changed_mb, restore_empty_mb)
    ratio = lambda seconds: f"{raw_load / seconds:.2f}x  (target >= 0.5x: {verdict(raw_load / seconds >= 0.5)})"  # noqa: E731
    report(
        f"backup and restore of {ROWS:,} hired_employees rows (MySQL; project side = CLI subprocess, incl. start-up)",
        [
            ("raw pymysql fetch (buffered)", rate(raw_fetch_buffered)),
            ("raw pymysql fetch (streamed)", rate(raw_fetch_streamed)),
            ("backup (CLI -> Avro deflate)", rate(backup_s) + f"  {avro.stat().st_size / 1e6:.1f} MB"),
            (
                "backup / raw fetch",
                f"{raw_fetch / backup_s:.2f}x  (target >= 0.75x: {verdict(raw_fetch / backup_s >= 0.75)})",
            ),
            ("raw LOAD DATA LOCAL INFILE", rate(raw_load)),
            ("restore over the table as backed up", rate(restore_full_s)),
            ("  / raw load", ratio(restore_full_s)),
            ("restore over every row changed", rate(restore_changed_s)),
            (
                "  / raw load",
                f"{raw_load / restore_changed_s:.2f}x  (no target: this restore also deletes {ROWS:,} rows, "
                "which the raw load does not; next line)",
            ),
            (
                "  / raw DELETE + LOAD DATA",
                f"{raw_replace / restore_changed_s:.2f}x  (the same replacement by hand, "
                f"one transaction: {raw_replace:.2f} s)",
            ),
            ("restore into the emptied table", rate(restore_empty_s)),
            ("  / raw load", ratio(restore_empty_s)),
            (
                "peak RSS backup / restores",
                f"{backup_mb:.0f} / {restore_full_mb:.0f} / {restore_changed_mb:.0f} / {restore_empty_mb:.0f} MB  "
                f"(target < 256 MB: {verdict(peak < 256)})",
            ),
        ],
    )


if __name__ == "__main__":
    main()
