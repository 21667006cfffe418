"""Run a Glue job on this machine: ``python -m glue.local JOB --database URL [--ARG value ...]``.

    JOB            load_csv, backup_avro or restore_avro
    --database     mysql://user:password@host:port/db[?tls=true&ca=ca.pem] (default: $DATABASE_URL)
    --master       Spark master (default local[2])
    --jdbc-jar     the JDBC driver (default $MARIADB_JDBC_JAR, else Debian's libmariadb-java jar)
    --ARG value    the job's own arguments, as in Glue (--SOURCE, --BACKUP_ROOT, --TABLE, ...);
                   paths may be local (``bench/out/x.csv``) or URIs (``file:///...``)

The job runs in a local SparkSession (pyspark = Glue 5.0's Spark) exactly as Glue runs it, with the
database taken from the URL instead of Secrets Manager, and prints its summary as one JSON line. Bad
arguments or an unreachable database: one line on stderr and exit status 2 (arguments) or 1. The
tests and the benchmark start their jobs through `local_session` and `run` too.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

GLUE = Path(__file__).resolve().parent
ROOT = GLUE.parent
JOBS = {"load_csv": "load_job", "backup_avro": "backup_job", "restore_avro": "restore_job"}
PATH_ARGUMENTS = ("SOURCE", "REJECTED_PREFIX", "BACKUP_ROOT", "BACKUP")
DEFAULT_JDBC_JAR = "/usr/share/java/mariadb-java-client.jar"  # Debian's libmariadb-java (scripts/system-deps.sh)
LOCAL_JDBC_DRIVER = "org.mariadb.jdbc.Driver"
SHUFFLE_PARTITIONS = 8  # Spark's 200 are for clusters: on a few local cores each costs a task per stage
USAGE = "usage: python -m glue.local {" + ",".join(JOBS) + "} --database URL [--ARG value ...]"


class UsageError(ValueError):
    """Bad arguments: the message is the one line the user sees."""


def _import_paths() -> None:
    """The job scripts and hrjobs importable by name, here and in Spark's Python workers, as
    ``--extra-py-files`` makes them on Glue."""
    for path in (str(GLUE), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    paths = [str(ROOT), str(GLUE), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    os.environ["PYSPARK_PYTHON"] = sys.executable


def jdbc_jar() -> str:
    return os.environ.get("MARIADB_JDBC_JAR", DEFAULT_JDBC_JAR)


def local_session(
    master: str = "local[2]",
    scratch: Path | None = None,
    *,
    jar: str | None = None,
    java_options: str = "",
    config: Mapping[str, str] | None = None,
):
    """A local SparkSession the jobs run in as they do in Glue: the JDBC driver jar, Hive support (the
    Avro path of the pyspark wheel, see hrjobs.avro_io) with its metastore under `scratch`, UTC."""
    _import_paths()
    from pyspark.sql import SparkSession

    from hrjobs import runtime

    jar = jar or jdbc_jar()
    if not Path(jar).is_file():
        raise UsageError(
            f"no JDBC driver at {jar}: install libmariadb-java (scripts/system-deps.sh) or set MARIADB_JDBC_JAR"
        )
    scratch = scratch or Path(tempfile.mkdtemp(prefix="hr-glue-local-"))
    options = f"{java_options} -Dderby.system.home={scratch} -Dderby.stream.error.file={scratch / 'derby.log'}".strip()
    builder = (
        SparkSession.builder.master(master)
        .appName("hr-glue-local")
        .config("spark.jars", jar)
        .config("spark.driver.extraJavaOptions", options)
        .config("spark.executor.extraJavaOptions", options)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
        .config("spark.sql.warehouse.dir", (scratch / "warehouse").as_uri())
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={scratch / 'metastore_db'};create=true",
        )
    )
    for key, value in (config or {}).items():
        builder = builder.config(key, value)
    session = builder.enableHiveSupport().getOrCreate()
    session.sparkContext.setLogLevel("FATAL")  # the Hive path logs a harmless ERROR per Avro table
    return runtime.configure(session)


def target_for_url(url: str, driver: str = LOCAL_JDBC_DRIVER):
    """The jobs' MysqlTarget for a ``mysql://`` URL, its TLS settings included."""
    _import_paths()
    from chalicelib.db import InvalidDatabaseUrl, login_from_url
    from hrjobs import database

    try:
        login = login_from_url(url)
        target = database.MysqlTarget(login, driver)
        database.tls_url_options(login, driver)
    except (InvalidDatabaseUrl, database.CredentialsError) as exc:
        raise UsageError(str(exc)) from None
    return target


def check_reachable(target) -> None:
    """Fail fast, before Spark starts, when the database cannot be reached or refuses the login."""
    try:
        service = target.service_database()
        try:
            service.ping()
        finally:
            service.close()
    except Exception as exc:
        detail = " ".join(str(exc).split())
        where = f"{target.login.host}:{target.login.port}"
        raise ConnectionError(f"cannot reach the database at {where}: {detail}") from None


def _as_uri(value: str) -> str:
    if "://" in value:
        return value
    uri = Path(value).expanduser().resolve().as_uri()
    return uri + "/" if value.endswith("/") and not uri.endswith("/") else uri


def job_arguments(job: str, pairs: Sequence[str]) -> dict[str, str | None]:
    """The job's arguments from ``--NAME value`` pairs: known names only, the required ones present,
    the optional ones defaulted, local paths made URIs."""
    module = importlib.import_module(job)
    from hrjobs import runtime

    known = {*module.REQUIRED, *module.OPTIONAL}
    given: dict[str, str] = {}
    items = list(pairs)
    while items:
        flag = items.pop(0)
        name = flag[2:] if flag.startswith("--") else ""
        if name not in known:
            raise UsageError(f"{job} takes no argument {flag!r}; it takes --{', --'.join(sorted(known))}")
        if not items or items[0].startswith("--"):
            raise UsageError(f"{flag} needs a value")
        given[name] = items.pop(0)
    missing = [name for name in module.REQUIRED if not given.get(name)]
    if missing:
        raise UsageError(f"{job} needs --{', --'.join(missing)}")
    for name in PATH_ARGUMENTS:
        if given.get(name):
            given[name] = _as_uri(given[name])
    return {**runtime.DATABASE_OPTIONS, "JOB_NAME": f"{job}-local", "TempDir": None, **module.OPTIONAL, **given}


def run(job: str, target, args: Mapping[str, str | None], spark) -> dict:
    """Run `job` (a name of JOBS) with resolved `args` against `target` in `spark`; prints and returns its summary."""
    _import_paths()
    from hrjobs import runtime

    module = importlib.import_module(job)
    return runtime.run_with_target(job, getattr(module, JOBS[job]), args, target, spark)


def _options(argv: Sequence[str]) -> tuple[str, dict[str, str], list[str]]:
    """(job, this script's own options, the job's --ARG value pairs)."""
    if not argv or argv[0] in ("-h", "--help"):
        raise UsageError(USAGE)
    job, rest = argv[0], list(argv[1:])
    if job not in JOBS:
        raise UsageError(f"unknown job {job!r}; expected one of: {', '.join(JOBS)}")
    own: dict[str, str] = {}
    passed: list[str] = []
    while rest:
        flag = rest.pop(0)
        if flag.startswith("--") and "=" in flag:
            flag, value = flag.split("=", 1)
            rest.insert(0, value)
        if flag in ("--database", "--master", "--jdbc-jar"):
            if not rest:
                raise UsageError(f"{flag} needs a value")
            own[flag[2:]] = rest.pop(0)
        else:
            passed.append(flag)
    return job, own, passed


def main(argv: Sequence[str] | None = None, spark=None) -> int:
    """The command line; with `spark` (tests), the job runs in that session and leaves it running."""
    _import_paths()
    try:
        job, own, passed = _options(sys.argv[1:] if argv is None else argv)
        url = own.get("database") or os.environ.get("DATABASE_URL")
        if not url:
            raise UsageError("no database: pass --database mysql://user:password@host:port/db (or set DATABASE_URL)")
        target = target_for_url(url)
        args = job_arguments(job, passed)
        check_reachable(target)
        session = spark or local_session(own.get("master", "local[2]"), jar=own.get("jdbc-jar"))
    except UsageError as exc:
        print(f"glue.local: {exc}", file=sys.stderr)
        return 2
    except ConnectionError as exc:
        print(f"glue.local: {exc}", file=sys.stderr)
        return 1
    try:
        run(job, target, args, session)
    except Exception as exc:  # the job failed: its one-line reason (a Java stack trace is not one)
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        print(f"glue.local: {job} failed: {first.strip()}", file=sys.stderr)
        return 1
    finally:
        if spark is None:
            session.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
