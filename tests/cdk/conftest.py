"""Synthesizes the CDK app once per test session (both stages, cdk-nag on) and shares the result.

Synthesis packages the real Chalice app (app.py, chalicelib, requirements.txt) with `chalice package`
and the real Glue scripts, offline apart from the wheels pip may need to fetch once.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
CDK_DIR = PROJECT_DIR / "cdk"


@dataclass
class Synthesis:
    outdir: Path
    templates: dict[str, dict]  # stage -> template
    validation_report: dict | None
    error: str | None
    warnings: list[str]

    def template(self, stage: str):
        from aws_cdk.assertions import Template

        return Template.from_json(self.templates[stage])


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory) -> Synthesis:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
    if str(CDK_DIR) not in sys.path:
        sys.path.insert(0, str(CDK_DIR))
    import aws_cdk as cdk
    from main import build

    context = json.loads((CDK_DIR / "cdk.json").read_text())["context"]
    outdir = tmp_path_factory.mktemp("cdk.out")
    # chalice.cdk writes its packages to ./chalice.out (keep them out of the work tree), and loading the
    # app puts the stage's environment variables (CDK tokens) into os.environ: put both back after.
    previous, environment = Path.cwd(), dict(os.environ)
    os.chdir(tmp_path_factory.mktemp("chalice-cwd"))
    try:
        app = cdk.App(context=context, outdir=str(outdir))
        stacks = build(app)
        error = None
        try:
            assembly = app.synth()
        except RuntimeError as exc:  # cdk-nag / policy validation failures; templates are written first
            error = str(exc)
            assembly = None
    finally:
        os.chdir(previous)
        os.environ.clear()
        os.environ.update(environment)
    templates = {s.node.id: json.loads((outdir / f"{s.artifact_id}.template.json").read_text()) for s in stacks}
    report_path = outdir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    warnings = []
    if assembly is not None:
        for stack in stacks:
            for message in assembly.get_stack_by_name(stack.stack_name).messages:
                if str(message.level).lower().endswith("warning"):
                    warnings.append(f"{message.id}: {message.entry.data}")
    return Synthesis(outdir, templates, report, error, warnings)


@pytest.fixture(scope="session")
def dev(synthesis):
    return synthesis.template("dev")


@pytest.fixture(scope="session")
def prod(synthesis):
    return synthesis.template("prod")
