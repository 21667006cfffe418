"""`POST /uploads/{table}` (a CSV body through the file loader) and `POST /uploads/{table}/url` (moto S3)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from chalicelib import db as databases
from tests.conftest import TEST_BUCKET as BUCKET

CSV = {"x-api-key": "test-key", "content-type": "text/csv"}


def upload(client, table, body, headers=CSV):
    response = client.http.post(f"/uploads/{table}", headers=headers, body=body)
    return response, json.loads(response.body)


@pytest.fixture
def seeded(client):
    upload(client, "departments", b"1,Engineering\n2,Sales\n")
    upload(client, "jobs", b"1,DBA Lead\n2,Data Entry Clerk\n")
    return client


def counts(database_url):
    return databases.for_url(database_url).counts()


def test_a_valid_file_is_201_with_counts(seeded, database_url):
    body = '\ufeff1,Ana Pérez,2021-11-07T02:48:42Z,1,1\r\n2,"Li, Bo",2021-03-01T10:00:00Z,2,2'.encode()
    response, answer = upload(seeded, "hired_employees", body)
    assert response.status_code == 201
    assert (answer["received"], answer["inserted"], answer["unchanged"], answer["rejected_count"]) == (2, 2, 0, 0)
    assert answer["rejected"] == []
    assert counts(database_url)["hired_employees"] == 2


def test_some_rejected_rows_are_207_with_line_numbers_and_reasons(seeded, database_url):
    body = b"1,Ana,2021-11-07T02:48:42Z,1,1\n\n2,Bo,2021-11-07T02:48:42Z,1,99\n3,Cy\n"
    response, answer = upload(seeded, "hired_employees", body)
    assert response.status_code == 207
    assert answer["inserted"] == 1 and answer["rejected_count"] == 2
    assert [(r["line"], r["reasons"]) for r in answer["rejected"]] == [
        (3, ["job_id: jobs 99 does not exist"]),
        (4, ["expected 5 fields (id, name, datetime, department_id, job_id), got 2"]),
    ]
    logged = databases.for_url(database_url).list_rejections("hired_employees")
    assert [e.position for e in logged] == [3, 4]
    assert all(e.source.startswith("upload:hired_employees:sha256:") for e in logged)


def test_all_rejected_is_422_and_the_same_body_again_logs_nothing_twice(seeded, database_url):
    body = b"1,Ana,2021-11-07T02:48:42Z,7,1\n2,,2021-11-07T02:48:42Z,1,1\n"
    for _ in range(2):
        response, answer = upload(seeded, "hired_employees", body)
        assert response.status_code == 422 and answer["rejected_count"] == 2
    assert counts(database_url)["rejections"] == 2


def test_an_identical_reupload_is_201_unchanged(seeded):
    body = b"1,Ana,2021-11-07T02:48:42Z,1,1\n"
    upload(seeded, "hired_employees", body)
    response, answer = upload(seeded, "hired_employees", body)
    assert response.status_code == 201 and (answer["inserted"], answer["unchanged"]) == (0, 1)


@pytest.mark.parametrize(
    "body, error",
    [
        (b"", "empty file"),
        (b"\n\n  \n", "empty file"),
        (b"1,Engineering\n2,Caf\xe9\n", "unreadable file"),
        (b'1,"Engineering\n', "unreadable file"),
        (b"\x00\x01\x02binary", "unreadable file"),
    ],
)
def test_an_empty_non_utf8_or_non_csv_body_is_400_and_nothing_is_stored(client, database_url, body, error):
    response, answer = upload(client, "departments", body)
    assert response.status_code == 400
    assert answer["error"] == error and answer["detail"]
    assert counts(database_url)["departments"] == 0 and counts(database_url)["rejections"] == 0


def test_an_unknown_table_is_404(client):
    response, answer = upload(client, "employees", b"1,x\n")
    assert response.status_code == 404 and answer["error"] == "unknown table"


def test_uploads_need_the_api_key(client, database_url):
    response, _ = upload(client, "departments", b"1,Engineering\n", headers={"content-type": "text/csv"})
    assert response.status_code == 403
    assert counts(database_url)["departments"] == 0


def test_a_json_content_type_is_refused(client):
    response = client.http.post("/uploads/departments", headers={**CSV, "content-type": "application/json"}, body=b"[]")
    assert response.status_code == 415


# -- presigned URL ------------------------------------------------------------------------------------


@pytest.fixture
def aws(s3_bucket):
    return s3_bucket


def url_for(client, table, body=None):
    response = client.http.post(
        f"/uploads/{table}/url",
        headers={"x-api-key": "test-key", "content-type": "application/json"},
        body=json.dumps(body) if body is not None else b"",
    )
    return response, json.loads(response.body)


def test_the_upload_url_is_a_short_lived_presigned_put_under_incoming(client, aws, monkeypatch):
    monkeypatch.setenv("DATA_BUCKET", BUCKET)
    response, answer = url_for(client, "hired_employees", {"filename": "2021-q1.csv"})
    assert response.status_code == 200
    assert answer["key"] == "incoming/hired_employees/2021-q1.csv" and answer["method"] == "PUT"
    query = parse_qs(urlsplit(answer["url"]).query)
    assert query["X-Amz-Expires"] == ["900"] and answer["expires_in"] == 900
    # The URL works: a PUT with it creates the object where the S3 loader will see it.
    put = requests.put(answer["url"], data=b"1,Ana,2021-11-07T02:48:42Z,1,1\n", headers=answer["headers"])
    assert put.status_code == 200
    assert aws.get_object(Bucket=BUCKET, Key=answer["key"])["Body"].read().startswith(b"1,Ana")


def test_without_a_filename_the_key_is_unique(client, aws, monkeypatch):
    monkeypatch.setenv("DATA_BUCKET", BUCKET)
    keys = {url_for(client, "jobs")[1]["key"] for _ in range(3)}
    assert len(keys) == 3 and all(k.startswith("incoming/jobs/") and k.endswith(".csv") for k in keys)


@pytest.mark.parametrize("filename", ["../departments.csv", "a/b.csv", "x.txt", "", 7, ".hidden.csv"])
def test_a_filename_that_could_escape_the_table_folder_is_400(client, aws, monkeypatch, filename):
    monkeypatch.setenv("DATA_BUCKET", BUCKET)
    response, answer = url_for(client, "departments", {"filename": filename})
    assert response.status_code == 400 and answer["error"] == "invalid filename"


def test_without_a_bucket_the_upload_url_is_503_and_says_what_to_do(client):
    response, answer = url_for(client, "departments")
    assert response.status_code == 503
    assert answer["error"] == "uploads to S3 are not configured" and "/uploads/departments" in answer["detail"]
