"""Where loads read and write in the data bucket; shared by the S3 loader, the CLI and the Glue load job.

``incoming/<table>/<name>.csv`` (or ``incoming/<table>.csv``) is loaded; a load with many rejections
writes its rejected-rows report as ``rejected/<same path, .rejected.csv>`` (the CLI: beside the file).
Standard library only: the Glue jobs import it.
"""

from __future__ import annotations

import posixpath

INCOMING = "incoming/"
REJECTED = "rejected/"
REPORT_SUFFIX = ".rejected.csv"


def report_name(filename: str) -> str:
    """The report's file name for a source file: ``hired_employees.csv`` -> ``hired_employees.rejected.csv``."""
    base = posixpath.basename(filename.replace("\\", "/"))
    stem = base[: -len(".csv")] if base.lower().endswith(".csv") else base
    return stem + REPORT_SUFFIX


def is_report(filename: str) -> bool:
    return filename.lower().endswith(REPORT_SUFFIX)


def report_path(incoming_path: str) -> str:
    """A report's path under ``rejected/`` for a source's path under ``incoming/``:
    ``hired_employees/2021.csv`` -> ``hired_employees/2021.rejected.csv``."""
    folder, _, name = incoming_path.rpartition("/")
    return (folder + "/" if folder else "") + report_name(name)
