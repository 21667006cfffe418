"""What gets deployed, scanned: the templates with the SAM transform applied, checked by checkov.

checkov and the SAM translator live in their own virtualenv (cdk/requirements-checkov.txt), next to
the running one: `<venv>/checkov`, made by `make test` (mk/cdk.mk) or, failing that, here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_DIR / "cdk"))
from hr_infra.scan import DATA_API_ACKNOWLEDGED, acknowledgements  # noqa: E402
from hr_infra.settings import stages_from_context  # noqa: E402

STAGES = ("dev", "prod")
DATA_API = {
    s.stage: s.api_uses_data_api
    for s in stages_from_context(json.loads((PROJECT_DIR / "cdk" / "cdk.json").read_text())["context"]["hr:stages"])
}
SCANNER_VENV = Path(sys.prefix) / "checkov"


def scanner() -> Path:
    python = SCANNER_VENV / "bin" / "python"
    if not (SCANNER_VENV / "bin" / "checkov").exists():
        subprocess.run([sys.executable, "-m", "venv", str(SCANNER_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(PROJECT_DIR / "cdk" / "requirements-checkov.txt")],
            check=True,
            timeout=900,
        )
    return python


@pytest.fixture(scope="session")
def deployed(synthesis, tmp_path_factory) -> dict:
    """stage -> (transformed template, checkov's failed checks), one scan of both stages per session."""
    python = scanner()
    out = tmp_path_factory.mktemp("deployed")
    pairs = []
    for stage in STAGES:
        pairs += [str(synthesis.outdir / f"{stage}.template.json"), str(out / f"{stage}.json")]
    subprocess.run(
        [str(python), str(PROJECT_DIR / "cdk" / "sam_transform.py"), *pairs],
        check=True,
        timeout=300,
        capture_output=True,
    )
    result = subprocess.run(
        [
            str(SCANNER_VENV / "bin" / "checkov"),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
            *(a for stage in STAGES for a in ("-f", str(out / f"{stage}.json"))),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = {stage: [] for stage in STAGES}
    for report in reports:
        for check in report["results"]["failed_checks"]:
            failed[Path(check["file_path"]).stem].append((check["check_id"], check["resource"]))
    return {stage: (json.loads((out / f"{stage}.json").read_text()), failed[stage]) for stage in STAGES}


def acknowledged(stage: str, check_id: str, resource: str) -> bool:
    return any(check_id == c and resource.startswith(prefix) for c, prefix in acknowledgements(DATA_API[stage]))


@pytest.mark.parametrize("stage", STAGES)
def test_the_scan_sees_the_api_gateway_and_lambda_resources_that_get_deployed(deployed, stage):
    template, _ = deployed[stage]
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not any(k.startswith("AWS::Serverless::") for k in kinds)
    assert {"AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage", "AWS::Lambda::Function"} <= kinds
    (stage_props,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert stage_props["TracingEnabled"] is True and "AccessLogSetting" in stage_props
    assert stage_props["MethodSettings"][0]["ThrottlingRateLimit"] > 0


@pytest.mark.parametrize("stage", STAGES)
def test_every_checkov_finding_is_fixed_or_acknowledged(deployed, stage):
    _, failed = deployed[stage]
    assert [f for f in failed if not acknowledged(stage, *f)] == []


def test_the_api_functions_are_outside_the_vpc_exactly_in_the_data_api_stages(deployed):
    assert set(DATA_API.values()) == {True, False}, "cdk.json should keep one stage of each mode, so both are scanned"
    for stage in STAGES:
        outside_the_vpc = [r for c, r in deployed[stage][1] if c == "CKV_AWS_117"]
        for check, prefix in DATA_API_ACKNOWLEDGED:
            assert check == "CKV_AWS_117"
            assert any(r.startswith(prefix) for r in outside_the_vpc) is DATA_API[stage], (stage, prefix)


def test_every_checkov_acknowledgement_is_used_and_has_a_reason(deployed):
    everything = acknowledgements(data_api=True)
    used = {
        (c, p)
        for stage in STAGES
        for check, resource in deployed[stage][1]
        for c, p in acknowledgements(DATA_API[stage])
        if check == c and resource.startswith(p)
    }
    assert set(everything) - used == set()
    for key, reason in everything.items():
        assert len(reason) >= 30, key


if __name__ == "__main__":  # python tests/cdk/test_deployed_scan.py OUTDIR: print the findings of a synth
    import collections

    outdir = Path(sys.argv[1])
    found = collections.Counter()
    for stage in STAGES:
        subprocess.run(
            [
                str(scanner()),
                str(PROJECT_DIR / "cdk" / "sam_transform.py"),
                str(outdir / f"{stage}.template.json"),
                str(outdir / f"{stage}.cfn.json"),
            ],
            check=True,
        )
        run = subprocess.run(
            [
                str(SCANNER_VENV / "bin" / "checkov"),
                "--framework",
                "cloudformation",
                "-o",
                "json",
                "--quiet",
                "--compact",
                "--skip-download",
                "-f",
                str(outdir / f"{stage}.cfn.json"),
            ],
            capture_output=True,
            text=True,
        )
        for check in json.loads(run.stdout)["results"]["failed_checks"]:
            found[(check["check_id"], check["resource"], check["check_name"][:70], stage)] += 1
    for key in sorted(found):
        print(*key)
