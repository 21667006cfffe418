"""Build what the Glue jobs need besides their scripts: one zip for ``--extra-py-files``.

``python glue/build_package.py [OUT_DIR]`` writes ``OUT_DIR/hr_glue_libs.zip`` (default ``.local/glue``, ignored by git)
holding the shared ``chalicelib`` modules the jobs import (the data dictionary, the data rules, the
backup layout and the MySQL backend) and ``hrjobs``, plus copies of the three job scripts to upload
under ``glue/`` in the bucket. pymysql comes from ``--additional-python-modules``.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOB_SCRIPTS = ("load_csv.py", "backup_avro.py", "restore_avro.py")
SHARED = (
    "chalicelib/__init__.py",
    "chalicelib/dictionary.py",
    "chalicelib/validation.py",
    "chalicelib/backup_layout.py",
    "chalicelib/settings.py",  # imported by the MySQL backend when credentials are refused
    "chalicelib/db",
)
# Pinned as in requirements.txt; the jobs pass it as --additional-python-modules.
ADDITIONAL_PYTHON_MODULES = "PyMySQL==1.2.4"


def library_files() -> list[tuple[Path, str]]:
    """(file on disk, name in the zip) for every module the jobs import."""
    out = []
    for entry in (*SHARED, "glue/hrjobs"):
        path = ROOT / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            name = file.relative_to(ROOT).as_posix()
            out.append((file, name.removeprefix("glue/")))
    return out


def build(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / "hr_glue_libs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for file, name in library_files():
            zf.write(file, name)
    for script in JOB_SCRIPTS:
        shutil.copy2(ROOT / "glue" / script, out_dir / script)
    return archive


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".local" / "glue"))
