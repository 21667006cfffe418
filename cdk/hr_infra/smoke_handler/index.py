"""The smoke run after a deploy: run the auto-tester function and fail if it fails (after a few tries).

The tables exist by then: the database users' bootstrap, which the trigger runs after, creates them.

Runs as a CDK trigger: raising here fails the deployment (and CloudFormation rolls it back).
"""

from __future__ import annotations

import json
import os
import time

# What EventBridge sends a scheduled function; Chalice's schedule handler reads these fields.
SCHEDULED_EVENT = {
    "version": "0",
    "id": "smoke-run",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "",
    "time": "1970-01-01T00:00:00Z",
    "region": "",
    "resources": [],
    "detail": {},
}


def handler(
    event,
    context,
    *,
    lambda_client=None,
    attempts: int | None = None,
    pause: float = 15.0,
) -> dict:
    import boto3

    lambda_client = lambda_client or boto3.client("lambda")
    attempts = attempts or int(os.environ.get("ATTEMPTS", "4"))
    last: object = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(pause)  # a new API key or stage can take a moment to answer
        response = lambda_client.invoke(
            FunctionName=os.environ["AUTO_TESTER"],
            InvocationType="RequestResponse",
            Payload=json.dumps(SCHEDULED_EVENT).encode(),
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if "FunctionError" not in response and isinstance(payload, dict) and payload.get("ok") is True:
            print(json.dumps({"smoke_run": "passed", "attempt": attempt + 1, "report": payload}))
            return payload
        last = payload
        print(json.dumps({"smoke_run": "failed", "attempt": attempt + 1, "report": payload}))
    raise RuntimeError(f"smoke run failed after {attempts} attempts: {json.dumps(last)[:2000]}")
