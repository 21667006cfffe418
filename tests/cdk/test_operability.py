"""Operability on the synthesized templates: one error shape at the gateway, failed events kept, alarms and a
dashboard, the smoke run after a deploy; and the `autotest` CLI."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
STAGES = ("dev", "prod")


def of_type(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


@pytest.mark.parametrize("stage", STAGES)
def test_gateway_errors_have_the_apps_error_shape(synthesis, stage):
    api = synthesis.templates[stage]["Resources"]["RestAPI"]["Properties"]
    responses = api["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    expected = {
        "DEFAULT_4XX": None,
        "DEFAULT_5XX": None,
        "UNAUTHORIZED": "403",
        "INVALID_API_KEY": "403",
        "ACCESS_DENIED": "403",
        "THROTTLED": "429",
        "INTEGRATION_TIMEOUT": "504",
        "REQUEST_TOO_LARGE": "413",
    }
    for kind, status in expected.items():
        assert responses[kind].get("statusCode") == status, kind
    for kind, response in responses.items():
        rendered = response["responseTemplates"]["application/json"].replace(
            "$context.error.messageString", json.dumps('Too "many" requests')
        )
        body = json.loads(rendered)
        assert set(body) == {"error", "detail"} and body["error"] and body["detail"] == 'Too "many" requests', kind


@pytest.mark.parametrize("stage", STAGES)
def test_api_stage_throttles_traces_and_logs(synthesis, stage):
    resources = synthesis.templates[stage]["Resources"]
    api = resources["RestAPI"]["Properties"]
    (plan,) = of_type(synthesis.templates[stage], "AWS::ApiGateway::UsagePlan").values()
    (method,) = api["MethodSettings"]
    assert api["TracingEnabled"] is True and "AccessLogSetting" in api
    assert method["ThrottlingRateLimit"] <= plan["Properties"]["Throttle"]["RateLimit"]
    assert method["DataTraceEnabled"] is False and method["MetricsEnabled"] is True
    for name, function in of_type(synthesis.templates[stage], "AWS::Serverless::Function").items():
        assert function["Properties"]["Tracing"] == "Active", name
    assert resources["S3Loader"]["Properties"]["ReservedConcurrentExecutions"] >= 1


def asynchronous_functions(template: dict) -> set[str]:
    """Functions with an EventBridge schedule, or notified by S3."""
    found = {
        n
        for n, f in of_type(template, "AWS::Serverless::Function").items()
        if any(e["Type"] == "Schedule" for e in f["Properties"].get("Events", {}).values())
    }
    for notification in template["Resources"].values():
        if notification["Type"] == "Custom::S3BucketNotifications":
            text = json.dumps(notification["Properties"]["NotificationConfiguration"])
            found |= {n for n in of_type(template, "AWS::Serverless::Function") if f'"{n}"' in text}
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_every_asynchronous_function_keeps_failed_events_in_an_alarmed_encrypted_queue(synthesis, stage):
    template = synthesis.templates[stage]
    functions = asynchronous_functions(template)
    assert {"S3Loader", "ScheduledBackup", "AutoTester", "JobReaper", "ScheduledPurge", "ScheduledCheck"} <= functions
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in of_type(template, "AWS::Lambda::EventInvokeConfig").values()
    }
    failed_queues = {c["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0] for c in configs.values()}
    queues = of_type(template, "AWS::SQS::Queue")
    alarms = of_type(template, "AWS::CloudWatch::Alarm").values()

    def role_of(function: str) -> str:
        return template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]

    for name in functions:
        destination = configs[name]["DestinationConfig"]["OnFailure"]["Destination"]
        queue_id = destination["Fn::GetAtt"][0]
        queue = queues[queue_id]["Properties"]
        assert queue["SqsManagedSseEnabled"] is True and queue["MessageRetentionPeriod"] >= 4 * 86400, name
        role = role_of(name)
        # A role sends to the failed-event queues of its own functions only (the app role is shared by the
        # scheduled backup, reaper and purge); other queues, such as the jobs queue, are not checked here.
        own = sorted(
            configs[f]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
            for f in functions
            if role_of(f) == role
        )
        sends = [
            json.dumps(r)
            for p in of_type(template, "AWS::IAM::Policy").values()
            if {"Ref": role} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
            if "sqs:SendMessage" in s["Action"]
            for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        ]
        assert "*" not in "".join(sends), name
        to_failed_queues = [r for r in sends if any(q in r for q in failed_queues)]
        assert sorted(to_failed_queues) == [json.dumps({"Fn::GetAtt": [q, "Arn"]}) for q in own], name
        assert queue_id in own, name
        depth = [
            a
            for a in alarms
            if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and a["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}
        ]
        assert len(depth) == 1, name


@pytest.mark.parametrize("stage", STAGES)
def test_alarms_cover_throttles_duration_api_database_glue_and_backups(synthesis, stage):
    template = synthesis.templates[stage]
    alarms = [a["Properties"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()]
    functions = of_type(template, "AWS::Serverless::Function")

    def on(metric, namespace):
        return [a for a in alarms if a.get("MetricName") == metric and a["Namespace"] == namespace]

    assert {a["Dimensions"][0]["Value"]["Ref"] for a in on("Throttles", "AWS/Lambda")} == set(functions)
    for alarm in on("Duration", "AWS/Lambda"):
        timeout = functions[alarm["Dimensions"][0]["Value"]["Ref"]]["Properties"]["Timeout"]
        assert 0.5 * timeout * 1000 <= alarm["Threshold"] < timeout * 1000
    assert len(on("Duration", "AWS/Lambda")) == len(functions)
    api = {d["Name"]: d["Value"] for d in on("5XXError", "AWS/ApiGateway")[0]["Dimensions"]}
    assert api == {"ApiName": template["Resources"]["RestAPI"]["Properties"]["Name"], "Stage": "api"}
    assert on("Latency", "AWS/ApiGateway")[0]["ExtendedStatistic"] == "p99"
    assert on("DatabaseConnections", "AWS/RDS") and on("CPUUtilization", "AWS/RDS")
    assert on("TriggeredRules", "AWS/Events")
    (backup,) = [a for a in alarms if a.get("MetricName") == "BackupsWritten"]
    assert backup["TreatMissingData"] == "breaching" and backup["ComparisonOperator"] == "LessThanThreshold"


@pytest.mark.parametrize("stage", STAGES)
def test_metric_filters_match_the_log_lines_the_app_writes(synthesis, stage):
    sys.path.insert(0, str(PROJECT_DIR / "cdk"))
    from hr_infra.monitoring import BACKUP_WRITTEN_MESSAGE, FILE_LOADED_MESSAGE

    source = "".join(p.read_text() for p in (PROJECT_DIR / "chalicelib").rglob("*.py"))
    for message in (FILE_LOADED_MESSAGE, BACKUP_WRITTEN_MESSAGE):
        assert f'"{message}"' in source  # a logger call writes exactly this message
    filters = [f["Properties"] for f in of_type(synthesis.templates[stage], "AWS::Logs::MetricFilter").values()]
    names = {t["MetricName"] for f in filters for t in f["MetricTransformations"]}
    assert names == {"RowsLoaded", "RowsRejected", "BackupsWritten"}


@pytest.mark.parametrize("stage", STAGES)
def test_one_dashboard_per_stage_with_the_on_call_figures(synthesis, stage):
    (dashboard,) = of_type(synthesis.templates[stage], "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in (
        "API requests",
        "API errors",
        "API latency p99",
        "Rows loaded and rejected",
        "Last backup",
        "Auto-tester failures",
        "Failed events waiting",
        "Database connections",
        "Alarms",
    ):
        assert title in body, title
    assert dashboard["Properties"]["DashboardName"] == f"hr-migration-{stage}"


@pytest.mark.parametrize("stage", STAGES)
def test_smoke_run_runs_the_auto_tester_after_the_api_key_and_tables_are_up(synthesis, stage):
    template = synthesis.templates[stage]
    (trigger,) = of_type(template, "Custom::Trigger").values()
    plan_key = next(iter(of_type(template, "AWS::ApiGateway::UsagePlanKey")))
    (users,) = of_type(template, "Custom::DatabaseUsers")  # the bootstrap creates the tables
    assert {plan_key, "RestAPI", "AutoTester", users} <= set(trigger["DependsOn"])
    assert trigger["Properties"]["InvocationType"] == "RequestResponse"
    (handler,) = [f for k, f in of_type(template, "AWS::Lambda::Function").items() if k.startswith("SmokeRunHandler")]
    env = handler["Properties"]["Environment"]["Variables"]
    assert env["AUTO_TESTER"] == {"Ref": "AutoTester"}
    assert "API_KEY_SECRET_ARN" not in env  # it calls no API itself: the auto-tester does, as its own client
    # A new app package changes the handler, which runs the trigger again.
    assert env["APP_PACKAGE"] in template["Resources"]["AutoTester"]["Properties"]["CodeUri"]["Key"]


def smoke_handler():
    spec = importlib.util.spec_from_file_location("smoke_index", PROJECT_DIR / "cdk/hr_infra/smoke_handler/index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


class FakeLambda:
    def __init__(self, *payloads):
        self.payloads, self.calls = list(payloads), []

    def invoke(self, **kwargs):
        self.calls.append(kwargs)
        payload, error = self.payloads.pop(0)
        return {
            "Payload": io.BytesIO(json.dumps(payload).encode()),
            **({"FunctionError": "Unhandled"} if error else {}),
        }


@pytest.fixture
def smoke_env(monkeypatch):
    monkeypatch.setenv("AUTO_TESTER", "fn")


def test_smoke_handler_passes_when_the_auto_tester_passes(smoke_env):
    client = FakeLambda(({"ok": False}, False), ({"ok": True, "failures": 0}, False))
    result = smoke_handler()({}, None, lambda_client=client, attempts=3, pause=0)
    assert result["ok"] is True and len(client.calls) == 2
    assert client.calls[0]["FunctionName"] == "fn"
    assert json.loads(client.calls[0]["Payload"])["detail-type"] == "Scheduled Event"


def test_smoke_handler_fails_the_deploy_when_the_auto_tester_keeps_failing(smoke_env):
    client = FakeLambda(({"ok": False, "failures": 2}, False), ({"errorMessage": "boom"}, True))
    with pytest.raises(RuntimeError, match="smoke run failed after 2 attempts"):
        smoke_handler()({}, None, lambda_client=client, attempts=2, pause=0)


@pytest.fixture
def api():
    """A tiny API answering the auto-tester's endpoints, refusing any key but `good`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.headers.get("x-api-key") == "good"
            body = (
                (b'{"status": "ok"}' if self.path.endswith("/status") else b"[]") if ok else b'{"error": "forbidden"}'
            )
            self.send_response(200 if ok else 403)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api/"
    server.shutdown()


def test_autotest_cli_exits_zero_when_every_check_passes_and_one_otherwise(api, capsys):
    from chalicelib.cli import main as cli

    assert cli.main(["autotest", "--url", api, "--api-key", "good"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert cli.main(["autotest", "--url", api, "--api-key", "bad"]) == 1
    assert json.loads(capsys.readouterr().out)["failures"] == 3


def test_autotest_cli_reads_the_key_from_a_secret(api, capsys, monkeypatch):
    import boto3
    from moto import mock_aws

    from chalicelib.autotester import checks as autotester
    from chalicelib.cli import main as cli

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    autotester.api_key.cache_clear()
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(Name="k", SecretString="good")["ARN"]
        assert cli.main(["autotest", "--url", api, "--api-key-secret", arn]) == 0
    autotester.api_key.cache_clear()


@pytest.mark.parametrize("stage", STAGES)
def test_every_traced_function_may_send_its_traces(synthesis, stage):
    from tests.cdk.template import as_list, role_statements

    resources = synthesis.templates[stage]["Resources"]
    traced = {
        name: fn["Properties"]
        for name, fn in resources.items()
        if fn["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function")
        and (
            fn["Properties"].get("Tracing") == "Active"
            or fn["Properties"].get("TracingConfig", {}).get("Mode") == "Active"
        )
    }
    assert {"APIHandler", "JobWorker", "S3Loader"} <= set(traced)
    for name, properties in traced.items():
        role = properties["Role"]["Fn::GetAtt"][0]
        actions = {a for s in role_statements(synthesis, stage, role) for a in as_list(s["Action"])}
        assert "xray:PutTraceSegments" in actions, name
