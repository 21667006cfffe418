"""Build what the Glue jobs need besides their scripts: one zip for ``--extra-py-files``.

``python glue/build_package.py [OUT_DIR]`` writes ``OUT_DIR/hr_glue_libs.zip`` (default ``.local/glue``,
ignored by git) and copies of the three job scripts to upload under ``glue/`` in the bucket. The CDK
app builds its asset with `build_libs`, so there is one definition of what the jobs ship.

The zip holds the shared ``chalicelib`` modules the jobs import (the data dictionary, the data rules,
the backup layout and the MySQL backend), ``hrjobs``, and PyMySQL itself: the jobs run in subnets with
no internet, where ``--additional-python-modules`` could not download it. The PyMySQL copied is the
one installed here, checked against the pin in requirements.txt, so the jobs run the Lambda functions'
driver. The zip is reproducible (sorted entries, fixed timestamps): its asset hash changes only with
its content.
"""

from __future__ import annotations

import re
import shutil
import sys
import zipfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOB_SCRIPTS = ("load_csv.py", "backup_avro.py", "restore_avro.py")
SHARED = (
    "chalicelib/__init__.py",
    "chalicelib/rules",
    "chalicelib/backups/__init__.py",
    "chalicelib/backups/layout.py",
    "chalicelib/loading/__init__.py",
    "chalicelib/loading/bucket_layout.py",
    "chalicelib/reports/__init__.py",
    "chalicelib/reports/spreadsheet.py",  # rejected-rows reports neutralize formulas as the service's do
    "chalicelib/runtime/__init__.py",
    "chalicelib/runtime/settings.py",  # imported by the MySQL backend when credentials are refused
    "chalicelib/db",
)
DRIVER = "PyMySQL"


def pinned_version(project: str, requirements: Path = ROOT / "requirements.txt") -> str:
    pattern = re.compile(rf"^{re.escape(project)}==([^\s;#]+)", re.IGNORECASE)
    for line in requirements.read_text().splitlines():
        match = pattern.match(line.strip())
        if match:
            return match.group(1)
    raise RuntimeError(f"{requirements} does not pin {project}")


def driver_files() -> list[tuple[Path, str]]:
    """PyMySQL's modules and licence as installed, after checking the installed version is the pinned one."""
    pinned, installed = pinned_version(DRIVER), metadata.version(DRIVER)
    if installed != pinned:
        raise RuntimeError(f"{DRIVER} {installed} is installed but requirements.txt pins {pinned}: reinstall it")
    distribution = metadata.distribution(DRIVER)
    out = []
    for file in distribution.files or ():
        path = Path(str(distribution.locate_file(file)))
        if file.parts[0] == "pymysql" and file.suffix == ".py":
            out.append((path, file.as_posix()))
        elif file.name.upper().startswith("LICENSE"):
            out.append((path, f"pymysql/{file.name}"))
    return out


def library_files() -> list[tuple[Path, str]]:
    """(file on disk, name in the zip) for every module the jobs import."""
    out = []
    for entry in (*SHARED, "glue/hrjobs"):
        path = ROOT / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            name = file.relative_to(ROOT).as_posix()
            out.append((file, name.removeprefix("glue/")))
    return out + driver_files()


def build_libs(archive: Path) -> Path:
    """Write the ``--extra-py-files`` zip to `archive`, reproducibly."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    files = {name: path for path, name in library_files()}
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name].read_bytes())
    return archive


def build(out_dir: Path) -> Path:
    """The zip and the job scripts, side by side in `out_dir`, ready to upload."""
    archive = build_libs(out_dir / "hr_glue_libs.zip")
    for script in JOB_SCRIPTS:
        shutil.copy2(ROOT / "glue" / script, out_dir / script)
    return archive


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".local" / "glue"))
