"""Usage keys: each client is metered by its own API Gateway API key on the stage's usage plan.

The REST API's key source is AUTHORIZER: API Gateway takes the key to meter from the authorizer's
`usageIdentifierKey`, never from the caller, so a usage key identifies a client to the usage plan and
grants nothing. Its value is random but not a secret (it is stored in `api_clients.usage_key` as is);
the client's secret stays its `x-api-key`, kept only as a hash.

Each key is tagged with its usage plan, so the operator's IAM policy (the CDK stack's
`ClientsAdminPolicyArn`) can allow creating and deleting this stage's keys and no other.
"""

from __future__ import annotations

import secrets
from typing import Any

USAGE_KEY_BYTES = 24  # 32 characters: API Gateway wants at least 20
PLAN_TAG = "usage-plan"


class UsageKeyError(Exception):
    """API Gateway refused to make, attach or delete a usage key (the message says which and why)."""


def _apigateway(client: Any = None) -> Any:
    if client is not None:
        return client
    import boto3

    return boto3.client("apigateway")


def _why(exc: Exception) -> str:
    error = getattr(exc, "response", {}).get("Error", {})
    return f"{error.get('Code')}: {error.get('Message')}" if error else str(exc)


def create(plan_id: str, client_name: str, apigateway: Any = None) -> str:
    """A new API key named after the client, enabled and on the usage plan; returns its value."""
    from botocore.exceptions import BotoCoreError, ClientError

    apigateway = _apigateway(apigateway)
    value = secrets.token_urlsafe(USAGE_KEY_BYTES)
    try:
        key = apigateway.create_api_key(
            name=client_name,
            description=f"usage key of API client {client_name} (identifies it to usage plan {plan_id}; not a secret)",
            enabled=True,
            value=value,
            tags={PLAN_TAG: plan_id},
        )
    except (BotoCoreError, ClientError) as exc:
        raise UsageKeyError(f"API Gateway did not create a usage key for {client_name!r}: {_why(exc)}") from None
    try:
        apigateway.create_usage_plan_key(usagePlanId=plan_id, keyId=key["id"], keyType="API_KEY")
    except (BotoCoreError, ClientError) as exc:
        apigateway.delete_api_key(apiKey=key["id"])  # not left behind, unattached
        raise UsageKeyError(
            f"API Gateway did not put {client_name!r}'s usage key on plan {plan_id}: {_why(exc)}"
        ) from None
    return value


def delete(plan_id: str, client_name: str, value: str, apigateway: Any = None) -> bool:
    """Delete the client's API key from API Gateway (which takes it off the plan); False if none was found."""
    from botocore.exceptions import BotoCoreError, ClientError

    apigateway = _apigateway(apigateway)
    try:
        found = [
            item["id"]
            for page in apigateway.get_paginator("get_usage_plan_keys").paginate(
                usagePlanId=plan_id, nameQuery=client_name
            )
            for item in page["items"]
            if item.get("value") == value
        ]
        for key_id in found:
            apigateway.delete_api_key(apiKey=key_id)
    except (BotoCoreError, ClientError) as exc:
        raise UsageKeyError(f"API Gateway did not delete {client_name!r}'s usage key: {_why(exc)}") from None
    return bool(found)
