"""The jobs queue in the synthesized stacks: SQS with a dead-letter queue feeding the worker function,
whose own role may start only the backup and restore Glue jobs."""

from __future__ import annotations

import json

import pytest

from tests.cdk.template import STAGES, as_list, logical_id, resources, role_statements


@pytest.mark.parametrize("stage", STAGES)
def test_the_worker_consumes_the_jobs_queue_which_has_a_dead_letter_queue(synthesis, stage):
    queues = resources(synthesis, stage, "AWS::SQS::Queue")
    [(queue_id, queue)] = [(k, q) for k, q in queues.items() if "RedrivePolicy" in q["Properties"]]
    redrive = queue["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == 3 and redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] in queues
    assert queue["Properties"]["VisibilityTimeout"] > 900
    worker = resources(synthesis, stage, "AWS::Serverless::Function")["JobWorker"]["Properties"]
    assert worker["Timeout"] == 900
    [event] = worker["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["Queue"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    api = resources(synthesis, stage, "AWS::Serverless::Function")["APIHandler"]["Properties"]
    assert api["Environment"]["Variables"]["JOBS_QUEUE_URL"] == {"Ref": queue_id}


@pytest.mark.parametrize("stage", STAGES)
def test_the_worker_has_its_own_role_that_runs_only_the_backup_and_restore_glue_jobs(synthesis, stage):
    functions = resources(synthesis, stage, "AWS::Serverless::Function")
    role_id = functions["JobWorker"]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert role_id != functions["APIHandler"]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = role_statements(synthesis, stage, role_id)
    [start] = [s for s in statements if "glue:StartJobRun" in as_list(s["Action"])]
    wanted = {logical_id(synthesis, stage, "AWS::Glue::Job", n) for n in ("BackupAvro", "RestoreAvro")}
    assert all(job in json.dumps(start["Resource"]) for job in wanted)
    assert logical_id(synthesis, stage, "AWS::Glue::Job", "LoadCsv") not in json.dumps(start)
    assert any("sqs:ReceiveMessage" in as_list(s["Action"]) for s in statements)
