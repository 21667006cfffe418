"""Historical load of 1,000,000 hired_employees rows (about 1% broken) on one scratch MariaDB, each figure
beside its baseline from the same run:

(a) raw ``LOAD DATA LOCAL INFILE`` of the file into an equivalent empty table (same columns, keys,
    indexes and foreign keys), no validation: the server's own speed, the yardstick;
(b) ``pandas.read_csv`` + ``DataFrame.to_sql(chunksize=1000)``, the common approach (a table pandas
    creates: no keys, no constraints; broken rows go in as NULLs);
(c) the project's CLI, ``python -m chalicelib.cli load``, with every data rule, the rejection log and the
    report summary, into the empty table (a first load: its secondary keys are built after the rows);
(c0) the same with the loader as it was before the line path and the deferred keys (every record through
    the csv reader, keys kept up to date row by row): the "before" of the CPU per row;
(d) a second file of 1,000,000 new rows appended by the CLI to the table holding the first, beside
(a2) raw ``LOAD DATA`` of that file into the raw table of (a), which holds the same rows.

The CLI runs are subprocesses, each measuring its own CPU and peak RSS (VmHWM; see bench/measure.py).
Targets: (c) faster than (a); (d) at least 0.8x the rows/s of (a2); (c)'s CPU per row at most half of
(c0)'s; peak RSS under 256 MB. ``BENCH_LOAD_ROWS`` and ``BENCH_LOAD_REPEAT`` (best of N for (a), (c))
change the defaults; ``BENCH_LOAD_PANDAS=0`` skips (b).
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
PANDAS = os.environ.get("BENCH_LOAD_PANDAS", "1") != "0"
TARGET_RSS_MB = 256


def write_files(folder: Path, rows: int, start_id: int = 1) -> Path:
    """departments.csv, jobs.csv (the references) and hired_employees.csv with `rows` rows from `start_id`,
    1% broken."""
    samples.write_samples(str(folder), employees=0)
    path = folder / "hired_employees.csv"
    samples._write(
        str(path),
        samples.employee_rows(
            rows, len(samples.DEPARTMENTS), len(samples.job_titles()), broken=0.01, start_id=start_id
        ),
    )
    return path


def cli(url: str, *args: str) -> list[str]:
    return ["-m", "chalicelib.cli", "--database", url, *args]


# The loader as it was before the line path and the deferred keys, for the CPU baseline (c0).
RECORD_PATH_CLI = (
    "import sys; from chalicelib.loading import loader; loader.LINE_PATH = False; "
    "loader.DEFER_KEYS_MIN_ROWS = float('inf'); from chalicelib.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


def raw_load_data(url: str, path: Path, fresh: bool = True) -> float:
    """(a): seconds for one LOAD DATA LOCAL INFILE of the file into a copy of hired_employees (a new,
    empty one when `fresh`; else the one an earlier call filled)."""
    conn = mysql_connection(database_name(url))
    try:
        with conn.cursor() as cur:
            if fresh:
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
    conn = mysql_connection(database_name(url))
    try:
        with conn.cursor() as cur:
            for table in ("hired_employees", "rejections", "quarterly_hires"):
                cur.execute(f"TRUNCATE TABLE `{table}`")
    finally:
        conn.close()


def per_million(seconds: float, rows: int) -> float:
    return seconds * 1_000_000 / rows


def main() -> None:
    folder = WORK / "load"
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    path = write_files(folder, ROWS)
    more = write_files(folder / "more", ROWS, start_id=ROWS + 1)
    size_mb = path.stat().st_size / 1e6
    print(f"generated 2 x {ROWS:,} hired_employees rows ({size_mb:.1f} MB each) in {time.perf_counter() - t:.1f} s")

    def load(url: str, file: Path, code: str | None = None) -> tuple[float, float, float, str]:
        args = ["--database", url, "load", "--no-progress", str(file)]
        measured = run_measured(["-c", code, *args] if code else ["-m", "chalicelib.cli", *args])
        print(f"  {file}{' (record path)' if code else ''}: {measured[0]:.2f} s, CPU {measured[1]:.1f} s", flush=True)
        return measured

    with scratch_database("hr_bench_load") as url:
        run_measured(cli(url, "schema", "create"))
        run_measured(cli(url, "load", "--no-progress", str(folder / "departments.csv"), str(folder / "jobs.csv")))

        a = min(raw_load_data(url, path) for _ in range(REPEAT))
        print(f"(a) raw LOAD DATA: {a:.2f} s", flush=True)
        b_wall = b_cpu = b_rss = None
        if PANDAS:
            b_wall, b_cpu, b_rss, _ = run_measured(
                [
                    "-c",
                    "import sys; from bench.bench_load import pandas_to_sql; pandas_to_sql(sys.argv[1], sys.argv[2])",
                    url,
                    str(path),
                ]
            )
            print(f"(b) pandas to_sql: {b_wall:.2f} s", flush=True)

        c0_wall, c0_cpu, c0_rss, _ = load(url, path, RECORD_PATH_CLI)
        c_runs = []
        for _ in range(REPEAT):
            reset_hired_employees(url)
            c_runs.append(load(url, path))
        c_wall, c_cpu, c_rss, c_out = min(c_runs, key=lambda r: r[0])
        counts_line = next((line for line in c_out.splitlines() if line.startswith("hired_employees")), "")

        a2 = raw_load_data(url, more, fresh=False)
        print(f"(a2) raw LOAD DATA appended: {a2:.2f} s", flush=True)
        d_wall, d_cpu, d_rss, d_out = load(url, more)
        d_line = next((line for line in d_out.splitlines() if line.startswith("hired_employees")), "")

    a_rate, c_rate, c0_rate = ROWS / a, ROWS / c_wall, ROWS / c0_wall
    a2_rate, d_rate = ROWS / a2, ROWS / d_wall
    cpu_ratio = c_cpu / c0_cpu
    rss = max(c_rss, d_rss)
    rows = [
        ("(a) raw LOAD DATA, empty table", f"{a_rate:>10,.0f} rows/s  {a:6.2f} s  (no validation; best of {REPEAT})"),
    ]
    if b_wall is not None:
        rows.append(
            (
                "(b) pandas read_csv + to_sql",
                f"{ROWS / b_wall:>10,.0f} rows/s  {b_wall:6.2f} s  peak RSS {b_rss:6.1f} MB  CPU {b_cpu:5.1f} s",
            )
        )
    rows += [
        (
            "(c0) cli load, record path",
            f"{c0_rate:>10,.0f} rows/s  {c0_wall:6.2f} s  peak RSS {c0_rss:6.1f} MB  CPU {c0_cpu:5.1f} s",
        ),
        (
            "(c) cli load, empty table",
            f"{c_rate:>10,.0f} rows/s  {c_wall:6.2f} s  peak RSS {c_rss:6.1f} MB  CPU {c_cpu:5.1f} s",
        ),
        ("(c) summary line", counts_line.strip()),
        ("(a2) raw LOAD DATA, appended", f"{a2_rate:>10,.0f} rows/s  {a2:6.2f} s  (table holding (a)'s rows)"),
        (
            "(d) cli load, appended",
            f"{d_rate:>10,.0f} rows/s  {d_wall:6.2f} s  peak RSS {d_rss:6.1f} MB  CPU {d_cpu:5.1f} s",
        ),
        ("(d) summary line", d_line.strip()),
        ("(c) / (a) rows/s", f"{c_rate / a_rate:.2f}x  (target > 1.0x: {verdict(c_rate > a_rate)})"),
        ("(d) / (a2) rows/s", f"{d_rate / a2_rate:.2f}x  (target >= 0.8x: {verdict(d_rate / a2_rate >= 0.8)})"),
        (
            "CPU s per 1M rows, (c) / (c0)",
            f"{per_million(c_cpu, ROWS):.1f} / {per_million(c0_cpu, ROWS):.1f} = {cpu_ratio:.2f}x  "
            f"(target <= 0.5x: {verdict(cpu_ratio <= 0.5)})",
        ),
        ("(c) / (c0) rows/s", f"{c_rate / c0_rate:.2f}x"),
        ("peak RSS, (c) and (d)", f"{rss:.1f} MB  (target < {TARGET_RSS_MB} MB: {verdict(rss < TARGET_RSS_MB)})"),
    ]
    if b_wall is not None:
        rows.append(("(c) / (b) rows/s", f"{c_rate * b_wall / ROWS:.2f}x"))
    report(f"load {ROWS:,} hired_employees rows ({size_mb:.1f} MB, ~1% broken), MariaDB, same run", rows)


if __name__ == "__main__":
    main()
