"""`Database`: what the service needs from a database, composed of one class per capability.

Where the SQL for X lives:
  core.py        connections, transactions, retries, snapshots, statements; the dialect hooks
  schema.py      creating and dropping the tables (each backend writes its DDL)
  rows.py        reading, inserting, deleting and counting rows; staging them for a bulk load; backups' reads
  updates.py     changing one row under its lock; emptying a table (dependents first, when asked)
  summary.py     the reports' summary table (quarterly_hires) and the hooks that keep it exact
  report_sql.py  the two reports' queries
  restore.py     replacing tables with a backup's rows (merge, reference checks)
  rejections.py  the rejection log
  consistency.py the consistency check: summary, references and rejection log against the tables
  mysql.py, sqlite.py  each backend's hooks and its faster paths (MySQL: LOAD DATA, JSON packing)

Identifiers in SQL come only from the data dictionary or from constants in this package; every value
is a bound parameter. The names callers import with `Database` are exported here too.
"""

from __future__ import annotations

from chalicelib.db.consistency import Consistency, ConsistencyCheck
from chalicelib.db.core import sql_types
from chalicelib.db.errors import (
    DatabaseError,
    DatabaseUnavailable,
    IntegrityConflict,
    ReferencedRow,
    ReferenceViolation,
    RowsRejected,
    TooScattered,
)
from chalicelib.db.rejections import REJECTIONS, Rejection, RejectionLog
from chalicelib.db.report_sql import ReportSql
from chalicelib.db.restore import RestoreEngine
from chalicelib.db.rows import RowSql
from chalicelib.db.schema import SchemaSql, tables_in_order
from chalicelib.db.staging import StagedRows
from chalicelib.db.summary import QUARTERLY_HIRES, QUARTERLY_HIRES_KEY, QUARTERS, SummaryUpkeep
from chalicelib.db.updates import ReferencedTable, RowUpdates

__all__ = [
    "Consistency",
    "QUARTERLY_HIRES",
    "QUARTERLY_HIRES_KEY",
    "QUARTERS",
    "REJECTIONS",
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "IntegrityConflict",
    "ReferenceViolation",
    "ReferencedRow",
    "ReferencedTable",
    "Rejection",
    "RowsRejected",
    "StagedRows",
    "TooScattered",
    "sql_types",
    "tables_in_order",
]


class Database(ConsistencyCheck, RestoreEngine, RowUpdates, RowSql, SchemaSql, SummaryUpkeep, ReportSql, RejectionLog):
    """What the service needs from a database; `MysqlDatabase` and `SqliteDatabase` implement it.

    Connections are per thread and reused. Work that must be atomic runs in `transaction()`
    (nestable: inner blocks join the outer one) or, to be retried after a dropped connection or a
    concurrent-writer conflict, in `run(unit)`.
    """
