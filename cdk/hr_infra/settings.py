"""Per-stage settings of the CDK app, parsed once from the `hr:stages` context (cdk.json)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from aws_cdk import aws_logs as logs

STAGES_CONTEXT_KEY = "hr:stages"
APP_NAME = "hr-migration"
DB_NAME = "hr"
DB_ADMIN_USER = "hradmin"
PROD = "prod"
# How the API's functions (the REST handler and its authorizer) reach the database.
VPC_ACCESS = "vpc"  # in the VPC, pymysql through the RDS Proxy
DATA_API_ACCESS = "data-api"  # outside the VPC, the RDS Data API over HTTPS (IAM + the app user's secret)
API_DATABASE_ACCESS = (VPC_ACCESS, DATA_API_ACCESS)

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


@dataclass(frozen=True)
class StageSettings:
    """What differs between `dev` and `prod`; everything else is the same code."""

    stage: str
    vpc_cidr: str
    db_min_capacity_acu: float
    db_max_capacity_acu: float
    db_readers: int
    backup_retention_days: int
    db_secret_rotation_days: int
    log_retention_days: int
    api_throttle_rate_per_second: float
    api_throttle_burst: int
    api_quota_per_day: int
    api_key_generation: int
    auto_tester_rate: str
    glue_workers: int
    glue_timeout_minutes: int
    loader_max_bytes: int
    alarm_email: str = ""
    # When the Glue backup job runs (a Glue cron expression, UTC), for tables too big for the Lambda backup.
    glue_backup_schedule: str = "cron(30 2 * * ? *)"
    # At most this many S3 loader invocations at once, so a flood of uploads cannot exhaust the database.
    loader_reserved_concurrency: int = 5
    # Alarm above this many database connections (set it near 80% of max_connections at dbMaxCapacityAcu).
    db_connections_alarm: int = 100
    # API Gateway writes access logs only with an account-wide (per region) CloudWatch role. True: this
    # stage's stack sets it. Where stages share an account, set it in one of them only.
    api_gateway_account_role: bool = True
    # "vpc" or "data-api" (API_DATABASE_ACCESS); only the API's functions move: the bulk paths (S3 loader,
    # job worker, schedules, Glue) stay in the VPC on pymysql, which LOAD DATA needs. See docs/database.md.
    api_database_access: str = VPC_ACCESS

    @property
    def is_prod(self) -> bool:
        """Production keeps its data: deletion protection, snapshots on delete, retained buckets."""
        return self.stage == PROD

    @property
    def api_uses_data_api(self) -> bool:
        """The API's functions run outside the VPC and query through the RDS Data API."""
        return self.api_database_access == DATA_API_ACCESS

    @property
    def log_retention(self) -> logs.RetentionDays:
        """`logRetentionDays` as CloudWatch Logs knows it (only some day counts exist)."""
        try:
            return _RETENTION[self.log_retention_days]
        except KeyError:
            raise ValueError(f"stage {self.stage!r}: logRetentionDays must be one of {sorted(_RETENTION)}") from None

    @property
    def stack_name(self) -> str:
        return f"{APP_NAME}-{self.stage}"

    @classmethod
    def from_context(cls, stage: str, raw: Mapping[str, Any]) -> StageSettings:
        """Settings for `stage` from the camelCase context object; unknown or missing keys fail loudly."""
        names = {_camel(f.name): f for f in fields(cls) if f.name != "stage"}
        unknown = set(raw) - set(names)
        if unknown:
            raise ValueError(f"stage {stage!r}: unknown settings {sorted(unknown)}")
        values: dict[str, Any] = {"stage": stage}
        for key, field in names.items():
            if key in raw:
                values[field.name] = raw[key]
            elif field.default is MISSING:
                raise ValueError(f"stage {stage!r}: missing setting {key!r}")
        if not values["auto_tester_rate"].startswith(("rate(", "cron(")):
            raise ValueError(f"stage {stage!r}: autoTesterRate must be a rate(...) or cron(...) expression")
        if not values.get("glue_backup_schedule", "cron(").startswith("cron("):
            raise ValueError(f"stage {stage!r}: glueBackupSchedule must be a cron(...) expression (Glue takes no rate)")
        if values.get("api_database_access", VPC_ACCESS) not in API_DATABASE_ACCESS:
            raise ValueError(
                f"stage {stage!r}: apiDatabaseAccess must be one of {list(API_DATABASE_ACCESS)}, "
                f"got {values['api_database_access']!r}"
            )
        settings = cls(**values)
        _ = settings.log_retention  # validates the day count
        return settings


def stages_from_context(context: Mapping[str, Any] | None, only: str | None = None) -> list[StageSettings]:
    """The stages to synthesize: all of `hr:stages`, or just `only` (from `-c stage=...`)."""
    if not context:
        raise ValueError(f"context {STAGES_CONTEXT_KEY!r} is missing (run from cdk/, where cdk.json is)")
    if only is not None and only not in context:
        raise ValueError(f"unknown stage {only!r}; cdk.json defines {sorted(context)}")
    names = [only] if only else list(context)
    return [StageSettings.from_context(name, context[name]) for name in names]


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)
