"""Running the CLI's `clients` commands in-process, and settings without a bootstrap key."""

from __future__ import annotations

from chalicelib.cli.main import main
from chalicelib.runtime.settings import Settings

NO_BOOTSTRAP = Settings.from_env({})


def run(database_url: str, capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(["--database", database_url, *argv])
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).strip().splitlines()
