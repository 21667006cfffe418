"""What each kind of job does, with its progress observed and its cancellation honoured.

The work is the same code the CLI and the old synchronous routes ran (`backups.create_backup`,
`restores.restore`, `ingest.replay_rejections`); it sees the database through `ObservedDatabase`,
which counts the rows that pass and stops the work between chunks when the job must stop. A restore
stopped that way raises inside its one transaction, so the table is left as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from chalicelib.backups import restore as restores
from chalicelib.backups import service as backups
from chalicelib.db import Database
from chalicelib.db.errors import TooScattered
from chalicelib.db.rows import EXPORT_BATCH
from chalicelib.jobs.model import BACKUP, REPLAY, RESTORE
from chalicelib.loading import ingest
from chalicelib.rules.dictionary import table as dictionary_table

_COUNT_EVERY = 5_000  # rows read by a backup between two looks at whether to stop


class JobStopped(Exception):
    """The job must stop: cancelled by a user, or taken from this worker (marked failed meanwhile)."""

    def __init__(self, reason: str, cancelled: bool):
        super().__init__(reason)
        self.cancelled = cancelled


class Progress:
    """Rows done so far, and whether to stop: written by the work's thread, read by the heartbeat's."""

    def __init__(self) -> None:
        self.rows_done = 0
        self._stop: JobStopped | None = None
        self._lock = threading.Lock()

    def advance(self, rows: int) -> None:
        self.rows_done += rows
        self.check()

    def check(self) -> None:
        if self._stop is not None:
            raise self._stop

    def stop(self, reason: str, cancelled: bool) -> None:
        with self._lock:
            if self._stop is None:
                self._stop = JobStopped(reason, cancelled)

    @property
    def stopping(self) -> bool:
        return self._stop is not None


class ObservedDatabase:
    """`db` as the backup, restore and replay code uses it, reporting to `progress` as rows pass:
    a backup's exported rows, a restore's loaded chunks, a replay's chunks of the rejection log."""

    def __init__(self, db: Database, progress: Progress):
        self._db, self._progress = db, progress

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    def export_rows(self, table, batch: int = EXPORT_BATCH) -> Iterator[tuple]:
        pending = 0
        for row in self._db.export_rows(table, batch):
            yield row
            pending += 1
            if pending == _COUNT_EVERY:
                self._progress.advance(pending)
                pending = 0
        self._progress.advance(pending)

    def replace_tables(self, contents: Mapping[Any, Iterable], merge: bool = True) -> dict[str, int]:
        start = self._progress.rows_done  # a restore retried without merging counts from the start again

        def observed(chunks: Iterable) -> Iterator:
            for chunk in chunks:
                yield chunk
                self._progress.advance(len(chunk))

        try:
            return self._db.replace_tables({t: observed(c) for t, c in contents.items()}, merge=merge)
        except TooScattered:
            self._progress.rows_done = start
            raise

    def list_rejections(self, *args, **kwargs):
        self._progress.check()
        entries = self._db.list_rejections(*args, **kwargs)
        self._progress.advance(len(entries))
        return entries


def run_backup(db: Database, params: dict, env: Mapping[str, str]) -> dict:
    settings = backups.BackupSettings.from_env(env)
    if params.get("scheduled"):
        return backups.scheduled_backup(db, settings)
    tables = backups.tables_named(params.get("tables"))
    return backups.summary(backups.create_backup(db, settings.store(), tables, source=params.get("source", "api")))


def run_restore(db: Database, params: dict, env: Mapping[str, str]) -> dict:
    store = backups.BackupSettings.from_env(env).store()
    table = dictionary_table(params["table"])
    return restores.restore(db, store, params["backup"], table, with_dependents=bool(params.get("with_dependents")))


def run_replay(db: Database, params: dict, env: Mapping[str, str]) -> dict:
    return ingest.replay_rejections(db, params.get("tables"), source=params.get("source")).to_dict()


WORK: dict[str, Callable[[Database, dict, Mapping[str, str]], dict]] = {
    BACKUP: run_backup,
    RESTORE: run_restore,
    REPLAY: run_replay,
}


def rows_expected(db: Database, kind: str, params: dict) -> int | None:
    """The rows a job will go through, counted by the worker when the request did not (big tables)."""
    if kind == BACKUP:
        counts = db.counts()
        names = params.get("tables") or [t.name for t in backups.tables_named(None)]
        return sum(counts[name] for name in names)
    if kind == REPLAY and not params.get("tables") and params.get("source") is None:
        return db.counts()["rejections"]
    return None
