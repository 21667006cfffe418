"""Backup and restore of 1,000,000 hired_employees rows on MySQL, beside raw pymysql in the same run.

- backup: the CLI (`backup hired_employees`, a subprocess) vs. a raw pymysql fetch of the same rows;
  target >= 0.75x.
- restore: the CLI (`restore hired_employees`) vs. a raw `LOAD DATA LOCAL INFILE` of the same rows into
  the empty table; target >= 0.5x. Measured twice: over the table as it was backed up (the restore
  must delete the current rows too, in the same transaction) and into an emptied table.
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


def write_rows(path: str, rows: int) -> None:
    rnd = random.Random(42)
    start = datetime(2019, 1, 1)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(1, rows + 1):
            when = start + timedelta(seconds=rnd.randrange(4 * 365 * 86400))
            out.write(f"{i}\t{rnd.choice(FIRST)} {rnd.choice(LAST)} {i}\t{when:%Y-%m-%d %H:%M:%S}\t{rnd.randint(1, 12)}\t{rnd.randint(1, 183)}\n")


# Runs the CLI and prints the process's peak RSS (VmHWM) to stderr at exit. Not ru_maxrss: on Linux a
# child's ru_maxrss includes the RSS its parent had when it forked, i.e. this benchmark's own rows.
_MEASURED_CLI = """
import sys
from chalicelib import cli
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
        cwd=ROOT, capture_output=True, env=dict(os.environ, LOG_LEVEL="ERROR"),
    )
    seconds = time.perf_counter() - started
    err = proc.stderr.decode()
    if proc.returncode:
        raise RuntimeError(f"cli {' '.join(args)} failed: {err[-2000:]}")
    peak_kb = int(err.rsplit("peak-rss-kb", 1)[1].split()[0])
    return seconds, peak_kb / 1024, proc.stdout.decode()


def checksum(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("CHECKSUM TABLE hired_employees")
        return cur.fetchone()[1]


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    tsv = str(WORK / "hired_employees.tsv")
    write_rows(tsv, ROWS)
    with scratch_database("hr_bench_backup") as url:
        database = databases.connect(url)
        database.create_schema()
        database.close()
        conn = mysql_connection(database_name(url))
        with conn.cursor() as cur:
            cur.execute("INSERT INTO departments VALUES " + ", ".join(f"({i}, 'Department {i}')" for i in range(1, 13)))
            cur.execute("INSERT INTO jobs VALUES " + ", ".join(f"({i}, 'Job {i}')" for i in range(1, 184)))

            started = time.perf_counter()
            cur.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE hired_employees CHARACTER SET utf8mb4 "
                f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({COLUMNS})",
                [tsv],
            )
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
        with conn.cursor() as cur:
            cur.execute("DELETE FROM hired_employees")
        restore_empty_s, restore_empty_mb, _ = cli_measured(url, "restore", "hired_employees", "--from", str(avro))
        assert checksum(conn) == original, "restore into the empty table changed the rows"
        conn.close()

    rate = lambda seconds: f"{ROWS / seconds:>12,.0f} rows/s  ({seconds:6.2f} s)"  # noqa: E731
    peak = max(backup_mb, restore_full_mb, restore_empty_mb)
    report(
        f"backup and restore of {ROWS:,} hired_employees rows (MySQL; project side = CLI subprocess, incl. start-up)",
        [
            ("raw pymysql fetch (buffered)", rate(raw_fetch_buffered)),
            ("raw pymysql fetch (streamed)", rate(raw_fetch_streamed)),
            ("backup (CLI -> Avro deflate)", rate(backup_s) + f"  {avro.stat().st_size / 1e6:.1f} MB"),
            ("backup / raw fetch", f"{raw_fetch / backup_s:.2f}x  (target >= 0.75x: {verdict(raw_fetch / backup_s >= 0.75)})"),
            ("raw LOAD DATA LOCAL INFILE", rate(raw_load)),
            ("restore over the full table", rate(restore_full_s)),
            ("restore / raw load", f"{raw_load / restore_full_s:.2f}x  (target >= 0.5x: {verdict(raw_load / restore_full_s >= 0.5)})"),
            ("restore into the emptied table", rate(restore_empty_s)),
            ("restore (empty) / raw load", f"{raw_load / restore_empty_s:.2f}x  (target >= 0.5x: {verdict(raw_load / restore_empty_s >= 0.5)})"),
            ("peak RSS backup / restore / restore", f"{backup_mb:.0f} / {restore_full_mb:.0f} / {restore_empty_mb:.0f} MB  "
                                                      f"(target < 256 MB: {verdict(peak < 256)})"),
        ],
    )


if __name__ == "__main__":
    main()
