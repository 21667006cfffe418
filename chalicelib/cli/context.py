"""What every command works on: the database `--database` (or DATABASE_URL) names, and the one-line error."""

from __future__ import annotations

import os

from chalicelib import db as databases
from chalicelib.runtime.settings import DEFAULT_LOCAL_DATABASE


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 1."""


def _database(args) -> databases.Database:
    url = args.database or os.environ.get("DATABASE_URL") or DEFAULT_LOCAL_DATABASE
    try:
        return databases.connect(url)
    except databases.InvalidDatabaseUrl as exc:
        raise CliError(str(exc)) from None
