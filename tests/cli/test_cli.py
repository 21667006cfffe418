"""The command line: schema, samples, and errors as one line with a non-zero exit."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import db as databases
from chalicelib.cli.main import main
from chalicelib.rules.dictionary import HIRED_EMPLOYEES, TABLES
from chalicelib.rules.validation import check_fields

ROOT = Path(__file__).resolve().parents[2]


def test_schema_create_then_drop(database_url, admin_database_url, capsys):
    assert main(["--database", admin_database_url, "schema", "drop"]) == 0
    assert main(["--database", admin_database_url, "schema", "create"]) == 0
    assert main(["--database", admin_database_url, "schema", "create"]) == 0
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


def test_every_data_command_runs_as_the_app_user_over_tls_and_schema_changes_need_the_admin(
    mysql_db, mysql_url, tmp_path
):
    """The README's URL form (``?tls=true&ca=...``), as the app user, in a fresh interpreter."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "departments.csv").write_text("1,Sales\n2,HR\n")
    (folder / "jobs.csv").write_text("1,Engineer\n")
    (folder / "hired_employees.csv").write_text("1,Ann,2021-01-01T00:00:00Z,1,1\n2,Ben,2021-04-01T00:00:00Z,3,1\n")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "chalicelib.cli", "--database", mysql_url, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert "?tls=true&ca=" in mysql_url
    assert cli("load", "--no-progress", str(folder)).returncode == 0
    (tmp_path / "departments.csv").write_text("3,Legal\n")
    assert cli("load", "--no-progress", str(tmp_path / "departments.csv")).returncode == 0
    replayed = cli("replay")
    report = cli("report", "hires-by-quarter", "--year", "2021", "--format", "json")
    backup = cli("backup", "departments", "--to", str(tmp_path / "backups"))
    mysql_db.execute("DELETE FROM `hired_employees` WHERE id = 2")
    mysql_db.execute("DELETE FROM `departments` WHERE id = 3")
    [backup_folder] = (tmp_path / "backups").rglob("manifest.json")
    restore = cli("restore", "departments", "--from", str(backup_folder.parent))
    dropped = cli("schema", "drop")

    assert [p.returncode for p in (replayed, report, backup, restore)] == [0, 0, 0, 0], [
        p.stderr for p in (replayed, report, backup, restore)
    ]
    assert sorted(r["department"] for r in json.loads(report.stdout)) == ["Legal", "Sales"]  # Ben replayed
    assert mysql_db.query("SELECT id FROM `departments` ORDER BY id") == [(1,), (2,), (3,)]
    assert dropped.returncode == 1 and "denied" in dropped.stderr
    assert mysql_db.counts()["departments"] == 3
