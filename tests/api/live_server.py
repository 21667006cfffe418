"""`chalice local --stage test` in a subprocess on a MySQL database: for the tests that need the real dev
server (its HTTP handling, its local gateway) rather than the in-process test client."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.common import free_port, serving

# What a developer's shell may hold for AWS that must not reach a local server.
AWS_STAGE_VARIABLES = ("DB_SECRET_ARN", "DB_HOST", "DB_NAME", "DATA_BUCKET", "GLUE_LOAD_JOB", "API_URL")
AWS_STAGE_VARIABLES += ("USAGE_PLAN_ID", "METER_CLIENTS")


@contextlib.contextmanager
def chalice_local(database_url: str, admin_database_url: str, backup_dir: Path) -> Iterator[str]:
    """The `test` stage (bootstrap key `test-key`) on `database_url` (the app user), `admin_database_url` for
    the schema routes; yields the base URL once /status answers, and stops the server after."""
    env = {k: v for k, v in os.environ.items() if k not in AWS_STAGE_VARIABLES}
    env.update(
        DATABASE_URL=database_url,
        ADMIN_DATABASE_URL=admin_database_url,
        BACKUP_DIR=str(backup_dir),
        LOG_LEVEL="CRITICAL",
        AWS_DEFAULT_REGION="us-east-1",
    )
    port = free_port()
    chalice = Path(sys.executable).with_name("chalice")
    command = [str(chalice), "local", "--stage", "test", "--host", "127.0.0.1", "--port", str(port), "--no-autoreload"]
    with serving(command, port, env) as url:
        yield url
