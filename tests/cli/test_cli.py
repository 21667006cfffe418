"""The command line: schema, samples, and errors as one line with a non-zero exit."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import db as databases
from chalicelib.cli.main import main
from chalicelib.rules.dictionary import HIRED_EMPLOYEES, TABLES
from chalicelib.rules.validation import check_fields

ROOT = Path(__file__).resolve().parents[2]


def test_schema_create_then_drop(database_url, capsys):
    assert main(["--database", database_url, "schema", "drop"]) == 0
    assert main(["--database", database_url, "schema", "create"]) == 0
    assert main(["--database", database_url, "schema", "create"]) == 0
    assert databases.connect(database_url).counts()["departments"] == 0
    assert "schema created" in capsys.readouterr().out


@pytest.mark.parametrize("url", ["postgres://db/x", "sqlite:///"])
def test_a_bad_database_url_is_one_line_and_exit_1(url, capsys):
    assert main(["--database", url, "schema", "create"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_an_unreachable_database_is_one_line_and_exit_1(capsys):
    assert main(["--database", "mysql://root@127.0.0.1:1/x", "replay"]) == 1
    assert capsys.readouterr().err.startswith("error: database: ")


def test_no_traceback_reaches_the_user_from_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "--database", "mysql://root@127.0.0.1:1/x", "schema", "create"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_samples_are_headerless_csvs_with_a_few_broken_rows(tmp_path):
    assert main(["samples", "--out", str(tmp_path), "--employees", "500", "--broken", "0.05"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.csv" for name in TABLES)
    rows = list(csv.reader((tmp_path / "hired_employees.csv").open(encoding="utf-8")))
    assert len(rows) == 500 and rows[0][0] == "1"  # no header: the first line is data
    broken = [r for r in rows if check_fields(HIRED_EMPLOYEES, r)[0] is None]
    assert 5 <= len(broken) <= 60


def test_the_repository_sample_set_is_what_the_generator_makes(tmp_path):
    main(["samples", "--out", str(tmp_path)])
    for name in TABLES:
        assert (tmp_path / f"{name}.csv").read_bytes() == (ROOT / "samples" / f"{name}.csv").read_bytes()
