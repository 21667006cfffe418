"""MySQL: a table's secondary keys (indexes and foreign keys), and loading an empty table with them
deferred: dropped before a large first load and built again after it in one ALTER, which costs less
than keeping three indexes up to date row by row.

DDL is not transactional, so the deferral is recorded first, durably, as a row of `KEYS_DEFERRED`,
and every step after it can be redone: `restore_deferred_keys` adds whichever of the table's keys are
missing and then removes the row. The loader runs it before each load and `schema create` runs it too,
so a load killed between the drop and the rebuild leaves the keys missing only until the next load or
`schema create`. A named lock, held by the loading connection for the whole deferral, keeps a second
loader off the path, and tells the recovery that a deferral is in progress rather than abandoned.

While the keys are deferred, the reports' summary is not kept up per chunk either: it is rebuilt while
the keys are built, so it lags the rows of a first load until the load ends.

Relies on the core's `q`, `query`, `execute` and `database`, the summary's `after_insert` and
`rebuild_derived`, and the restore engine's `missing_references`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from chalicelib.db.errors import DatabaseError
from chalicelib.db.staging import StagedRows
from chalicelib.rules.dictionary import DATETIME, TABLES, Column, Table

try:  # the service's structured log; the Glue jobs ship this module without it (and without Powertools)
    from chalicelib.runtime.log import logger
except ImportError:  # in the Glue package (tests/glue/test_package.py runs it)
    import logging

    logger = logging.getLogger(__name__)

KEYS_DEFERRED = "keys_deferred"
ALTER_HEAD_START = 0.2  # seconds the key-building ALTER gets to take its lock before the summary's read


def _named(database: str, table: str) -> str:
    return f"hr-keys:{database}.{table}"[:64]  # MySQL's limit on a lock name


class DeferredKeys:
    """The secondary keys of the dictionary's tables, and deferring them for a load (MySQL)."""

    def secondary_keys(self, table: Table) -> list[tuple[str, str, str]]:
        """(kind, name, definition) of `table`'s keys besides the primary key: an index on each
        referencing and each datetime column, a foreign key per reference."""

        def index(column: Column) -> tuple[str, str, str]:
            return ("index", f"ix_{column.name}", f"KEY {self.q(f'ix_{column.name}')} ({self.q(column.name)})")

        keys = []
        for column in table.references:
            name = f"fk_{table.name}_{column.name}"
            foreign = f"FOREIGN KEY ({self.q(column.name)}) REFERENCES {self.q(column.references)} ({self.q('id')})"
            keys += [index(column), ("foreign", name, f"CONSTRAINT {self.q(name)} {foreign}")]
        keys += [index(column) for column in table.columns if column.type == DATETIME]
        return keys

    def _keys_deferred_ddl(self) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {self.q(KEYS_DEFERRED)} ({self.q('table_name')} VARCHAR(64) NOT NULL "
            f"PRIMARY KEY, {self.q('since')} DATETIME NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        )

    def _present_keys(self, table: Table) -> set[str]:
        indexes = self.query(
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            [table.name],
        )
        foreign = self.query(
            "SELECT CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND CONSTRAINT_TYPE = 'FOREIGN KEY'",
            [table.name],
        )
        return {name for (name,) in (*indexes, *foreign)}

    def _lock(self, table: Table) -> bool:
        return self.query("SELECT GET_LOCK(%s, 0)", [_named(self.database, table.name)])[0][0] == 1

    def _unlock(self, table: Table) -> None:
        self.query("SELECT RELEASE_LOCK(%s)", [_named(self.database, table.name)])

    @contextlib.contextmanager
    def keys_deferred(self, table: Table) -> Iterator[bool]:
        """Within the block, `table` has its primary key only, if it is empty, has secondary keys and no
        other loader is deferring them (yields True); else nothing changes (yields False). The keys
        are built again when the block ends, however it ends; if the process dies first, the next
        `restore_deferred_keys` builds them."""
        if not self.secondary_keys(table) or not self._lock(table):
            yield False
            return
        try:
            deferred = self._defer(table)
            if deferred:
                self.summary_owed.add(table.name)
            try:
                yield deferred
            finally:
                if deferred:
                    self.summary_owed.discard(table.name)
                    self._restore(table, beside=True)
        finally:
            self._unlock(table)

    @property
    def summary_owed(self) -> set[str]:
        """Tables this process is loading with their keys deferred. Their share of the reports' summary
        is neither counted nor upserted chunk by chunk (an upsert per chunk costs the server about as
        much as 10,000 rows): the summary is rebuilt with the keys, so it lags the load's rows."""
        return self.__dict__.setdefault("_summary_owed", set())

    def after_insert(self, table: Table, rows: Sequence[Sequence[Any]], staged: StagedRows | None = None) -> None:
        if table.name not in self.summary_owed:
            super().after_insert(table, rows, staged)

    def _defer(self, table: Table) -> bool:
        try:
            if self.query(f"SELECT 1 FROM {self.q(table.name)} LIMIT 1"):
                return False
            self._restore(table)  # an earlier deferral of this table that did not finish
            self.execute(
                f"INSERT INTO {self.q(KEYS_DEFERRED)} ({self.q('table_name')}, {self.q('since')}) "
                "VALUES (%s, UTC_TIMESTAMP())",
                [table.name],
            )
        except DatabaseError as exc:  # an older schema without the record, or no right to ALTER: no deferral
            logger.info("keys not deferred", extra={"table": table.name, "why": str(exc)})
            return False
        drops = [
            f"DROP FOREIGN KEY {self.q(name)}" if kind == "foreign" else f"DROP KEY {self.q(name)}"
            for kind, name, _ in self.secondary_keys(table)
        ]
        try:
            self.execute(f"ALTER TABLE {self.q(table.name)} {', '.join(drops)}")
        except DatabaseError as exc:  # e.g. no right to ALTER: the keys stay, the record goes
            logger.info("keys not deferred", extra={"table": table.name, "why": str(exc)})
            self._restore(table)
            return False
        return True

    def _restore(self, table: Table, beside: bool = False) -> bool:
        """Add `table`'s missing secondary keys (in one ALTER), rebuild the reports' summary, then remove
        its deferral record. True when a deferral was recorded. Foreign keys are added without a
        row-by-row check (the rows were loaded through the rules): their references are checked once,
        after, with the indexes in place. `beside`: the ALTER runs on a connection of its own while this
        one rebuilds the summary (the server builds the indexes on one core, counts on the other)."""
        recorded = self.query(f"SELECT 1 FROM {self.q(KEYS_DEFERRED)} WHERE {self.q('table_name')} = %s", [table.name])
        if not recorded:
            return False
        present = self._present_keys(table)
        adds = [f"ADD {definition}" for _, name, definition in self.secondary_keys(table) if name not in present]
        if adds and beside:
            failed: list[BaseException] = []
            builder = threading.Thread(target=self._add_keys, args=(table, adds, failed), name=f"keys-{table.name}")
            builder.start()
            # The ALTER takes the table's metadata lock first; the summary's read then runs beside it.
            time.sleep(ALTER_HEAD_START)
            try:
                self.rebuild_derived()
            finally:
                builder.join()
            if failed:
                raise failed[0]
        else:
            if adds:
                self._add_keys(table, adds)
            self.rebuild_derived()
        self.execute(f"DELETE FROM {self.q(KEYS_DEFERRED)} WHERE {self.q('table_name')} = %s", [table.name])
        missing = {
            column.name: self.missing_references(table, column.name, TABLES[column.references], limit=10)
            for column in table.references
        }
        missing = {name: ids for name, ids in missing.items() if ids}
        if missing:
            # A referenced row was deleted while the foreign keys were away (see docs/loading.md).
            logger.error("references broken during a deferred-keys load", extra={"table": table.name, "ids": missing})
            raise DatabaseError(f"{table.name}: keys rebuilt, but rows name ids that no longer exist: {missing}")
        return True

    def _add_keys(self, table: Table, adds: list[str], failed: list[BaseException] | None = None) -> None:
        """One ALTER adding `adds` to `table`, foreign keys unchecked row by row (see `_restore`); with
        `failed`, on a connection of this thread's own, closed after, and a failure kept in `failed`."""
        try:
            self._suspend_reference_checks()
            try:
                self.execute(f"ALTER TABLE {self.q(table.name)} {', '.join(adds)}")
            finally:
                self._resume_reference_checks()
        except BaseException as exc:
            if failed is None:
                raise
            failed.append(exc)
        finally:
            if failed is not None:
                self._discard()

    def restore_deferred_keys(self) -> list[str]:
        """Build the keys of every table whose deferral was recorded and is not in progress (no
        connection holds its lock): a load that died between dropping and rebuilding them. Returns the
        tables repaired."""
        try:
            recorded = [name for (name,) in self.query(f"SELECT {self.q('table_name')} FROM {self.q(KEYS_DEFERRED)}")]
        except DatabaseError:
            return []  # a schema from before the record: nothing was ever deferred
        repaired = []
        for name in recorded:
            table = TABLES.get(name)
            if table is None or not self._lock(table):
                continue
            try:
                if self._restore(table):
                    repaired.append(name)
                    logger.warning("keys of an interrupted load rebuilt", extra={"table": name})
            finally:
                self._unlock(table)
        return repaired
