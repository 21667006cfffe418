"""Structured JSON logging shared by the app, the loader and the CLI (Powertools Logger)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

# Under the CLI and the test suite, logs go to stderr and stay quiet unless asked for.
logger = Logger(
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "hr-migration"),
    level=os.environ.get("LOG_LEVEL", "INFO"),
)
