"""What the benchmarks share: a scratch MySQL database, `chalice local` in a subprocess, data files,
percentiles and peak memory. Figures are printed beside a baseline measured in the same run."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parent.parent
MYSQL = {
    "host": os.environ.get("MYSQL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("MYSQL_PORT", "3306")),
    "user": "root",
    "password": "",
}
WORK = ROOT / "bench" / "out"


def mysql_connection(database: str | None = None, **extra) -> pymysql.connections.Connection:
    return pymysql.connect(**MYSQL, database=database, charset="utf8mb4", autocommit=True, local_infile=True, **extra)


@contextlib.contextmanager
def scratch_database(prefix: str = "hr_bench") -> Iterator[str]:
    """A fresh MySQL database for one benchmark; yields its URL and drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = mysql_connection()
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"mysql://{MYSQL['user']}@{MYSQL['host']}:{MYSQL['port']}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(command: list[str], port: int, env: Mapping[str, str], any_answer: bool = False) -> Iterator[str]:
    """Run `command`, an HTTP server on 127.0.0.1:`port` (`chalice local`), from the project root in its
    own process group; yield its base URL (no trailing slash) once ``GET /status`` succeeds (with
    `any_answer`, once it answers at all), and stop the server afterwards. Used by the benchmarks and
    by the auto-tester's tests."""
    # A file, not a pipe: the dev server logs every request to stderr, and a full pipe would block it.
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=dict(env),
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(base + "/status", timeout=1)
                    break
                except urllib.error.HTTPError:
                    if any_answer:
                        break
                except Exception:
                    pass
                if proc.poll() is not None:
                    errors.seek(0)
                    raise RuntimeError(f"{command[0]} exited: " + errors.read().decode(errors="replace")[-2000:])
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(command[:3])} did not start within 60 s")
                time.sleep(0.2)
            yield base
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)


@contextlib.contextmanager
def chalice_local(database_url: str, api_key: str = "bench-key") -> Iterator[str]:
    """`chalice local` on the `local` stage pointed at `database_url`; yields its base URL."""
    port = free_port()
    # The stage's own DATABASE_URL / API_KEY would win over ours: run on a copy of the config.
    with serving(
        [sys.executable, "-m", "bench.chalice_local", str(port), database_url, api_key],
        port,
        dict(os.environ, DATABASE_URL=database_url, LOG_LEVEL="ERROR"),
    ) as base:
        yield base


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def p50(values: list[float]) -> float:
    return statistics.median(values)


def run_measured(python_args: list[str], env: dict | None = None) -> tuple[float, float, float, str]:
    """Run ``python -m bench.measure PYTHON_ARGS`` (``-m module ...`` or ``-c code ...``) from the project
    root: (wall seconds, CPU seconds, peak RSS MB of that process alone, stdout)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.measure", *python_args],
            cwd=ROOT,
            env={**os.environ, "LOG_LEVEL": "ERROR", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        err.seek(0)
        errors = err.read()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(python_args[:4])}... exited {proc.returncode}: {errors[-2000:]}")
    peak_kb = int(errors.rsplit("peak-rss-kb", 1)[1].split()[0])
    return wall, usage.ru_utime + usage.ru_stime, peak_kb / 1024, out


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its finished children), in MB."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024


def report(title: str, rows: list[tuple[str, str]]) -> None:
    """Print a benchmark's figures as an aligned two-column table."""
    width = max(len(k) for k, _ in rows)
    print(title)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    sys.stdout.flush()


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def dump(obj) -> str:
    return json.dumps(obj)
