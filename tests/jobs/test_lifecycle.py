"""Jobs through the API: 202 + Location, polling to the result, listing, cancelling, retrying, the
dead-worker reaper and redelivered messages, on both backends."""

from __future__ import annotations

import json

from chalicelib.db import jobs as rows
from chalicelib.jobs import service as jobs
from chalicelib.jobs import worker
from chalicelib.jobs.model import now_ms
from chalicelib.jobs.store import JobStore
from tests.backups.sample_data import checksums, seed
from tests.jobs.conftest import send


def test_a_big_backup_answers_202_with_a_job_and_polling_reaches_succeeded_with_the_backup(
    client, headers, db, queued, backup_dir
):
    seed(db, employees=200)
    response, job = send(client, "POST", "/backups", headers, {})
    assert response.status_code == 202
    assert response.headers["Location"] == f"/background-jobs/{job['id']}"
    assert (job["kind"], job["state"], job["result"]) == ("backup", "queued", None) and job["created_at"]
    _, polled = send(client, "GET", response.headers["Location"], headers)
    assert polled["state"] == "queued"
    assert queued.drain() == [job["id"]]
    _, done = send(client, "GET", response.headers["Location"], headers)
    assert done["state"] == "succeeded" and done["error"] is None, done
    assert done["progress"] == {"rows_done": 4 + 3 + 200, "rows_expected": 4 + 3 + 200}
    assert done["started_at"] and done["finished_at"] and done["seconds"] >= 0 and done["attempts"] == 1
    backup_id = done["result"]["backup"]
    assert (backup_dir / "backups" / backup_id / "manifest.json").exists()
    assert done["result"]["tables"]["hired_employees"]["rows"] == 200


def test_a_big_restore_is_queued_and_brings_the_table_back_identical(client, headers, db, queued):
    seed(db, employees=300)
    before = checksums(db)
    _, backup = send(client, "POST", "/backups", headers, {})
    queued.drain()
    backup_id = jobs.store().get(backup["id"]).result["backup"]
    db.execute("DELETE FROM hired_employees WHERE id > 100")
    response, job = send(client, "POST", "/restores/hired_employees", headers, {"backup": backup_id})
    assert response.status_code == 202 and job["state"] == "queued"
    assert job["progress"] == {"rows_done": 0, "rows_expected": 300}  # from the backup's manifest
    queued.drain()
    _, done = send(client, "GET", f"/background-jobs/{job['id']}", headers)
    assert done["state"] == "succeeded", done
    assert done["result"]["restored"] == {"hired_employees": {"rows": 300}}
    assert done["progress"]["rows_done"] == 300
    assert checksums(db) == before


def test_small_work_is_done_in_the_request_with_the_same_answer(client, headers, db, backup_dir):
    seed(db, employees=20)
    response, job = send(client, "POST", "/backups", headers, {})
    assert response.status_code == 202 and response.headers["Location"] == f"/background-jobs/{job['id']}"
    assert job["state"] == "succeeded" and job["result"]["tables"]["hired_employees"]["rows"] == 20


def test_a_request_that_cannot_be_met_is_refused_at_once_and_records_no_job(client, headers, db, queued):
    assert (
        send(client, "POST", "/restores/hired_employees", headers, {"backup": "20000101T000000000Z"})[0].status_code
        == 404
    )
    assert send(client, "POST", "/restores/nope", headers, {"backup": "x"})[0].status_code == 404
    assert send(client, "POST", "/backups", headers, {"tables": ["nope"]})[0].status_code == 404
    assert send(client, "POST", "/backups", headers, {"engine": "spark"})[0].status_code == 400
    _, listing = send(client, "GET", "/background-jobs", headers)
    assert listing == {"items": [], "next_cursor": None}


def test_jobs_list_newest_first_by_kind_and_state_a_page_at_a_time(client, headers, db, queued):
    seed(db, employees=50)
    made = [send(client, "POST", "/backups", headers, {})[1]["id"] for _ in range(3)]
    replay = send(client, "POST", "/rejections/replay", headers, {})[1]  # one rejection: done at once
    _, page = send(client, "GET", "/background-jobs?kind=backup&limit=2", headers)
    assert [j["id"] for j in page["items"]] == [made[2], made[1]] and page["next_cursor"] == made[1]
    _, rest = send(client, "GET", f"/background-jobs?kind=backup&limit=2&cursor={page['next_cursor']}", headers)
    assert [j["id"] for j in rest["items"]] == [made[0]] and rest["next_cursor"] is None
    _, done = send(client, "GET", "/background-jobs?state=succeeded", headers)
    assert [j["id"] for j in done["items"]] == [replay["id"]] and done["items"][0]["kind"] == "replay"
    for bad in ("kind=nope", "state=done", "limit=0", "limit=1001", "cursor=12"):
        response, body = send(client, "GET", f"/background-jobs?{bad}", headers)
        assert response.status_code == 400 and body["error"], bad
    for path in ("/background-jobs/ffffffffffffffffffff", "/background-jobs/not-an-id"):
        response, body = send(client, "GET", path, headers)
        assert (response.status_code, body["error"]) == (404, "job not found")
    assert send(client, "GET", "/background-jobs", {})[0].status_code == 403


def test_a_cancelled_queued_job_never_runs(client, headers, db, queued, backup_dir):
    seed(db, employees=50)
    _, job = send(client, "POST", "/backups", headers, {})
    response, cancelled = send(client, "DELETE", f"/background-jobs/{job['id']}", headers)
    assert response.status_code == 202 and cancelled["state"] == "cancelled"
    queued.drain()
    assert jobs.store().get(job["id"]).state == "cancelled"
    assert not (backup_dir / "backups").exists()
    response, body = send(client, "DELETE", f"/background-jobs/{job['id']}", headers)
    assert (response.status_code, body["error"]) == (409, "job already finished")


def test_a_redelivered_message_does_not_run_its_job_again(client, headers, db, queued, backup_dir):
    seed(db, employees=50)
    _, job = send(client, "POST", "/backups", headers, {})
    queued.drain()
    assert worker.run(job["id"]) is None  # the same message again
    assert len(list((backup_dir / "backups").iterdir())) == 1
    assert jobs.store().get(job["id"]).attempts == 1


def test_a_job_whose_worker_died_is_failed_and_its_retry_succeeds_without_duplicates(
    client, headers, db, queued, monkeypatch
):
    seed(db, employees=120)
    _, backup = send(client, "POST", "/backups", headers, {})
    queued.drain()
    backup_id = jobs.store().get(backup["id"]).result["backup"]
    before = checksums(db)
    db.execute("DELETE FROM hired_employees WHERE id > 60")
    _, job = send(client, "POST", "/restores/hired_employees", headers, {"backup": backup_id})
    queued.forget()  # the message was taken by a worker that then died, mid-restore
    store = jobs.store()
    assert store.claim(job["id"]) is not None
    rows.update(db, job["id"], {"heartbeat_at": now_ms() - 121_000, "rows_done": 50})
    _, running = send(client, "GET", "/background-jobs?state=running", headers)
    assert running["items"] == []  # reading the jobs failed it: its heartbeat is older than the limit
    _, failed = send(client, "GET", f"/background-jobs/{job['id']}", headers)
    assert failed["state"] == "failed" and failed["error"]["error"] == "worker stopped"
    assert "no heartbeat for more than 120 s" in failed["error"]["detail"]
    response, retry = send(client, "POST", f"/background-jobs/{job['id']}/retry", headers)
    assert response.status_code == 202 and retry["retry_of"] == job["id"] and retry["state"] == "queued"
    assert queued.drain() == [retry["id"]]
    assert store.get(retry["id"]).state == "succeeded"
    assert checksums(db) == before
    response, body = send(client, "POST", f"/background-jobs/{retry['id']}/retry", headers)
    assert (response.status_code, body["error"]) == (409, "job cannot be retried")


def test_the_scheduled_backup_is_recorded_as_a_job(client, headers, db, backup_dir):
    seed(db, employees=30)
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])
    result = client.lambda_.invoke("scheduled_backup", event).payload
    _, listing = send(client, "GET", "/background-jobs?kind=backup", headers)
    [job] = listing["items"]
    assert (job["source"], job["state"], job["params"]) == ("schedule", "succeeded", {"scheduled": True})
    assert job["result"]["backup"] == result["backup"]


def test_the_reaper_schedule_fails_silent_jobs(client, db, monkeypatch):
    store = JobStore(db)
    job = store.create("replay", {"tables": None, "source": None}, "api")
    store.claim(job.id)
    rows.update(db, job.id, {"heartbeat_at": now_ms() - 10 * 60_000})
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])
    assert client.lambda_.invoke("job_reaper", event).payload == {"failed": [job.id]}
    assert store.get(job.id, refresh=False).state == "failed"


def test_the_cli_lists_and_shows_the_jobs_the_api_started(client, headers, db, database_url, queued, capsys):
    from chalicelib.cli import main as cli

    seed(db, employees=50)
    _, job = send(client, "POST", "/backups", headers, {})
    capsys.readouterr()
    assert cli.main(["--database", database_url, "jobs", "list", "--kind", "backup"]) == 0
    assert capsys.readouterr().out.split()[:3] == [job["id"], "backup", "queued"]
    queued.drain()
    assert cli.main(["--database", database_url, "jobs", "show", job["id"]]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["state"] == "succeeded" and shown["result"]["backup"]
    assert cli.main(["--database", database_url, "jobs", "show", "ffffffffffffffffffff"]) == 1
    assert "job not found" in capsys.readouterr().err
