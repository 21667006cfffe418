"""What a database call can raise: the service-level errors both backends translate driver errors into,
and the ones a restore raises when its rows cannot replace the tables."""

from __future__ import annotations

from dataclasses import dataclass


class DatabaseError(Exception):
    """A database failure the caller cannot fix by changing its input."""


class DatabaseUnavailable(DatabaseError):
    """The server cannot be reached, the connection dropped, or a lock could not be had."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class IntegrityConflict(DatabaseError):
    """A write hit a key or reference that changed under it (a concurrent writer): retry the unit."""


class ReferencedRow(DatabaseError):
    """A row cannot be deleted while other rows reference it."""


class RowsRejected(Exception):
    """Rows given to a bulk replace broke a key (a repeated id); nothing was changed."""


class TooScattered(Exception):
    """A merging restore met ids in too many runs to delete the others by range; nothing was changed
    (restore again without merging)."""


@dataclass(frozen=True)
class MissingReferences:
    """`table.column` names ids (some of `ids`) that `references` does not have."""

    table: str
    column: str
    references: str
    ids: list[int]
    restored: bool  # True: the restored rows name missing ids; False: other rows name ids the restore drops

    def __str__(self) -> str:
        shown = ", ".join(map(str, self.ids[:20])) + (", ..." if len(self.ids) > 20 else "")
        return f"{self.table}.{self.column} names {self.references} id(s) that would not exist: {shown}"


class ReferenceViolation(Exception):
    """Replacing tables would leave references to ids that do not exist; nothing was changed."""

    def __init__(self, problems: list[MissingReferences]):
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems
