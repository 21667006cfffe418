"""The synthesized stacks' Glue jobs and the package of shared modules they import."""

from __future__ import annotations

import json
import zipfile

import pytest

from tests.cdk.template import (
    PROJECT_DIR,
    STAGES,
    logical_id,
    only,
    resources,
)

# -- Glue ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_three_glue_5_jobs_with_script_and_shared_modules_assets_in_the_vpc(synthesis, stage):
    jobs = resources(synthesis, stage, "AWS::Glue::Job")
    assert sorted(j["Properties"]["Name"] for j in jobs.values()) == sorted(
        f"hr-migration-{stage}-{n}" for n in ("load-csv", "backup-avro", "restore-avro")
    )
    connection_id, connection = only(synthesis, stage, "AWS::Glue::Connection")
    conn = connection["Properties"]["ConnectionInput"]
    assert conn["ConnectionType"] == "JDBC"
    assert conn["ConnectionProperties"]["JDBC_ENFORCE_SSL"] == "true"
    assert "jdbc:mysql://" in json.dumps(conn["ConnectionProperties"]["JDBC_CONNECTION_URL"])
    assert conn["PhysicalConnectionRequirements"]["SubnetId"]["Ref"].startswith("NetworkVpcappSubnet")
    secret_id = logical_id(synthesis, stage, "AWS::SecretsManager::SecretTargetAttachment", "UsersAppSecret")
    proxy_id, _ = only(synthesis, stage, "AWS::RDS::DBProxy")
    assets = json.loads(next(synthesis.outdir.glob(f"{stage}.assets.json")).read_text())["files"]
    for job in jobs.values():
        props = job["Properties"]
        assert props["GlueVersion"] == "5.0"
        assert props["Command"]["Name"] == "glueetl" and props["Command"]["PythonVersion"] == "3"
        assert props["Connections"] == {"Connections": [{"Ref": connection_id}]}
        assert "SecurityConfiguration" in props
        args = props["DefaultArguments"]
        assert args["--DB_SECRET_ARN"] == {"Ref": secret_id}
        assert args["--DB_HOST"] == {"Fn::GetAtt": [proxy_id, "Endpoint"]}  # verified TLS via the proxy
        assert args["--enable-continuous-cloudwatch-log"] == "true"
        script_hash = json.dumps(props["Command"]["ScriptLocation"]).split("/")[-1].split(".py")[0]
        assert assets[script_hash]["source"]["path"].endswith(".py")
        assert ".zip" in json.dumps(args["--extra-py-files"])


def test_glue_shared_modules_zip_holds_chalicelib_hrjobs_and_pymysql(synthesis):
    template = synthesis.templates["dev"]
    job = next(iter(resources(synthesis, "dev", "AWS::Glue::Job").values()))
    zip_key = json.dumps(job["Properties"]["DefaultArguments"]["--extra-py-files"]).split("/")[-1].split(".zip")[0]
    assets = json.loads((synthesis.outdir / "dev.assets.json").read_text())["files"]
    archive = synthesis.outdir / assets[zip_key]["source"]["path"]
    with zipfile.ZipFile(archive) as zip_file:
        names = set(zip_file.namelist())
        assert {
            "chalicelib/__init__.py",
            "chalicelib/rules/dictionary.py",
            "chalicelib/rules/validation.py",
            "chalicelib/backups/layout.py",
            "chalicelib/db/mysql.py",
            "hrjobs/__init__.py",
            "pymysql/__init__.py",
            "pymysql/connections.py",
        } <= names
        assert (
            zip_file.read("chalicelib/rules/dictionary.py")
            == (PROJECT_DIR / "chalicelib/rules/dictionary.py").read_bytes()
        )
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert {info.date_time for info in zip_file.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert template  # the zip came from this synthesis


def test_glue_shared_modules_zip_is_reproducible():
    from hr_infra.glue_jobs import GlueJobs

    first = GlueJobs._stage_shared_modules(PROJECT_DIR).read_bytes()
    second = GlueJobs._stage_shared_modules(PROJECT_DIR).read_bytes()
    assert first == second
