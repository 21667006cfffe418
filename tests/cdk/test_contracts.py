"""Contracts between the synthesized templates and the code they deploy, read from the code itself.

Glue jobs' default arguments against each script's parameters; each function's environment against the
settings the code parses; secrets, the data bucket and the load job granted to exactly the roles whose
functions or jobs are configured to use them.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
GLUE_DIR = PROJECT_DIR / "glue"
sys.path.insert(0, str(PROJECT_DIR / "cdk"))
sys.path.insert(0, str(GLUE_DIR))  # the job scripts import hrjobs as Glue's --extra-py-files provides it
from hr_infra.settings import stages_from_context  # noqa: E402
from hr_infra.stack import LOAD_JOB, glue_job_scripts  # noqa: E402
from hrjobs import runtime  # noqa: E402

STAGES = ("dev", "prod")
DATA_API = {
    s.stage: s.api_uses_data_api
    for s in stages_from_context(json.loads((PROJECT_DIR / "cdk" / "cdk.json").read_text())["context"]["hr:stages"])
}
# What CloudFormation puts in place of its pseudo parameters, for the placeholders below.
PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
# A job's own parameters are upper snake case; Glue's (--job-language, --enable-metrics, --TempDir...) are not.
JOB_PARAMETER = re.compile(r"^--([A-Z][A-Z0-9_]*)$")


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def of_type(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def script_parameters(script: Path) -> tuple[set[str], set[str]]:
    """(required, readable) parameter names of a Glue script, from its REQUIRED and OPTIONAL."""
    spec = importlib.util.spec_from_file_location(f"glue_contract_{script.stem}", script)
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    required = set(module.REQUIRED)
    return required, required | set(module.OPTIONAL) | set(runtime.DATABASE_OPTIONS) | {"JOB_NAME"}


def glue_contract_violations(template: dict) -> list[str]:
    jobs = {
        j["Properties"]["Name"].rsplit("-", 2)[-2] + "-" + j["Properties"]["Name"].rsplit("-", 1)[-1]: j
        for j in of_type(template, "AWS::Glue::Job").values()
    }
    problems = []
    for script in glue_job_scripts():
        if script.name not in jobs:
            problems.append(f"{script.name}: no such job in the template")
            continue
        required, readable = script_parameters(script.script)
        given = {
            m.group(1) for a in jobs[script.name]["Properties"]["DefaultArguments"] if (m := JOB_PARAMETER.match(a))
        }
        missing = required - given - set(script.run_arguments)
        unread = given - readable
        if missing:
            problems.append(f"{script.name}: required {sorted(missing)} neither defaulted nor passed per run")
        if unread:
            problems.append(f"{script.name}: default arguments {sorted(unread)} are read by no one")
        if not {"DB_SECRET_ARN", "CONNECTION_NAME"} & given:
            problems.append(f"{script.name}: no database (--DB_SECRET_ARN or --CONNECTION_NAME)")
    return problems


@pytest.mark.parametrize("stage", STAGES)
def test_glue_default_arguments_satisfy_each_script_and_name_nothing_it_does_not_read(synthesis, stage):
    assert glue_contract_violations(synthesis.templates[stage]) == []


def test_glue_contract_check_catches_an_unread_argument_and_a_missing_one(synthesis):
    broken = json.loads(json.dumps(synthesis.templates["dev"]))
    for job in of_type(broken, "AWS::Glue::Job").values():
        args = job["Properties"]["DefaultArguments"]
        if "--BACKUP_ROOT" in args:
            args["--DATA_BUCKET"] = args.pop("--BACKUP_ROOT")  # the contract as it was broken before
    problems = glue_contract_violations(broken)
    assert any("backup-avro: required ['BACKUP_ROOT']" in p for p in problems), problems
    assert any("backup-avro: default arguments ['DATA_BUCKET']" in p for p in problems), problems


def test_the_loader_passes_the_load_jobs_per_run_arguments():
    """What the S3 loader passes to StartJobRun covers the load job's per-run parameters."""
    from chalicelib.loading import s3_events
    from chalicelib.rules import dictionary
    from chalicelib.runtime.settings import Settings

    calls = []

    class Glue:
        def start_job_run(self, **kwargs):
            calls.append(kwargs)
            return {"JobRunId": "jr_1"}

    settings = Settings.from_env({"GLUE_LOAD_JOB": "the-job", "DATA_BUCKET": "b"})
    handler = s3_events.S3Loader(settings, s3=object(), glue=Glue(), db=object())
    obj = s3_events.S3Object("b", "incoming/jobs/jobs.csv", 10**9)
    handler.start_glue_load(obj, dictionary.table("jobs"), 10**9)
    load = next(s for s in glue_job_scripts() if s.name == LOAD_JOB)
    required, readable = script_parameters(load.script)
    passed = {a[2:] for a in calls[0]["Arguments"]}
    assert set(load.run_arguments) <= passed
    assert passed <= readable


def test_the_scheduled_glue_backup_writes_under_the_data_bucket_on_a_glue_schedule(synthesis):
    from chalicelib.backups import layout as backup_layout

    template = synthesis.templates["prod"]
    (trigger,) = of_type(template, "AWS::Glue::Trigger").values()
    props = trigger["Properties"]
    assert props["Type"] == "SCHEDULED" and props["Schedule"].startswith("cron(") and props["StartOnCreation"]
    jobs = {
        k: v for k, v in of_type(template, "AWS::Glue::Job").items() if v["Properties"]["Name"].endswith("-backup-avro")
    }
    ((job_id, job),) = jobs.items()
    assert props["Actions"] == [{"JobName": {"Ref": job_id}}]
    root = job["Properties"]["DefaultArguments"]["--BACKUP_ROOT"]
    bucket = data_bucket(template)
    assert root == {"Fn::Join": ["", ["s3://", {"Ref": bucket}, "/"]]}
    # The job adds the layout's backups/<id>/ under that root, as the Lambda backup does in the bucket.
    assert backup_layout.backup_prefix("x").startswith(backup_layout.BACKUPS_PREFIX)


# -- function environments ---------------------------------------------------------------------------


def data_bucket(template: dict) -> str:
    """The bucket the API function is told about (DATA_BUCKET)."""
    return template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]["DATA_BUCKET"]["Ref"]


def environment_names_the_code_reads() -> set[str]:
    """Every upper-case name the app reads from an environment mapping (env.get, os.environ[...], _int(env, ...)),
    plus what Powertools reads."""
    from aws_lambda_powertools.shared import constants

    names = {v for k, v in vars(constants).items() if k.endswith("_ENV") and isinstance(v, str)}
    files = [PROJECT_DIR / "app.py", *(PROJECT_DIR / "chalicelib").rglob("*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            args = []
            if isinstance(node, ast.Call):
                args = node.args[:2]
            elif isinstance(node, ast.Subscript):
                args = [node.slice]
            for arg in args:
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and re.fullmatch(r"[A-Z][A-Z0-9_]{2,}", arg.value)
                ):
                    names.add(arg.value)
    return names


def placeholder(value, name: str, template: dict | None = None) -> str:
    """A deploy-time value (a Ref, a GetAtt, a join of them) as the string Lambda would see; a secret's Ref
    as a secret's ARN."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(placeholder(part, name, template) for part in parts)
    ref = value.get("Ref", "")
    if ref in PSEUDO_PARAMETERS:
        return PSEUDO_PARAMETERS[ref]
    if template and template["Resources"].get(ref, {}).get("Type", "").startswith("AWS::SecretsManager::"):
        return f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{ref}"
    return f"resolved-{name.lower()}"


def function_environments(template: dict) -> dict[str, dict[str, str]]:
    return {
        name: {
            k: placeholder(v, k, template)
            for k, v in f["Properties"].get("Environment", {}).get("Variables", {}).items()
        }
        for name, f in of_type(template, "AWS::Serverless::Function").items()
    }


@pytest.mark.parametrize("stage", STAGES)
def test_every_environment_variable_a_function_gets_is_read_by_the_code(synthesis, stage):
    read = environment_names_the_code_reads()
    assert {"DB_SECRET_ARN", "API_URL", "LOADER_MAX_BYTES", "POWERTOOLS_SERVICE_NAME"} <= read  # the scan sees reads
    for name, env in function_environments(synthesis.templates[stage]).items():
        assert set(env) - read == set(), name


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_environment_satisfies_the_settings_its_code_parses(synthesis, stage, monkeypatch):
    from chalicelib.runtime import settings as settings_module

    # The secret as RDS writes it: credentials only, so the host and database must come from the environment.
    monkeypatch.setattr(settings_module, "database_secret", lambda arn: {"username": "u", "password": "p"})
    environments = function_environments(synthesis.templates[stage])
    assert {"APIHandler", "S3Loader", "ScheduledBackup", "AutoTester"} <= set(environments)
    for name, env in environments.items():
        parsed = settings_module.Settings.from_env(env)  # raises on a malformed value (LOADER_MAX_BYTES)
        if name == "AutoTester":
            assert parsed.api_url and parsed.api_key_secret_arn, name
            continue
        if DATA_API[stage] and name in ("APIHandler", "ClientKey"):
            assert_reaches_the_data_api(name, parsed)
            continue
        url = parsed.database_url
        assert url.startswith("mysql://") and "@resolved-db_host:" in url and url.split("?")[0].endswith("/hr"), name
        assert bool(parsed.data_bucket) == (name != "ClientKey"), name  # the authorizer reads clients, not files
        if name == "S3Loader":
            assert parsed.glue_load_job and parsed.loader_max_bytes > 0


def assert_reaches_the_data_api(name: str, parsed) -> None:
    """The function's database URLs open the Data API backend on the cluster, as the app user (and the admin
    user for the handler's schema routes)."""
    from chalicelib.db import connect
    from chalicelib.db.data_api import DataApiDatabase

    database = connect(parsed.database_url)
    assert isinstance(database, DataApiDatabase), name
    assert database.resource_arn.startswith("arn:aws:rds:us-east-1:123456789012:cluster:"), name
    assert database.secret_arn.split(":")[-1].startswith("DatabaseUsersAppSecretAttachment"), name
    assert database.database == "hr", name
    admin = connect(parsed.admin_database_url)
    expected = "DatabaseUsersAdminSecretAttachment" if name == "APIHandler" else "DatabaseUsersAppSecretAttachment"
    assert admin.secret_arn.split(":")[-1].startswith(expected), name
    if name == "APIHandler":
        assert parsed.data_bucket, name


# -- grants --------------------------------------------------------------------------------------------


def role_of_function(function: dict) -> str:
    role = function["Properties"]["Role"]
    return role["Fn::GetAtt"][0]


def role_grants(template: dict) -> dict[str, list[dict]]:
    """Role logical id -> the statements of the policies attached to it."""
    grants: dict[str, list[dict]] = {}
    for policy in of_type(template, "AWS::IAM::Policy").values():
        for role in policy["Properties"].get("Roles", []):
            grants.setdefault(role["Ref"], []).extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return grants


def roles_allowed(template: dict, action: str, resource_id: str) -> set[str]:
    """Roles with `action` on a resource whose template expression mentions `resource_id`."""
    return {
        role
        for role, statements in role_grants(template).items()
        for s in statements
        if s.get("Effect") == "Allow" and action in as_list(s["Action"]) and resource_id in json.dumps(s["Resource"])
    }


def users(template: dict, resource_id: str) -> set[str]:
    """Roles of the functions, jobs, the smoke run and the RDS proxy whose configuration mentions `resource_id`."""
    found = set()
    for proxy in of_type(template, "AWS::RDS::DBProxy").values():
        if resource_id in json.dumps(proxy["Properties"]["Auth"]):
            found.add(proxy["Properties"]["RoleArn"]["Fn::GetAtt"][0])
    for function in of_type(template, "AWS::Serverless::Function").values():
        if resource_id in json.dumps(function["Properties"].get("Environment", {})):
            found.add(role_of_function(function))
    for function in of_type(template, "AWS::Lambda::Function").values():
        if resource_id in json.dumps(function["Properties"].get("Environment", {})):
            found.add(function["Properties"]["Role"]["Fn::GetAtt"][0])
    for job in of_type(template, "AWS::Glue::Job").values():
        if resource_id in json.dumps(job["Properties"]["DefaultArguments"]):
            found.add(job["Properties"]["Role"]["Fn::GetAtt"][0])
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_each_secret_is_readable_by_exactly_the_roles_configured_to_read_it(synthesis, stage):
    template = synthesis.templates[stage]
    secrets = [
        *of_type(template, "AWS::SecretsManager::Secret"),
        *of_type(template, "AWS::SecretsManager::SecretTargetAttachment"),
    ]
    checked = 0
    for secret in secrets:
        configured = users(template, secret)
        if not configured:
            continue
        checked += 1
        allowed = roles_allowed(template, "secretsmanager:GetSecretValue", secret)
        assert allowed == configured, secret
    assert checked >= 2  # the database secret and the API key secret


@pytest.mark.parametrize("stage", STAGES)
def test_the_data_bucket_and_the_load_job_are_granted_to_exactly_their_users(synthesis, stage):
    template = synthesis.templates[stage]
    bucket = data_bucket(template)
    configured = users(template, bucket)
    # The scheduled functions' app role, the API's, the loader's, the Glue jobs', and the job worker's (it
    # writes backups/ and reads them to restore); not the authorizer's, which reads clients, not files.
    assert len(configured) == 5
    assert roles_allowed(template, "s3:GetObject*", bucket) == configured
    assert roles_allowed(template, "s3:PutObject", bucket) == configured
    load_job = next(
        k for k, v in of_type(template, "AWS::Glue::Job").items() if v["Properties"]["Name"].endswith(LOAD_JOB)
    )
    # Roles that may start the load job by name or by a wildcard: the loader alone (the job worker starts
    # only the backup and restore jobs).
    starters = {
        r
        for r, st in role_grants(template).items()
        for s in st
        if "glue:StartJobRun" in as_list(s["Action"])
        and (load_job in json.dumps(s["Resource"]) or "*" in json.dumps(s["Resource"]))
    }
    assert starters == users(template, load_job) == roles_allowed(template, "glue:StartJobRun", load_job)
    for job in of_type(template, "AWS::Glue::Job"):
        assert roles_allowed(template, "glue:StartJobRun", job) <= users(template, job), job
