"""The consistency check: what is derived from the tables, what refers to them and what the rejection
log says about them, checked against the tables themselves (`python -m chalicelib.cli check`, and a
daily schedule).

- summary: `quarterly_hires` equals the GROUP BY over hired_employees it stands for;
- references: every referencing column names a row that exists (the foreign keys hold);
- rejections: no entry names a table outside the dictionary, and none is for a row that is stored
  exactly as the entry has it (the log means "not stored, and why").

Relies on the core's `q`, `placeholder`, `query`, `_decode`, on the summary's
`_quarterly_hires_of_table_sql` and on the restore engine's `reference_problems`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from chalicelib.db.rejections import REJECTIONS
from chalicelib.db.restore import RestoreEngine
from chalicelib.db.summary import QUARTERLY_HIRES, QUARTERLY_HIRES_KEY, QUARTERS
from chalicelib.rules.dictionary import TABLES, Table, in_load_order
from chalicelib.rules.validation import check_fields

SHOWN = 20  # problems listed per check; the rest are counted
STALE_BATCH = 5000  # rejection log entries read per statement when looking for stored rows


@dataclass
class Consistency:
    """What the check found: per check, the problems (at most SHOWN listed) and how many there are."""

    problems: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.counts.values())

    def add(self, check: str, found: list[str]) -> None:
        self.problems[check] = found[:SHOWN]
        self.counts[check] = len(found)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checks": {name: {"problems": self.counts[name], "shown": self.problems[name]} for name in self.problems},
        }


SCHEDULE = "rate(1 day)"  # of the scheduled check (app.py)


def run_scheduled(url: str | None = None) -> dict:
    """The scheduled check of the stage's database: the findings, logged (an error when anything is off)."""
    # Imported here: the Glue jobs ship this package without the service's runtime modules.
    from chalicelib import db as databases
    from chalicelib.runtime.log import logger
    from chalicelib.runtime.settings import Settings

    found = databases.for_url(url or Settings.from_env().database_url).check_consistency().to_dict()
    if found["ok"]:
        logger.info("consistency check: ok", extra={"consistency": found})
    else:
        logger.error("consistency check: something is off", extra={"consistency": found})
    return found


class ConsistencyCheck(RestoreEngine):
    """`check_consistency` and its three checks."""

    def check_consistency(self) -> Consistency:
        """Every invariant the service keeps between its tables, checked in one read-only snapshot."""
        found = Consistency()
        with self.snapshot():
            found.add("summary", self._summary_problems())
            found.add("references", self._broken_references())
            found.add("rejections", self._rejection_problems())
        return found

    def _summary_problems(self) -> list[str]:
        columns = ", ".join(self.q(c) for c in (*QUARTERLY_HIRES_KEY, *QUARTERS))
        summary = {
            tuple(int(v) for v in r[:3]): [int(v) for v in r[3:]]
            for r in self.query(f"SELECT {columns} FROM {self.q(QUARTERLY_HIRES)}")
        }
        table = {
            tuple(int(v) for v in r[:3]): [int(v) for v in r[3:]]
            for r in self.query(self._quarterly_hires_of_table_sql())
        }
        problems = []
        for key in sorted(summary.keys() | table.keys()):
            said, counted = summary.get(key), table.get(key)
            if said != counted:
                year, department, job = key
                problems.append(
                    f"{QUARTERLY_HIRES} ({year}, department {department}, job {job}): the summary has "
                    f"{said or 'no row'}, hired_employees counts {counted or 'no hires'} (q1-q4)"
                )
        return problems

    def _broken_references(self) -> list[str]:
        problems = []
        for missing in self.reference_problems(in_load_order(list(TABLES.values())), limit=SHOWN + 1):
            problems.extend(
                f"{missing.table}.{missing.column} = {value}: no such {missing.references} row" for value in missing.ids
            )
        return problems

    def _rejection_problems(self) -> list[str]:
        names = sorted(TABLES)
        unknown = self.query(
            f"SELECT {self.q('id')}, {self.q('table_name')} FROM {self.q(REJECTIONS)} "
            f"WHERE {self.q('table_name')} NOT IN ({self._marks(len(names))}) ORDER BY {self.q('id')}",
            names,
        )
        problems = [f"{REJECTIONS} entry {i}: table {name!r} is not in the data dictionary" for i, name in unknown]
        for table in in_load_order(list(TABLES.values())):
            problems.extend(self._stale_rejections(table))
        return problems

    def _stale_rejections(self, table: Table) -> list[str]:
        """Entries for `table` whose row is stored exactly as the entry has it."""
        log = self.q(REJECTIONS)
        columns = ", ".join(f"t.{self.q(c)}" for c in table.column_names)
        sql = (
            f"SELECT j.{self.q('id')}, j.{self.q('raw')}, {columns} FROM {log} j "
            f"JOIN {self.q(table.name)} t ON t.{self.q(table.key)} = j.{self.q('row_id')} "
            f"WHERE j.{self.q('table_name')} = {self.placeholder} AND j.{self.q('id')} > {self.placeholder} "
            f"ORDER BY j.{self.q('id')} LIMIT {self.placeholder}"
        )
        problems, after = [], 0
        while rows := self.query(sql, [table.name, after, STALE_BATCH]):
            after = rows[-1][0]
            for entry, raw, *stored in rows:
                row, reasons = check_fields(table, json.loads(raw))
                if not reasons and row is not None and tuple(row) == self._decode(table, stored):
                    problems.append(f"{REJECTIONS} entry {entry}: {table.name} {row[0]} is stored as logged (stale)")
        return problems
