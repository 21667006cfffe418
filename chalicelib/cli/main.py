"""Command line: ``python -m chalicelib.cli [--database URL] COMMAND ...`` (same code paths as the API)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from chalicelib import db as databases
from chalicelib.access import retention
from chalicelib.api.errors import error_title
from chalicelib.backups import layout as backup_layout
from chalicelib.backups import restore as restores
from chalicelib.backups import service as backups
from chalicelib.cli import progress
from chalicelib.cli.context import CliError, _database
from chalicelib.cli.operations import (
    cmd_autotest,
    cmd_check,
    cmd_clients,
    cmd_jobs,
    cmd_purge,
    cmd_truncate,
    cmd_update,
)
from chalicelib.jobs.model import KINDS, STATES, JobError
from chalicelib.loading import bucket_layout, ingest, loader, samples
from chalicelib.reports import queries as reports
from chalicelib.rules.dictionary import LOAD_ORDER, TABLES, Table, UnknownTable, table_for_filename
from chalicelib.runtime.log import logger
from chalicelib.runtime.settings import DEFAULT_LOCAL_DATABASE


def _csv_files(paths: list[str]) -> list[tuple[str, Table]]:
    """(path, table) of every file to load, referenced tables first; CliError for anything unusable."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(
                os.path.join(path, name)
                for name in os.listdir(path)
                if name.lower().endswith(".csv")
                and not bucket_layout.is_report(name)
                and os.path.isfile(os.path.join(path, name))
            )
            if not found:
                raise CliError(f"{path}: no .csv files in this folder")
            files.extend(found)
        elif os.path.isfile(path):
            if bucket_layout.is_report(path):
                raise CliError(f"{path}: a rejected-rows report, not data; load the fixed source file instead")
            files.append(path)
        elif os.path.exists(path):
            raise CliError(f"{path}: not a file or folder")
        else:
            raise CliError(f"{path}: no such file or folder")
    try:
        tables = [(path, table_for_filename(path)) for path in files]
    except UnknownTable as exc:
        raise CliError(f"cannot tell the table from the file name: {exc}") from None
    return sorted(tables, key=lambda pt: LOAD_ORDER.index(pt[1].name))


def cmd_schema(args) -> int:
    database = _database(args)
    if args.action == "create":
        database.create_schema()
        print(f"schema created ({database.dialect})")
    else:
        database.drop_schema()
        print(f"schema dropped ({database.dialect})")
    return 0


def cmd_load(args) -> int:
    database = _database(args)
    files = _csv_files(args.paths)
    show = progress.for_stream if args.progress else (lambda *a, **k: None)
    # Every file is checked whole before any is loaded: a file that cannot be read stops the command
    # with nothing loaded, rather than leaving a folder half in.
    checked: dict[str, loader.FileCheck] = {}
    for path, table in files:
        bar = show(sys.stderr, f"checking {os.path.basename(path)}", total_bytes=os.path.getsize(path))
        try:
            checked[path] = loader.check(loader.open_file(path), table, progress=bar)
        except loader.UnreadableFile as exc:
            raise CliError(f"{path}: {exc}; nothing was loaded") from None
        finally:
            if bar is not None:
                bar.done()
    started = time.monotonic()
    summary: dict[str, dict[str, int]] = {}
    reports = []
    for path, table in files:
        bar = show(
            sys.stderr, os.path.basename(path), total_records=checked[path].records, total_bytes=checked[path].bytes
        )
        with loader.RejectedRowsReport(table) as report:
            try:
                result = loader.load(
                    database,
                    table,
                    loader.open_file(path),
                    source=os.path.abspath(path),
                    checked=checked[path],
                    chunk_rows=args.chunk_rows,
                    progress=bar,
                    report=report,
                )
            except (loader.UnreadableFile, loader.LoadStopped) as exc:
                raise CliError(f"{path}: {exc}") from None
            finally:
                if bar is not None:
                    bar.done()
            if report.count and report.count >= args.report_min:
                target = os.path.join(os.path.dirname(os.path.abspath(path)), bucket_layout.report_name(path))
                try:
                    reports.append(report.save(target))
                except OSError as exc:
                    print(
                        f"warning: cannot write the rejected-rows report {target}: {exc.strerror or exc}",
                        file=sys.stderr,
                    )
        counts = summary.setdefault(table.name, {"files": 0, "inserted": 0, "unchanged": 0, "rejected": 0})
        counts["files"] += 1
        counts["inserted"] += result.inserted
        counts["unchanged"] += result.unchanged
        counts["rejected"] += result.rejected
    _print_load_summary(summary, time.monotonic() - started, reports)
    return 0


def _print_load_summary(summary: dict[str, dict[str, int]], seconds: float, reports: list[str]) -> None:
    print(f"{'table':<16} {'files':>5} {'inserted':>11} {'unchanged':>11} {'rejected':>11}")
    for name in (n for n in TABLES if n in summary):
        c = summary[name]
        print(f"{name:<16} {c['files']:>5} {c['inserted']:>11,} {c['unchanged']:>11,} {c['rejected']:>11,}")
    rows = sum(c["inserted"] + c["unchanged"] + c["rejected"] for c in summary.values())
    print(f"{rows:,} rows in {seconds:.{1 if seconds >= 10 else 2}f} s ({rows / max(seconds, 1e-9):,.0f} rows/s)")
    if any(c["rejected"] for c in summary.values()):
        print(
            "rejected rows are in the rejection log (GET /rejections); once what they lack is loaded, "
            "`python -m chalicelib.cli replay` retries them"
        )
    for path in reports:
        print(f"rejected-rows report: {path}")


def cmd_replay(args) -> int:
    result = ingest.replay_rejections(_database(args), args.table or None, source=args.source)
    print(json.dumps(result.to_dict(), indent=2))
    return 0


def cmd_samples(args) -> int:
    counts = samples.write_samples(args.out, employees=args.employees, seed=args.seed, broken=args.broken)
    print(", ".join(f"{name}: {n} rows" for name, n in counts.items()), f"-> {args.out}")
    return 0


def cmd_report(args) -> int:
    try:
        year = reports.parse_year(args.year)
    except reports.InvalidYear as exc:
        raise CliError(str(exc)) from None
    report = reports.REPORTS[args.name]
    rows = report.run(_database(args), year)
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif args.format == "csv":
        sys.stdout.write(reports.to_csv(rows, report.columns))
    else:
        print(f"{report.title}, {year}")
        sys.stdout.write(reports.to_table(rows, report.columns))
    return 0


def _backup_location(location: str | None):
    if location:
        return backups.open_store(location)
    return backups.BackupSettings.from_env().store()


def cmd_backup(args) -> int:
    store = _backup_location(args.to)
    try:
        tables = backups.tables_named(args.tables)
    except UnknownTable as exc:
        raise CliError(str(exc)) from None
    manifest = backups.create_backup(_database(args), store, tables, source="cli")
    print(f"backup {manifest['backup']} -> {store.location}/{backup_layout.backup_prefix(manifest['backup'])}")
    for name, info in manifest["tables"].items():
        print(f"  {name:16} {info['rows']:>10} rows  {info['bytes']:>12} bytes")
    return 0


def cmd_backups(args) -> int:
    for b in backups.list_backups(_backup_location(args.location)):
        state = "" if b["complete"] else "  (incomplete)"
        tables = ", ".join(f"{name} {info['rows']}" for name, info in b["tables"].items())
        print(
            f"{b['backup']}  {b['created_at'] or '-':20}  {b['source'] or '-':8}  "
            f"{b['bytes']:>12} bytes  {tables}{state}"
        )
    return 0


def cmd_restore(args) -> int:
    store, ref = backups.source(args.source)
    result = restores.restore(_database(args), store, ref, TABLES[args.table], with_dependents=args.with_dependents)
    restored = ", ".join(f"{name} {info['rows']} rows" for name, info in result["restored"].items())
    print(f"restored {restored} in {result['seconds']:.1f} s")
    return 0


def _row_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole positive number, got {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__)
    p.add_argument(
        "--database",
        help=f"sqlite:///path.db or mysql://user:password@host:port/db "
        f"(default: $DATABASE_URL, else {DEFAULT_LOCAL_DATABASE})",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="write the structured log (one line per rejected row)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("schema", help="create or drop the tables")
    s.add_argument("action", choices=["create", "drop"])
    s.set_defaults(func=cmd_schema)

    s = sub.add_parser("load", help="load CSV files or folders (table from the file name)")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument(
        "--chunk-rows", type=int, default=loader.CHUNK_ROWS, help="rows per transaction (default %(default)s)"
    )
    s.add_argument(
        "--report-min",
        type=int,
        default=loader.REPORT_MIN_REJECTED,
        metavar="N",
        help="write FILE.rejected.csv beside a file with at least N rejected rows (default %(default)s)",
    )
    s.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar, even on a terminal")
    s.set_defaults(func=cmd_load)

    s = sub.add_parser("replay", help="retry the rejected rows (e.g. after the missing departments arrived)")
    s.add_argument("--table", action="append", choices=list(TABLES))
    s.add_argument("--source", help="only the rejections of this source (a file's absolute path, s3://bucket/key)")
    s.set_defaults(func=cmd_replay)

    s = sub.add_parser("update", help="change fields of one stored row, under the same rules as an insert")
    s.add_argument("table", choices=list(TABLES))
    s.add_argument("id", type=_row_id, metavar="ID")
    s.add_argument(
        "--set", action="append", required=True, metavar="FIELD=VALUE", help="a field's new value (repeatable)"
    )
    s.add_argument("--replace", action="store_true", help="replace the whole row: every field must be --set")
    s.set_defaults(func=cmd_update)

    s = sub.add_parser("truncate", help="delete every row of a table (refused while other tables reference it)")
    s.add_argument("table", choices=list(TABLES))
    s.add_argument("--cascade", action="store_true", help="first empty the tables referencing it")
    s.set_defaults(func=cmd_truncate)

    s = sub.add_parser(
        "check", help="check the report summary, references and rejection log against the tables (exit 1 if off)"
    )
    s.add_argument("--json", action="store_true", help="print the findings as JSON")
    s.add_argument(
        "--rebuild-summary", action="store_true", help="when the summary is off, rebuild it from the table, then check"
    )
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("samples", help="write realistic sample CSVs (with some broken rows)")
    s.add_argument("--out", default="samples")
    s.add_argument("--employees", type=int, default=2000)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--broken", type=float, default=0.02, help="share of employee rows that break a rule")
    s.set_defaults(func=cmd_samples)
    s = sub.add_parser("report", help="print a stakeholder report (hires by quarter, departments above the mean)")
    s.add_argument("name", choices=list(reports.REPORTS))
    s.add_argument(
        "--year", default=str(reports.DEFAULT_YEAR), help=f"calendar year, UTC (default {reports.DEFAULT_YEAR})"
    )
    s.add_argument(
        "--format",
        choices=reports.FORMATS,
        default="table" if sys.stdout.isatty() else "json",
        help="json (an array of objects), csv (with a header row) or table (default on a terminal)",
    )
    s.set_defaults(func=cmd_report)
    s = sub.add_parser("backup", help="back up tables to Avro (default: every table)")
    s.add_argument("tables", nargs="*", metavar="TABLE", help=f"any of: {', '.join(TABLES)}")
    s.add_argument(
        "--to",
        metavar="DIR|s3://bucket/prefix",
        help="where backups/<id>/ goes (default: $DATA_BUCKET, else $BACKUP_DIR, else .local/backups)",
    )
    s.set_defaults(func=cmd_backup)

    s = sub.add_parser("jobs", help="background jobs (backups, restores, replays started through the API)")
    jobs_sub = s.add_subparsers(dest="action", required=True)
    listed = jobs_sub.add_parser("list", help="jobs, newest first")
    listed.add_argument("--kind", choices=KINDS)
    listed.add_argument("--state", choices=STATES)
    listed.add_argument("--limit", type=int, default=20)
    shown = jobs_sub.add_parser("show", help="one job: state, progress, timings, result or error")
    shown.add_argument("id")
    s.set_defaults(func=cmd_jobs)

    s = sub.add_parser("backups", help="list backups, newest first")
    s.add_argument("--in", dest="location", metavar="DIR|s3://bucket/prefix", help="as for backup --to")
    s.set_defaults(func=cmd_backups)

    s = sub.add_parser("restore", help="replace a table's rows with a backup's, atomically")
    s.add_argument("table", choices=list(TABLES))
    s.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="FILE|DIR|s3://...",
        help="the table's .avro file or part folder, or a backup folder (backups/<id>/)",
    )
    s.add_argument(
        "--with-dependents", action="store_true", help="also restore the tables referencing it, from the same backup"
    )
    s.set_defaults(func=cmd_restore)

    s = sub.add_parser("clients", help="the API's clients: add (prints the key once), list, revoke, rotate")
    s.add_argument(
        "--usage-plan",
        default=os.environ.get("USAGE_PLAN_ID") or None,
        help="the stage's API Gateway usage plan id (stack output UsagePlanId; default $USAGE_PLAN_ID): "
        "add gives each client its own usage key on it, revoke deletes it",
    )
    clients_sub = s.add_subparsers(dest="action", required=True)
    added = clients_sub.add_parser("add", help="a new client; its key is the last line of the output")
    added.add_argument("name")
    added.add_argument("--scope", required=True, help="read, write and/or admin, comma-separated")
    clients_sub.add_parser("list", help="every client, its scopes and how many keys are valid")
    clients_sub.add_parser("revoke", help="refuse the client's keys from now on").add_argument("name")
    rotated = clients_sub.add_parser("rotate", help="a new key; older ones stay valid for --grace")
    rotated.add_argument("name")
    rotated.add_argument("--grace", default="1d", help="how long older keys stay valid (e.g. 1d, 12h, 0h)")
    s.set_defaults(func=cmd_clients)

    s = sub.add_parser("purge", help="forget rejected rows and audit entries older than an age")
    s.add_argument("--older-than", default=retention.DEFAULT_RETENTION, help="e.g. 90d or 12h (default %(default)s)")
    s.set_defaults(func=cmd_purge)

    s = sub.add_parser("autotest", help="run the auto-tester's checks against a deployed API (exit 1 on failure)")
    s.add_argument("--url", required=True, help="the API's base URL (the stack output ApiUrl)")
    key = s.add_mutually_exclusive_group()
    key.add_argument("--api-key", help="the API key's value (default: $API_KEY)")
    key.add_argument(
        "--api-key-secret", metavar="ARN", help="a Secrets Manager secret holding the key (ApiKeySecretArn)"
    )
    s.set_defaults(func=cmd_autotest)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    level = logger.log_level
    if not args.verbose:
        # Rejected rows are in the rejection log and the summary; one JSON log line each is for -v.
        logger.setLevel("ERROR")
    try:
        return _run(args)
    finally:
        logger.setLevel(level)  # an in-process caller (a test, the smoke run) keeps its own log level


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except databases.DatabaseError as exc:
        print(f"error: database: {exc}", file=sys.stderr)
        return 1
    except JobError as exc:
        print(f"error: {error_title(exc)}: {exc}", file=sys.stderr)
        return 1
    except backups.BackupError as exc:
        print(f"error: {error_title(exc)}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
