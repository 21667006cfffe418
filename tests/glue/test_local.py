"""`python -m glue.local`: a Glue job on a local SparkSession against a database URL, with plain paths."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from glue import local
from tests.glue.conftest import ROOT


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["copy_all", "--database", "mysql://u@h/db"], "unknown job 'copy_all'; expected one of: load_csv,"),
        (["load_csv", "--database", "mysql://u@127.0.0.1/db"], "load_csv needs --SOURCE"),
        (["restore_avro", "--database", "mysql://u@127.0.0.1/db", "--TABLE", "jobs"], "restore_avro needs --BACKUP"),
        (
            ["load_csv", "--database", "mysql://u@h/db", "--SOURCE", "x.csv", "--SOURSE", "y"],
            "takes no argument '--SOURSE'",
        ),
        (["load_csv", "--database", "sqlite:///x.db", "--SOURCE", "x.csv"], "expected mysql://user:password@host"),
        (["load_csv", "--SOURCE", "x.csv"], "no database: pass --database"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message):
    done = subprocess.run(
        [sys.executable, "-m", "glue.local", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert done.stdout == ""


def test_an_unreachable_database_exits_1_before_spark_starts():
    done = subprocess.run(
        [sys.executable, "-m", "glue.local", "load_csv", "--database", "mysql://u@127.0.0.1:1/db", "--SOURCE", "x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("glue.local: cannot reach the database at 127.0.0.1:1:")
    assert done.stderr.count("\n") == 1


def test_each_job_runs_from_a_url_and_local_paths(spark, target, sql, tmp_path, capsys, monkeypatch):
    url = target.login.url()
    (tmp_path / "incoming").mkdir()
    (tmp_path / "incoming" / "jobs.csv").write_text("1,Engineer\n2,Analyst\n2,Twice\n")
    monkeypatch.chdir(tmp_path)  # relative paths are the user's, from where they run the command

    def run(*argv: str) -> dict:
        assert local.main([argv[0], "--database", url, *argv[1:]], spark) == 0
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    loaded = run("load_csv", "--SOURCE", "incoming/jobs.csv")
    backed_up = run("backup_avro", "--BACKUP_ROOT", "bucket/", "--TABLES", "jobs", "--BACKUP_ID", "b1")
    sql("DELETE FROM jobs")
    restored = run("restore_avro", "--TABLE", "jobs", "--BACKUP", "bucket/backups/b1/")

    [file] = loaded["files"]
    assert (loaded["job"], file["inserted"], file["rejected"]) == ("load_csv", 2, 1)
    assert file["rejected_report"] == (tmp_path / "rejected/jobs.rejected.csv").as_uri()
    assert backed_up["manifest"]["tables"]["jobs"]["rows"] == 2
    assert restored["rows"] == 2
    assert sql("SELECT id, job FROM jobs ORDER BY id") == [(1, "Engineer"), (2, "Analyst")]


def test_a_failing_job_exits_1_with_its_reason(spark, target, tmp_path, capsys):
    missing = tmp_path / "incoming" / "jobs.csv"

    assert local.main(["load_csv", "--database", target.login.url(), "--SOURCE", str(missing)], spark) == 1

    err = capsys.readouterr().err
    assert err.startswith("glue.local: load_csv failed:") and str(missing) in err
