"""MySQL: a table's secondary keys (indexes and foreign keys), and loading an empty table with them
deferred: dropped before a large first load and built again after it in one ALTER, which costs less
than keeping three indexes up to date row by row.

DDL is not transactional, so the deferral is recorded first, durably, as a row of `KEYS_DEFERRED`,
and every step after it can be redone: `restore_deferred_keys` adds whichever of the table's keys are
missing and then removes the row. The loader runs it before each load and `schema create` runs it too,
so a load killed between the drop and the rebuild leaves the keys missing only until the next load or
`schema create`. A named lock, held by the loading connection for the whole deferral, keeps a second
loader off the path, and tells the recovery that a deferral is in progress rather than abandoned.

While the keys are deferred, the reports' summary is not written per chunk either: the load's counts
are added with the keys (the recovery rebuilds the summary), so it lags the rows of a first load until
the load ends.

Relies on the core's `q`, `query`, `execute` and `database`, the summary's `after_insert` and
`rebuild_derived`, and the restore engine's `missing_references`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from chalicelib.db.errors import DatabaseError
from chalicelib.db.staging import StagedRows
from chalicelib.db.summary import QuarterlyCounts, add_quarterly_counts, quarterly_counts
from chalicelib.rules.dictionary import DATETIME, TABLES, Column, Table
from chalicelib.runtime.log import logger

KEYS_DEFERRED = "keys_deferred"


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
                self._owed()[table.name] = ({}, [])
            completed = False
            try:
                yield deferred
                completed = True
            finally:
                if deferred:
                    committed, _ = self._owed().pop(table.name)
                    # Counted as the chunks committed; after a failure, recounted from the table.
                    self._restore(table, committed if completed else None)
        finally:
            self._unlock(table)

    def _owed(self) -> dict[str, tuple[QuarterlyCounts, list[QuarterlyCounts]]]:
        """Per table loading with its keys deferred: its rows' share of the reports' summary, committed
        and in the open transaction. Not written chunk by chunk (an upsert per chunk costs the server
        about as much as the chunk's rows) but once, with the keys: the summary lags the load's rows."""
        return self.__dict__.setdefault("_summary_owed", {})

    def after_insert(self, table: Table, rows: Sequence[Sequence[Any]], staged: StagedRows | None = None) -> None:
        owed = self._owed().get(table.name)
        if owed is None:
            super().after_insert(table, rows, staged)
        elif rows:
            staged = StagedRows.holding(staged, rows)
            owed[1].append(
                staged.quarterly if staged is not None and staged.quarterly is not None else quarterly_counts(rows)
            )

    def _commit(self, conn: Any) -> None:
        super()._commit(conn)
        for committed, pending in self._owed().values():
            for counts in pending:
                add_quarterly_counts(committed, counts)
            pending.clear()

    def _roll_back(self, conn: Any, exc: BaseException) -> None:
        for _, pending in self._owed().values():
            pending.clear()
        super()._roll_back(conn, exc)

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

    def _restore(self, table: Table, summary: QuarterlyCounts | None = None) -> bool:
        """Add `table`'s missing secondary keys (in one ALTER), add the load's `summary` to the reports'
        summary (None: rebuild it from the tables), then remove its deferral record. True when
        a deferral was recorded. Foreign keys are added without a row-by-row check (the rows were
        loaded through the rules): their references are checked once, after, with the indexes in place."""
        recorded = self.query(f"SELECT 1 FROM {self.q(KEYS_DEFERRED)} WHERE {self.q('table_name')} = %s", [table.name])
        if not recorded:
            return False
        present = self._present_keys(table)
        adds = [f"ADD {definition}" for _, name, definition in self.secondary_keys(table) if name not in present]
        if adds:
            self._suspend_reference_checks()
            try:
                self.execute(f"ALTER TABLE {self.q(table.name)} {', '.join(adds)}")
            finally:
                self._resume_reference_checks()
        if summary is None:
            self.rebuild_derived()  # the summary a deferred load did not keep up: recounted
        elif summary:
            with self.transaction():
                self._add_quarterly_hires(summary, sign=1)
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
