#!/usr/bin/env python3
"""The CDK app: one stack per stage of cdk.json's `hr:stages` (`cdk synth -c stage=prod` for one).

Named main.py, not app.py: Chalice imports the service's app.py as module `app` while synthesizing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hr_infra.settings import STAGES_CONTEXT_KEY, stages_from_context
from hr_infra.stack import HrMigrationStack


def build(app: cdk.App) -> list[HrMigrationStack]:
    """Add the stacks the context asks for to `app`, with the AwsSolutions checks on."""
    stages = stages_from_context(app.node.try_get_context(STAGES_CONTEXT_KEY), app.node.try_get_context("stage"))
    stacks = [HrMigrationStack(app, settings) for settings in stages]
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stacks


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
