"""Reading and writing the rows of the dictionary's tables: by id, by page, all of them (for a backup),
inserting (row by row or in bulk, staged ahead), deleting, counting.

Relies on the core's `q`, `placeholder`, `_cols`, `_marks`, `_encode`/`_decode`, `encode_rows`,
`_where_in`, `_keyset`, `_epoch_seconds_sql` and `_query_many_rows`, and on the summary's
`after_insert`/`after_delete` hooks, which every write here calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from chalicelib.db.core import IN_CHUNK, retried_read
from chalicelib.db.errors import IntegrityConflict, ReferencedRow
from chalicelib.db.rejections import REJECTIONS
from chalicelib.db.staging import StagedRows, id_runs
from chalicelib.db.summary import SummaryUpkeep, quarterly_counts, quarterly_counts_of_seconds
from chalicelib.rules.dictionary import DATETIME, LOAD_ORDER, Table

DENSE_SPAN = 4  # `stored_rows` scans an id range when it is at most this many times the ids wanted
EXPORT_BATCH = 50000  # rows per keyset batch of a backup


class RowSql(SummaryUpkeep):
    """The rows of the dictionary's tables."""

    def stored_rows(self, table: Table, ids: Iterable[int]) -> dict[int, tuple]:
        """The stored rows among `ids`, by id."""
        wanted = ids if isinstance(ids, (set, frozenset)) else set(ids)
        if not wanted:
            return {}
        low, high = min(wanted), max(wanted)
        if len(wanted) > IN_CHUNK and high - low < DENSE_SPAN * len(wanted):
            return self._stored_rows_in_range(table, wanted, low, high)
        rows = self._where_in(f"SELECT {self._cols(table)} FROM {self.q(table.name)}", table.key, sorted(wanted))
        return {decoded[0]: decoded for decoded in (self._decode(table, row) for row in rows)}

    def _stored_rows_in_range(self, table: Table, wanted: set[int], low: int, high: int) -> dict[int, tuple]:
        # A file's chunk holds mostly consecutive ids: one range scan reads at most DENSE_SPAN rows
        # per id and costs one round trip instead of one per IN_CHUNK ids.
        sql = (
            f"SELECT {self._cols(table)} FROM {self.q(table.name)} "
            f"WHERE {self.q(table.key)} BETWEEN {self.placeholder} AND {self.placeholder}"
        )
        out: dict[int, tuple] = {}
        for row in self.query(sql, [low, high]):
            decoded = self._decode(table, row)
            if decoded[0] in wanted:
                out[decoded[0]] = decoded
        return out

    def existing_ids(self, table: Table, ids: Iterable[int]) -> set[int]:
        """The ids among `ids` that exist in `table`."""
        rows = self._where_in(f"SELECT {self.q(table.key)} FROM {self.q(table.name)}", table.key, list(ids))
        return {r[0] for r in rows}

    @retried_read
    def get_row(self, table: Table, key: int, lock: bool = False) -> tuple | None:
        """The row with id `key`, or None; `lock`: locked against other writers until the transaction ends."""
        rows = self.query(
            f"SELECT {self._cols(table)} FROM {self.q(table.name)} WHERE {self.q(table.key)} = {self.placeholder}"
            + (self._for_update if lock else ""),
            [key],
        )
        return self._decode(table, rows[0]) if rows else None

    @retried_read
    def list_rows(self, table: Table, after: int = 0, limit: int = 100) -> list[tuple]:
        """Rows with id greater than `after`, in id order (keyset pagination)."""
        sql = (
            f"SELECT {self._cols(table)} FROM {self.q(table.name)} WHERE {self.q(table.key)} > {self.placeholder} "
            f"ORDER BY {self.q(table.key)} LIMIT {self.placeholder}"
        )
        return [self._decode(table, r) for r in self.query(sql, [after, limit])]

    def iter_rows(self, table: Table, batch: int = 10000) -> Iterator[tuple]:
        """Every row of `table` in id order, fetched in keyset-paginated batches (bounded memory)."""
        return self._keyset(lambda after, limit: self.list_rows(table, after, limit), batch)

    def export_rows(self, table: Table, batch: int = EXPORT_BATCH) -> Iterator[tuple]:
        """Every row of `table` in id order, fetched in keyset batches (bounded memory); datetime
        columns as whole seconds since 1970-01-01 UTC (for a backup, read in `snapshot()`: the server
        converts them, which is several times cheaper than building datetime objects in the driver)."""
        cols = ", ".join(
            f"{self._epoch_seconds_sql(self.q(c.name))} AS {self.q(c.name)}" if c.type == DATETIME else self.q(c.name)
            for c in table.columns
        )
        key = self.q(table.key)
        sql = (
            f"SELECT {cols} FROM {self.q(table.name)} WHERE {key} > {self.placeholder} "
            f"ORDER BY {key} LIMIT {self.placeholder}"
        )

        def fetch(after: int, limit: int) -> list:
            rows = self._query_many_rows(sql, [after, limit], table.column_names)
            rows.sort(key=itemgetter(0))  # a packed answer (see _query_many_rows) need not keep the order
            return rows

        return self._keyset(fetch, batch)

    @retried_read
    def counts(self) -> dict[str, int]:
        """Row count per table of the dictionary, and of the rejection log."""
        out = {}
        for name in (*LOAD_ORDER, REJECTIONS):
            out[name] = self.query(f"SELECT COUNT(*) FROM {self.q(name)}")[0][0]
        return out

    # -- writes ---------------------------------------------------------------------------------

    def insert_rows(self, table: Table, rows: Sequence[Sequence[Any]], staged: StagedRows | None = None) -> None:
        """Insert typed rows (dictionary order). Raises IntegrityConflict on a key or reference clash.
        (`staged`: as for `bulk_insert`.)"""
        if not rows:
            return
        sql = f"INSERT INTO {self.q(table.name)} ({self._cols(table)}) VALUES ({self._marks(len(table.columns))})"
        self.executemany(sql, self.encode_rows(table, rows))
        self.after_insert(table, rows, staged)

    def bulk_insert(self, table: Table, rows: Sequence[Sequence[Any]], staged: StagedRows | None = None) -> None:
        """Insert many typed rows as fast as the backend can, in the caller's transaction.

        Same contract as `insert_rows` (all or nothing, IntegrityConflict on a clash that slipped past
        classification, `after_insert` called with the rows); the file loader uses it for its chunks.
        `staged` is `stage_rows` of these rows or of a superset of them (a chunk's rows before
        classification took some out): it is used when it holds as many rows as `rows`, the same ones.
        """
        self.insert_rows(table, rows, staged)

    def stage_rows(self, table: Table, rows: Sequence[Sequence[Any]], restored: bool = False) -> StagedRows:
        """Typed rows made ready for `bulk_insert` (the file loader) or, `restored`, for
        `_load_restored_rows` (a restore: datetimes are whole seconds since 1970 UTC), with what the write
        needs to know of them. Uses no connection and no shared state: callers stage on another thread,
        ahead of the transaction, so that work overlaps the database's."""
        return self._described(table, StagedRows(len(rows), rows), rows, restored)

    def stage_lines(self, table: Table, chunk: Any) -> StagedRows:
        """`stage_rows` of the valid rows of a `loading.lines.LineChunk` (a backend may stage its lines'
        text directly: MySQL does)."""
        return self.stage_rows(table, chunk.rows())

    @staticmethod
    def _described(table: Table, staged: StagedRows, rows: Sequence[Sequence[Any]], restored: bool) -> StagedRows:
        """`staged` with what is known of its `rows` filled in (see StagedRows). Only `replace_tables`
        reads the keys and referenced values (the loader has them from `validation.lookups`)."""
        if restored:
            staged.named = {c.name: {row[i] for row in rows} for i, c in enumerate(table.columns) if c.references}
            keys = [row[0] for row in rows]
            staged.key_runs = id_runs(keys)
            if sum(last - first + 1 for first, last in staged.key_runs) != len(keys):
                staged.key_runs = None
        if table.name == "hired_employees":
            staged.quarterly = (quarterly_counts_of_seconds if restored else quarterly_counts)(rows)
        return staged

    def delete_row(self, table: Table, key: int) -> tuple | None:
        """Delete one row and return it; None when there was none. Raises ReferencedRow when other
        rows name it. Of concurrent deletes of one row exactly one gets it (the others None), so the
        summary is lowered once."""

        def unit() -> tuple | None:
            row = self.get_row(table, key, lock=True)
            if row is None:
                return None
            try:
                cur = self.execute(
                    f"DELETE FROM {self.q(table.name)} WHERE {self.q(table.key)} = {self.placeholder}", [key]
                )
            except (IntegrityConflict, ReferencedRow) as exc:
                raise ReferencedRow(f"{table.name} {key} is referenced by other rows") from exc
            if cur.rowcount != 1:
                return None  # a concurrent delete took it between the read and the delete
            self.after_delete(table, [row])
            return row

        return self.run(unit)
