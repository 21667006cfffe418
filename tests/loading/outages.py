"""A database that goes away in the middle of a load, for the loader's tests."""

from __future__ import annotations

from chalicelib import db as databases
from chalicelib.loading import ingest


def lose_the_database_on_the_second_chunk(monkeypatch):
    """The database goes away during the load's second chunk transaction (the first one commits);
    returns the real `insert_candidates`, to put back."""
    real, calls = ingest.insert_candidates, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise databases.DatabaseUnavailable("connection lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "insert_candidates", failing)
    return real
