"""The --extra-py-files zip holds every module the jobs import, and runs them from the zip alone."""

import subprocess
import sys
import zipfile

import build_package as package


def test_zip_holds_the_shared_modules_and_the_jobs_import_from_it(tmp_path):
    archive = package.build(tmp_path)
    names = set(zipfile.ZipFile(archive).namelist())

    assert {
        "chalicelib/rules/dictionary.py",
        "chalicelib/rules/validation.py",
        "chalicelib/backups/layout.py",
        "chalicelib/db/mysql.py",
        "hrjobs/rows.py",
        "hrjobs/avro_io.py",
        "chalicelib/runtime/settings.py",
        "pymysql/connections.py",
    } <= names
    assert not any(name.startswith(("glue/", "tests/")) or name.endswith("app.py") for name in names)
    for script in package.JOB_SCRIPTS:
        # Glue runs the script with the zip on sys.path and nothing of the repository.
        code = (
            f"import sys; sys.path[:0] = [{str(archive)!r}]; import runpy; "
            f"runpy.run_path({str(tmp_path / script)!r}, run_name='job')"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
        )
        assert result.returncode == 0, result.stderr
