"""Rejected rows are personal data: kept small in the rejection log, never in the log output."""

from __future__ import annotations

import hashlib
import json

from chalicelib import db as databases
from chalicelib.db.rejections import MAX_RAW_CHARS
from chalicelib.rules.validation import raw_json


def test_a_100_kb_rejected_row_is_stored_truncated_with_its_hash_and_not_logged(client, headers, database_url, caplog):
    # The batch API refuses such a row up front (413, nothing logged); a CSV file can carry one.
    secret = "S3cr3t-" + "x" * 100_000
    caplog.set_level("INFO", logger="hr-migration")
    batch = client.http.post("/departments", headers=headers, body=json.dumps([{"id": 7, "department": secret}]))
    assert batch.status_code == 413
    csv_headers = {**headers, "content-type": "text/csv"}
    response = client.http.post("/uploads/departments", headers=csv_headers, body=f"7,{secret}\n".encode())
    assert response.status_code == 422

    [entry] = databases.connect(database_url).list_rejections("departments")
    assert set(entry.raw) == {"truncated", "sha256", "chars"}
    assert len(entry.raw["truncated"]) == MAX_RAW_CHARS
    whole = raw_json(["7", secret])
    assert entry.raw["sha256"] == hashlib.sha256(whole.encode()).hexdigest() and entry.raw["chars"] == len(whole)

    [line] = [vars(r) for r in caplog.records if r.getMessage() == "row rejected"]
    assert line["row_sha256"] == entry.raw["sha256"] and line["reasons"]
    assert line["position"] == 1
    assert all("S3cr3t-" not in str(vars(r)) for r in caplog.records)


def test_a_small_rejected_row_is_stored_whole(client, headers, database_url):
    row = {"id": "not a number", "department": "Sales"}
    client.http.post("/departments", headers=headers, body=json.dumps([row]))
    [entry] = databases.connect(database_url).list_rejections("departments")
    assert entry.raw == row
