"""The CI/CD workflow (.github/workflows/ci.yml): valid, free of known Actions pitfalls, and in step with the
repository it drives (the make targets it calls exist, deploys use OIDC, prod waits for dev and an approval)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def test_the_workflow_is_valid_against_the_github_workflow_schema():
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_in_the_workflow():
    # --offline: no GitHub API calls; the audits that need none (pinning, permissions, injection) still run.
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", str(WORKFLOW)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_every_push_runs_the_readme_test_command_through_ci_run(workflow):
    assert (True in workflow and "push" in workflow[True]) or "push" in workflow.get("on", {})
    assert any(".ci/run" in run for run in _runs(workflow["jobs"]["test"]))


def test_deploys_use_oidc_and_no_stored_aws_keys(workflow):
    text = WORKFLOW.read_text()
    assert not re.search(r"secrets\.AWS_(ACCESS|SECRET)", text)
    assert workflow["permissions"] == {"contents": "read"}
    for name in ("deploy-dev", "deploy-prod"):
        job = workflow["jobs"][name]
        assert job["permissions"].get("id-token") == "write"
        credentials = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws")]
        assert credentials and "role-to-assume" in credentials[0]["with"]


def test_dev_is_smoke_tested_before_prod_which_waits_for_an_approval(workflow):
    jobs = workflow["jobs"]
    assert jobs["deploy-dev"]["needs"] == "synth" and jobs["synth"]["needs"] == "test"
    assert jobs["deploy-prod"]["needs"] == "deploy-dev"
    assert jobs["deploy-prod"]["environment"] == "prod"  # required reviewers on this environment approve
    for name, stage in (("deploy-dev", "dev"), ("deploy-prod", "prod")):
        runs = _runs(jobs[name])
        assert runs.index(f"make deploy STAGE={stage}") < runs.index(f"make smoke STAGE={stage}")
        assert "vars.DEPLOY_ENABLED == 'true'" in jobs[name]["if"]


def test_every_make_target_the_workflow_calls_exists():
    targets = set(re.findall(r"make ([a-z][a-z-]*)", WORKFLOW.read_text()))
    assert targets >= {"synth", "deploy", "smoke"}
    for target in sorted(targets):
        result = subprocess.run(["make", "-n", target, "STAGE=dev"], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0 and "No rule to make target" not in result.stderr, (target, result.stderr)


def test_actions_are_pinned_to_full_commit_shas():
    uses = re.findall(r"uses:\s*([^\s#]+)", WORKFLOW.read_text())
    assert uses
    assert all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u) for u in uses), uses
