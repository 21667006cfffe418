"""scripts/stack-output.py: the one reading of `cdk deploy --outputs-file` the smoke run relies on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "stack-output.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_prints_the_named_output_of_the_stack(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"hr-migration-dev": {"ApiUrl": "https://x.example/api/", "ApiKeySecretArn": "arn"}}))
    result = run(str(path), "ApiUrl")
    assert result.returncode == 0 and result.stdout == "https://x.example/api/\n"


def test_a_missing_output_or_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"hr-migration-dev": {}}))
    missing = run(str(path), "ApiUrl")
    assert missing.returncode == 2 and "0 stacks with output ApiUrl" in missing.stderr
    unreadable = run(str(tmp_path / "nope.json"), "ApiUrl")
    assert unreadable.returncode == 2 and len(unreadable.stderr.strip().splitlines()) == 1
