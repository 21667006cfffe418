#!/usr/bin/env python3
"""Applies the SAM transform to synthesized templates, offline: `python sam_transform.py IN.json OUT.json ...`.

Runs in the scanner's own virtualenv (cdk/requirements-checkov.txt). The functions pass their own
roles, so no AWS managed policy has to be looked up.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from samtranslator.translator.transform import transform


class _NoManagedPolicies:
    def load(self) -> dict:
        return {}


def _without_applications(template: dict) -> dict:
    """Serverless applications as the nested stacks SAM makes of them, without asking the Serverless
    Application Repository (which needs credentials) for their template URL."""
    template = json.loads(json.dumps(template))
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Application":
            props = resource["Properties"]
            resource["Type"] = "AWS::CloudFormation::Stack"
            resource["Properties"] = {
                "TemplateURL": "https://serverlessrepo.invalid/template.yaml",
                "Parameters": props.get("Parameters", {}),
                "Tags": [{"Key": k, "Value": v} for k, v in props.get("Tags", {}).items()],
            }
    return template


def sam_to_cloudformation(template: dict) -> dict:
    """The CloudFormation that the `AWS::Serverless-2016-10-31` transform makes of `template`."""
    template = _without_applications(template)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # SAM fills in AWS::Region; nothing is called
    return transform(template, {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}, _NoManagedPolicies())


def main(argv: list[str]) -> int:
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    for source, target in zip(argv[::2], argv[1::2]):
        Path(target).write_text(json.dumps(sam_to_cloudformation(json.loads(Path(source).read_text())), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
