"""Creating and dropping the service's tables. Each backend writes its own DDL (`_schema_statements`);
the summary table's is in summary.py, the rejection log's columns in rejections.py.

Relies on the core's `q`, `column_types`, `execute` and `query`, and on the summary's `rebuild_derived`.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Iterator

from chalicelib.db import audit as audit_trail
from chalicelib.db import clients as api_clients
from chalicelib.db import jobs as background_jobs
from chalicelib.db.rejections import REJECTIONS, RejectionLog
from chalicelib.db.summary import QUARTERLY_HIRES, SummaryUpkeep
from chalicelib.rules.dictionary import LOAD_ORDER, TABLES, Table

# From this many rows on, a load into an empty table (the CLI's, the S3 loader's, the Glue job's) defers
# its secondary keys (`keys_deferred`): building them once costs less than keeping them up to date row
# by row (docs/loading.md has the figures).
DEFER_KEYS_MIN_ROWS = 100_000


def tables_in_order() -> list[Table]:
    """The dictionary's tables, referenced tables first."""
    return [TABLES[name] for name in LOAD_ORDER]


class SchemaSql(SummaryUpkeep, RejectionLog):
    """The tables, keys and foreign keys of the service."""

    @abstractmethod
    def _schema_statements(self) -> list[str]:
        """The backend's idempotent DDL for every table (`CREATE ... IF NOT EXISTS`), in load order."""

    def create_schema(self) -> None:
        """Create the tables, keys and foreign keys that do not exist yet (idempotent)."""
        self._upgrade_rejections()
        service_tables = [*background_jobs.schema_statements(self), *api_clients.schema_statements(self)]
        for statement in [*self._schema_statements(), *service_tables, *audit_trail.schema_statements(self)]:
            self.execute(statement)
        # A database created before the summary existed has rows and an empty summary: fill it once.
        if self.query(f"SELECT 1 FROM {self.q(QUARTERLY_HIRES)} LIMIT 1") == [] and self.query(
            f"SELECT 1 FROM {self.q('hired_employees')} LIMIT 1"
        ):
            self.rebuild_derived()

    @contextlib.contextmanager
    def keys_deferred(self, table: Table) -> Iterator[bool]:
        """Within the block, `table`'s secondary keys may be dropped, to be built again at its end, if
        the backend does that (yields True) and the table is empty; here it does not (yields False)."""
        yield False

    def restore_deferred_keys(self) -> list[str]:
        """Build the keys a `keys_deferred` block that never ended left missing; the tables repaired."""
        return []

    def drop_schema(self) -> None:
        """Drop every table of the service, data included; the API's clients and the audit trail stay."""
        for statement in self._drop_statements():
            self.execute(statement)

    def _drop_statements(self) -> list[str]:
        names = [background_jobs.JOBS, QUARTERLY_HIRES, REJECTIONS] + [t.name for t in reversed(tables_in_order())]
        return [f"DROP TABLE IF EXISTS {self.q(name)}" for name in names]

    def column_sql(self, table: Table) -> list[str]:
        """The column definitions of `table` in the backend's types."""
        return [f"{self.q(c.name)} {self.column_types[c.type]} NOT NULL" for c in table.columns]
