"""Input limits: a row over MAX_ROW_BYTES or a body over MAX_BODY_BYTES is a 413 naming the limit, with
nothing stored or logged; numbers in paths and queries are plain ASCII digits."""

from __future__ import annotations

import json

from chalicelib import db as databases
from chalicelib.api.parsing import MAX_BODY_BYTES, MAX_ROW_BYTES


def test_a_batch_with_one_row_over_the_row_limit_is_413_and_logs_nothing(client, headers, database_url):
    rows = [{"id": 1, "department": "Sales"}, {"id": 2, "department": "x" * MAX_ROW_BYTES}]
    response = client.http.post("/departments", headers=headers, body=json.dumps(rows))
    assert response.status_code == 413
    body = json.loads(response.body)
    assert body["error"] == "row too large" and f"{MAX_ROW_BYTES:,} bytes" in body["detail"] and "[1]" in body["detail"]
    counts = databases.for_url(database_url).counts()
    assert (counts["departments"], counts["rejections"]) == (0, 0)


def test_a_csv_body_over_the_body_limit_is_413(client, database_url):
    body = b"1,Sales\n" * (MAX_BODY_BYTES // 8 + 1)
    response = client.http.post(
        "/uploads/departments", headers={"x-api-key": "test-key", "content-type": "text/csv"}, body=body
    )
    assert response.status_code == 413
    assert "MiB" in json.loads(response.body)["detail"]
    assert databases.for_url(database_url).counts()["departments"] == 0


def test_numbers_in_paths_and_queries_are_plain_digits(client, headers):
    for path in ("/departments/%2B1", "/departments/1_0", "/departments?limit=1_0", "/departments?cursor=%EF%BC%91"):
        response = client.http.get(path, headers=headers)
        assert response.status_code == 400, path
        assert set(json.loads(response.body)) == {"error", "detail"}
