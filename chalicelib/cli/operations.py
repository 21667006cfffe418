"""Operators' commands: updates and truncates, the consistency check, background jobs, the smoke run,
API clients and the retention purge. The loading, reporting and backup commands are in main.py."""

from __future__ import annotations

import json
import os
import sys

from chalicelib import db as databases
from chalicelib.access import clients as api_clients
from chalicelib.access import retention, usage
from chalicelib.access.scopes import InvalidScopes
from chalicelib.api.errors import error_title
from chalicelib.cli.context import CliError, _database
from chalicelib.jobs.store import JobStore
from chalicelib.loading import updates
from chalicelib.rules.dictionary import TABLES


def cmd_update(args) -> int:
    fields = {}
    for assignment in args.set:
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise CliError(f"--set takes field=value, got {assignment!r}")
        fields[name] = value
    table = TABLES[args.table]
    try:
        result = updates.update_row(_database(args), table, args.id, fields, replace=args.replace, source="cli")
    except updates.UpdateRejected as exc:
        raise CliError(f"row rejected: {'; '.join(exc.reasons)}") from None
    except (updates.IdChangeRefused, updates.EmptyUpdate) as exc:
        raise CliError(f"{error_title(exc)}: {exc}") from None
    if result is None:
        raise CliError(f"not found: {table.name} {args.id} does not exist")
    print(json.dumps({"row": result.row, "changed": result.changed}, ensure_ascii=False, indent=2))
    return 0


def cmd_truncate(args) -> int:
    try:
        deleted = updates.truncate_table(_database(args), TABLES[args.table], cascade=args.cascade)
    except databases.ReferencedTable as exc:
        raise CliError(f"{error_title(exc)}: {exc} (--cascade)") from None
    print(json.dumps({"truncated": deleted}, indent=2))
    return 0


def cmd_check(args) -> int:
    """The consistency check; exit status 1 when anything is off."""
    database = _database(args)
    found = database.check_consistency()
    if args.rebuild_summary and found.counts["summary"]:
        database.rebuild_derived()
        print(f"summary rebuilt from hired_employees ({found.counts['summary']} row(s) were off)", file=sys.stderr)
        found = database.check_consistency()
    if args.json:
        print(json.dumps(found.to_dict(), indent=2))
        return 0 if found.ok else 1
    for name, problems in found.problems.items():
        count = found.counts[name]
        print(f"{name}: {'ok' if not count else f'{count} problem(s)'}")
        for problem in problems:
            print(f"  {problem}")
        if count > len(problems):
            print(f"  ... and {count - len(problems)} more")
    return 0 if found.ok else 1


def cmd_jobs(args) -> int:
    store = JobStore(_database(args))
    if args.action == "show":
        print(json.dumps(store.get(args.id).to_dict(), indent=2, ensure_ascii=False))
        return 0
    for job in store.list(args.kind, args.state, limit=args.limit):
        shown = job.to_dict()
        done, expected = job.rows_done, job.rows_expected
        print(f"{job.id}  {job.kind:<8} {job.state:<10} {shown['created_at']}  rows {done}/{expected or '?'}")
    return 0


def cmd_autotest(args) -> int:
    """The auto-tester's checks against a deployed API, once; exit status 1 if any endpoint failed."""
    from chalicelib.autotester import checks as autotester

    key = args.api_key or os.environ.get("API_KEY")
    if not key and args.api_key_secret:
        key = autotester.api_key(args.api_key_secret)
    if not key:
        raise CliError("give --api-key, --api-key-secret ARN or $API_KEY")
    report = autotester.check_all(args.url, key)
    print(json.dumps(report.to_dict(), indent=2))
    return 0 if report.ok else 1


def cmd_clients(args) -> int:
    database = _database(args)
    plan = getattr(args, "usage_plan", None)
    try:
        if args.action == "add":
            client, key = api_clients.add(database, args.name, args.scope, usage_plan_id=plan)
            print(f"client {client.name} added with scopes {','.join(client.scopes)}")
            print(_metering(client.usage_key, plan))
            print("its key, shown only now:")
            print(key)
        elif args.action == "list":
            for row in api_clients.listing(database):
                state = "revoked" if row["revoked"] else f"{row['keys']} valid key(s)"
                metered = "metered" if row["metered"] else "not metered"
                print(f"{row['name']}\t{','.join(row['scopes'])}\t{state}\t{metered}")
        elif args.action == "revoke":
            client = api_clients.revoke(database, args.name, usage_plan_id=plan)
            print(f"client {args.name} revoked: its keys are refused from now on")
            if client.usage_key and plan:
                print(f"its usage key was deleted from API Gateway (usage plan {plan})")
            elif client.usage_key:
                print(
                    "its usage key is still in API Gateway (no --usage-plan / USAGE_PLAN_ID): delete the API key "
                    f"named {args.name} with `aws apigateway delete-api-key`"
                )
        else:
            grace = int(retention.parse_age(args.grace).total_seconds())
            key = api_clients.rotate(database, args.name, grace, usage_plan_id=plan)
            print(f"client {args.name} has a new key; older keys stay valid for {args.grace}. The new key:")
            print(key)
    except (api_clients.ClientError, InvalidScopes, retention.InvalidAge, usage.UsageKeyError) as exc:
        raise CliError(str(exc)) from None
    return 0


def _metering(usage_key: str | None, plan: str | None) -> str:
    if usage_key:
        return f"API Gateway meters it with its own usage key on usage plan {plan}"
    return (
        "not metered: no --usage-plan / USAGE_PLAN_ID (in AWS, where the stage has a usage plan, it would be refused)"
    )


def cmd_purge(args) -> int:
    try:
        age = retention.parse_age(args.older_than)
    except retention.InvalidAge as exc:
        raise CliError(str(exc)) from None
    counts = retention.purge(_database(args), age)
    print(
        f"purged {counts['rejections']} rejection(s) and {counts['audit']} audit entr(ies) older than {args.older_than}"
    )
    return 0
