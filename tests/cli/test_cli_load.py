"""`python -m chalicelib.cli load` and `replay`: folders in load order, the summary, exit codes, progress."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import db as databases
from chalicelib.cli import progress
from chalicelib.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DEPARTMENTS = "1,Engineering\n2,Sales\n"
JOBS = "1,DBA Lead\n2,Data Entry Clerk\n"
EMPLOYEES = "1,Ana,2021-11-07T02:48:42Z,1,1\n2,Bo,2021-03-01T10:00:00Z,2,2\n3,,2021-03-01T10:00:00Z,2,2\n"


def write(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def summary_rows(out: str) -> dict[str, tuple[int, ...]]:
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0] in ("departments", "jobs", "hired_employees"):
            rows[parts[0]] = tuple(int(p.replace(",", "")) for p in parts[1:])
    return rows


def test_a_folder_loads_departments_and_jobs_before_employees(database_url, tmp_path, capsys):
    folder = write(tmp_path / "in", hired_employees=EMPLOYEES, jobs=JOBS, departments=DEPARTMENTS)
    assert main(["--database", database_url, "load", str(folder)]) == 0
    out = capsys.readouterr().out
    # files, inserted, unchanged, rejected
    assert summary_rows(out) == {"departments": (1, 2, 0, 0), "jobs": (1, 2, 0, 0), "hired_employees": (1, 2, 0, 1)}
    assert "replay" in out  # says how to retry the rejected rows
    assert databases.connect(database_url).counts()["hired_employees"] == 2


def test_loading_again_is_all_unchanged_and_exit_0(database_url, tmp_path, capsys):
    folder = write(tmp_path / "in", departments=DEPARTMENTS)
    main(["--database", database_url, "load", str(folder)])
    capsys.readouterr()
    assert main(["--database", database_url, "load", str(folder / "departments.csv")]) == 0
    assert summary_rows(capsys.readouterr().out)["departments"] == (1, 0, 2, 0)


def test_employees_first_then_references_then_replay_end_to_end(database_url, tmp_path, capsys):
    early = write(tmp_path / "monday", hired_employees=EMPLOYEES)
    late = write(tmp_path / "tuesday", departments=DEPARTMENTS, jobs=JOBS)
    assert main(["--database", database_url, "load", str(early)]) == 0
    assert summary_rows(capsys.readouterr().out)["hired_employees"] == (1, 0, 0, 3)
    assert main(["--database", database_url, "load", str(late)]) == 0
    assert main(["--database", database_url, "replay", "--source", str(early / "hired_employees.csv")]) == 0
    out = capsys.readouterr().out
    assert '"inserted": 2' in out and '"still_rejected": 1' in out
    counts = databases.connect(database_url).counts()
    assert (counts["hired_employees"], counts["rejections"]) == (2, 1)


def test_a_rejected_rows_report_is_written_beside_the_file_and_skipped_by_later_loads(database_url, tmp_path, capsys):
    folder = write(tmp_path / "in", departments=DEPARTMENTS + "3,\n4,\n")
    assert main(["--database", database_url, "load", "--report-min", "2", str(folder)]) == 0
    report = folder / "departments.rejected.csv"
    assert f"rejected-rows report: {report}" in capsys.readouterr().out
    assert report.read_text(encoding="utf-8").splitlines() == [
        "line,reasons,id,department",
        "3,department: is required,3,",
        "4,department: is required,4,",
    ]
    # The folder now holds the report too: loading it again does not take the report for data.
    assert main(["--database", database_url, "load", str(folder)]) == 0
    assert summary_rows(capsys.readouterr().out) == {"departments": (1, 0, 2, 2)}


def test_below_the_threshold_no_report_is_written(database_url, tmp_path, capsys):
    folder = write(tmp_path / "in", departments=DEPARTMENTS + "3,\n")
    assert main(["--database", database_url, "load", str(folder)]) == 0
    assert not (folder / "departments.rejected.csv").exists()


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: d / "missing.csv", "no such file or folder"),
        (lambda d: write(d / "empty"), "no .csv files in this folder"),
        (lambda d: write(d, employees="1,x\n") / "employees.csv", "cannot tell the table from the file name"),
    ],
)
def test_a_path_that_cannot_be_loaded_is_one_line_and_exit_1(database_url, tmp_path, capsys, setup, message):
    assert main(["--database", database_url, "load", str(setup(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_a_file_that_is_not_utf8_stops_the_load_before_any_file_is_loaded(database_url, tmp_path, capsys):
    folder = write(tmp_path / "in", departments=DEPARTMENTS, jobs=JOBS)
    (folder / "hired_employees.csv").write_bytes(b"1,Jos\xe9,2021-11-07T02:48:42Z,1,1\n")
    assert main(["--database", database_url, "load", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "hired_employees.csv: line 1: not UTF-8" in err and "nothing was loaded" in err and err.count("\n") == 1
    counts = databases.connect(database_url).counts()
    assert counts["departments"] == counts["jobs"] == 0


def test_a_load_the_database_stops_part_way_says_what_is_stored_and_how_to_finish(
    database_url, tmp_path, capsys, monkeypatch
):
    from chalicelib.loading import ingest

    lines = "".join(f"{i},N{i},2021-01-01T00:00:00Z,1,1\n" for i in range(1, 26))
    folder = write(tmp_path / "in", departments=DEPARTMENTS, jobs=JOBS)
    assert main(["--database", database_url, "load", str(folder)]) == 0
    real, calls = ingest.insert_candidates, []

    def failing_after_the_first_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise databases.DatabaseUnavailable("connection lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "insert_candidates", failing_after_the_first_chunk)
    path = write(tmp_path / "employees", hired_employees=lines) / "hired_employees.csv"
    assert main(["--database", database_url, "load", str(path), "--chunk-rows", "10"]) == 1
    err = capsys.readouterr().err
    assert "at line 11" in err and "10 records committed" in err and "load the same file again" in err
    monkeypatch.setattr(ingest, "insert_candidates", real)
    assert main(["--database", database_url, "load", str(path)]) == 0
    assert databases.connect(database_url).counts()["hired_employees"] == 25


def test_piped_output_has_no_progress_bar_and_no_traceback(tmp_path):
    folder = write(tmp_path / "in", departments=DEPARTMENTS, jobs=JOBS, hired_employees=EMPLOYEES)
    url = f"sqlite:///{tmp_path / 'hr.db'}"
    env = dict(os.environ, LOG_LEVEL="ERROR")
    subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "--database", url, "schema", "create"], cwd=ROOT, env=env, check=True
    )
    result = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "--database", url, "load", str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress, no log lines
    assert "\r" not in result.stdout and summary_rows(result.stdout)["hired_employees"] == (1, 2, 0, 1)


def test_a_terminal_gets_a_progress_bar_with_rows_and_bytes_per_second(tmp_path):
    folder = write(tmp_path / "in", departments=DEPARTMENTS)
    url = f"sqlite:///{tmp_path / 'hr.db'}"
    databases.connect(url).create_schema()
    # stderr is a pseudo-terminal: the bar is drawn there, and the summary still goes to stdout.
    leader, follower = pty.openpty()
    result = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "--database", url, "load", str(folder)],
        cwd=ROOT,
        env=dict(os.environ, LOG_LEVEL="ERROR"),
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
        timeout=120,
    )
    os.close(follower)
    drawn = os.read(leader, 65536).decode()
    os.close(leader)
    assert result.returncode == 0
    assert "\r" in drawn and "departments.csv" in drawn and "rows/s" in drawn and "/s" in drawn and "100%" in drawn
    assert "\r" not in result.stdout


def test_the_progress_line_shows_rates_and_only_draws_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert progress.for_stream(io.StringIO(), "x") is None
    bar = progress.for_stream(Tty(), "big.csv", total_records=1000, total_bytes=50_000)
    bar.started -= 2.0  # two seconds in
    bar(500, 25_000)
    line = bar.line(bar.started + 2.0)
    assert line.startswith("big.csv  [##########..........]  50%")
    assert "500 rows" in line and "250 rows/s" in line and "12.2 KB/s" in line and "ETA 2s" in line
