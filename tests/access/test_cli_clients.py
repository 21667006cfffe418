"""`python -m chalicelib.cli clients ...` and `purge`, on both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from chalicelib import db as databases
from chalicelib.access import audit, clients, retention
from chalicelib.access.keys import key_hash
from chalicelib.db import clients as client_table
from chalicelib.rules.dictionary import TABLES
from tests.access.cli import NO_BOOTSTRAP, run


def test_clients_add_prints_the_key_last_and_stores_only_its_hash(database_url, capsys):
    name = f"reports-{uuid.uuid4().hex[:8]}"
    code, lines = run(database_url, capsys, "clients", "add", name, "--scope", "read,write")
    assert code == 0
    key = lines[-1]
    db = databases.connect(database_url)
    assert clients.resolve(db, NO_BOOTSTRAP, key).scopes == ("read", "write")
    stored = db.query(f"SELECT {db.q('key_hash')} FROM {db.q(client_table.KEYS)}")
    assert (key_hash(key),) in stored and all(key not in row[0] for row in stored)

    code, lines = run(database_url, capsys, "clients", "list")
    assert f"{name}\tread,write\t1 valid key(s)\tnot metered" in lines


def test_clients_add_refuses_bad_scopes_names_and_duplicates(database_url, capsys):
    name = f"ops-{uuid.uuid4().hex[:8]}"
    assert run(database_url, capsys, "clients", "add", name, "--scope", "root")[0] == 1
    assert run(database_url, capsys, "clients", "add", "bad name", "--scope", "read")[0] == 1
    assert run(database_url, capsys, "clients", "add", name, "--scope", "admin")[0] == 0
    code, lines = run(database_url, capsys, "clients", "add", name, "--scope", "read")
    assert code == 1 and "exists already" in lines[-1]


def test_rotate_keeps_the_old_key_for_the_grace_and_revoke_ends_every_key(database_url, capsys):
    name = f"hr-system-{uuid.uuid4().hex[:8]}"
    old = run(database_url, capsys, "clients", "add", name, "--scope", "write")[1][-1]
    code, lines = run(database_url, capsys, "clients", "rotate", name)
    new = lines[-1]
    db = databases.connect(database_url)
    assert code == 0 and new != old
    assert clients.resolve(db, NO_BOOTSTRAP, old) and clients.resolve(db, NO_BOOTSTRAP, new)
    assert run(database_url, capsys, "clients", "revoke", name)[0] == 0
    assert clients.resolve(db, NO_BOOTSTRAP, old) is None and clients.resolve(db, NO_BOOTSTRAP, new) is None
    assert run(database_url, capsys, "clients", "rotate", name)[0] == 1
    assert run(database_url, capsys, "clients", "revoke", "nobody-" + name)[0] == 1


def test_purge_forgets_rejections_and_audit_entries_older_than_the_age(database_url, capsys):
    db = databases.connect(database_url)
    db.log_rejections("old.csv", TABLES["departments"], [(1, {"id": "x"}, ["id: not a number"])])
    marker = f"purge-{uuid.uuid4().hex[:8]}"
    audit.record(db, client=marker, method="DELETE", route="/admin/schema", status=200)
    assert run(database_url, capsys, "purge", "--older-than", "90d")[0] == 0
    assert len(db.list_rejections()) == 1 and audit.entries(db, client=marker)

    later = datetime.now(UTC) + timedelta(days=91)
    counts = retention.purge(db, retention.parse_age("90d"), now=later)
    assert counts["rejections"] == 1 and counts["audit"] >= 1
    assert db.list_rejections() == [] and audit.entries(db, client=marker) == []
    assert run(database_url, capsys, "purge", "--older-than", "ninety")[0] == 1
