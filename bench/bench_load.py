"""Historical load of 1,000,000 hired_employees rows (about 1% broken), three ways, on one scratch MariaDB:

(a) raw ``LOAD DATA LOCAL INFILE`` of the file into an equivalent empty table (same columns, keys,
    indexes and foreign keys), no validation: the server's own speed, the yardstick;
(b) ``pandas.read_csv`` + ``DataFrame.to_sql(chunksize=1000)``, the common approach (a table pandas
    creates: no keys, no constraints; broken rows go in as NULLs);
(c) the project's CLI, ``python -m chalicelib.cli load``, with every data rule and the rejection log.

(b) and (c) run as subprocesses, each measuring its own peak RSS (VmHWM; see bench/measure.py). Target: (c) at
least 0.5x the rows/s of (a), and under 256 MB peak. ``BENCH_LOAD_ROWS`` and ``BENCH_LOAD_REPEAT`` (best of N for (a)
and (c)) change the defaults.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.common import WORK, database_name, mysql_connection, report, run_measured, scratch_database, verdict
from chalicelib.loading import samples
from chalicelib.rules.dictionary import HIRED_EMPLOYEES

ROWS = int(os.environ.get("BENCH_LOAD_ROWS", "1000000"))
REPEAT = int(os.environ.get("BENCH_LOAD_REPEAT", "1"))
TARGET_RATIO = 0.5
TARGET_RSS_MB = 256


def write_files(folder: Path, rows: int) -> Path:
    """departments.csv, jobs.csv (the references) and hired_employees.csv with `rows` rows, 1% broken."""
    samples.write_samples(str(folder), employees=0)
    path = folder / "hired_employees.csv"
    samples._write(
        str(path), samples.employee_rows(rows, len(samples.DEPARTMENTS), len(samples.job_titles()), broken=0.01)
    )
    return path


def cli(url: str, *args: str) -> list[str]:
    return ["-m", "chalicelib.cli", "--database", url, *args]


def raw_load_data(url: str, path: Path) -> float:
    """(a): seconds for one LOAD DATA LOCAL INFILE of the file into an empty copy of hired_employees."""
    conn = mysql_connection(database_name(url))
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS raw_hired_employees")
            cur.execute("CREATE TABLE raw_hired_employees LIKE hired_employees")  # columns, keys, indexes
            cur.execute(
                "ALTER TABLE raw_hired_employees "
                "ADD CONSTRAINT fk_raw_department FOREIGN KEY (department_id) REFERENCES departments (id), "
                "ADD CONSTRAINT fk_raw_job FOREIGN KEY (job_id) REFERENCES jobs (id)"
            )
            started = time.perf_counter()
            cur.execute(
                "LOAD DATA LOCAL INFILE %s INTO TABLE raw_hired_employees CHARACTER SET utf8mb4 "
                "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n'",
                [str(path)],
            )
            return time.perf_counter() - started
    finally:
        conn.close()


def pandas_to_sql(url: str, path: str) -> None:
    """(b), run in its own process: the usual notebook recipe."""
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(url.replace("mysql://", "mysql+pymysql://", 1) + "?charset=utf8mb4")
    frame = pd.read_csv(path, header=None, names=list(HIRED_EMPLOYEES.column_names))
    frame.to_sql("pandas_hired_employees", engine, if_exists="replace", index=False, chunksize=1000)
    engine.dispose()


def reset_hired_employees(url: str) -> None:
    """An empty hired_employees table and rejection log (and derived data) for the next CLI run."""
    from chalicelib import db as databases

    database = databases.connect(url)
    database.execute(f"DELETE FROM {database.q('hired_employees')}")
    database.execute(f"DELETE FROM {database.q('rejections')}")
    database.rebuild_derived()
    database.close()


def main() -> None:
    folder = WORK / "load"
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    path = write_files(folder, ROWS)
    size_mb = path.stat().st_size / 1e6
    print(f"generated {ROWS:,} hired_employees rows ({size_mb:.1f} MB) in {time.perf_counter() - t:.1f} s", flush=True)

    with scratch_database("hr_bench_load") as url:
        run_measured(cli(url, "schema", "create"))
        run_measured(cli(url, "load", "--no-progress", str(folder / "departments.csv"), str(folder / "jobs.csv")))

        a_times = [raw_load_data(url, path) for _ in range(REPEAT)]
        a = min(a_times)
        print(f"(a) raw LOAD DATA: {a:.2f} s", flush=True)

        b_wall, b_cpu, b_rss, _ = run_measured(
            [
                "-c",
                ("import sys; from bench.bench_load import pandas_to_sql; pandas_to_sql(sys.argv[1], sys.argv[2])"),
                url,
                str(path),
            ]
        )
        print(f"(b) pandas to_sql: {b_wall:.2f} s", flush=True)

        c_runs = []
        for attempt in range(REPEAT):
            if attempt:
                reset_hired_employees(url)
            c_runs.append(run_measured(cli(url, "load", "--no-progress", str(path))))
            print(f"(c) CLI load: {c_runs[-1][0]:.2f} s", flush=True)
        c_wall, c_cpu, c_rss, c_out = min(c_runs, key=lambda r: r[0])
        counts_line = next((line for line in c_out.splitlines() if line.startswith("hired_employees")), "")

    a_rate, b_rate, c_rate = ROWS / a, ROWS / b_wall, ROWS / c_wall
    report(
        f"load {ROWS:,} hired_employees rows ({size_mb:.1f} MB, ~1% broken), MariaDB, same run",
        [
            (
                "(a) raw LOAD DATA LOCAL INFILE",
                f"{a_rate:>10,.0f} rows/s  {a:6.2f} s  (no validation; best of {REPEAT})",
            ),
            (
                "(b) pandas read_csv + to_sql",
                f"{b_rate:>10,.0f} rows/s  {b_wall:6.2f} s  peak RSS {b_rss:6.1f} MB  CPU {b_cpu:5.1f} s",
            ),
            (
                "(c) cli load (all rules, log)",
                f"{c_rate:>10,.0f} rows/s  {c_wall:6.2f} s  peak RSS {c_rss:6.1f} MB  CPU {c_cpu:5.1f} s",
            ),
            ("(c) summary line", counts_line.strip()),
            (
                "(c) / (a) rows/s",
                f"{c_rate / a_rate:.2f}x  (target >= {TARGET_RATIO}x: {verdict(c_rate / a_rate >= TARGET_RATIO)})",
            ),
            ("(c) / (b) rows/s", f"{c_rate / b_rate:.2f}x"),
            ("(b) / (a) rows/s", f"{b_rate / a_rate:.2f}x"),
            ("(c) peak RSS", f"{c_rss:.1f} MB  (target < {TARGET_RSS_MB} MB: {verdict(c_rss < TARGET_RSS_MB)})"),
        ],
    )


if __name__ == "__main__":
    main()
