"""The MySQL database the jobs read and write: where it is, how to reach it over JDBC, and where its
credentials come from (Secrets Manager or a Glue connection; never job arguments or code)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import TimestampNTZType

from chalicelib.rules.dictionary import DATETIME, Table
from chalicelib.runtime import settings
from chalicelib.runtime.settings import DatabaseLogin

# Glue 5.0 ships MySQL Connector/J 8; local runs use Debian's MariaDB driver with the same URLs.
GLUE_JDBC_DRIVER = "com.mysql.cj.jdbc.Driver"
# Connector/J sends a batch as one multi-row INSERT only with this; without it a batch is N statements,
# each a round trip (docs/glue.md has the figures).
WRITE_URL_OPTIONS = {"rewriteBatchedStatements": "true"}
WRITE_BATCH_ROWS = 10000
# DATETIME values cross JDBC as text in both directions. Spark 3.5 converts TIMESTAMP_NTZ to and from
# java.sql.Timestamp through the JVM's default zone, so a non-UTC JVM would shift every value; text
# is read and written by MySQL as the wall-clock value it is.
DATETIME_TEXT = "yyyy-MM-dd HH:mm:ss"


MARIADB_JDBC_DRIVER = "org.mariadb.jdbc.Driver"


class CredentialsError(RuntimeError):
    """The job cannot find or read the database credentials it was pointed at."""


def tls_url_options(login: DatabaseLogin, driver: str) -> dict[str, str]:
    """The JDBC URL options that make `driver` verify the server as pymysql does for `login`: the
    certificate chain and the host name, against `login.ca` (MariaDB's driver) or the JVM's trust store."""
    if driver == GLUE_JDBC_DRIVER:
        if not login.tls:
            return {"sslMode": "DISABLED"}
        if login.ca:
            # Connector/J reads trust stores (JKS/PKCS12), not PEM: in Glue the JVM's store is used.
            raise CredentialsError("MySQL Connector/J verifies against the JVM's trust store; drop --DB_CA")
        return {"sslMode": "VERIFY_IDENTITY"}
    if driver == MARIADB_JDBC_DRIVER:
        if not login.tls:
            return {"useSsl": "false"}
        # MariaDB Connector/J 2.x verifies the chain and the host name once useSsl is on.
        return {"useSsl": "true", **({"serverSslCert": login.ca} if login.ca else {})}
    raise CredentialsError(f"unknown JDBC driver {driver}; use {GLUE_JDBC_DRIVER} or {MARIADB_JDBC_DRIVER}")


@dataclass(frozen=True)
class MysqlTarget:
    """The service's database as the jobs reach it: a login (the app's credential type, TLS settings
    included) and the JDBC driver that opens it from Spark."""

    login: DatabaseLogin
    driver: str = GLUE_JDBC_DRIVER

    @property
    def database(self) -> str:
        return self.login.name

    def jdbc_url(self, options: Mapping[str, str] | None = None) -> str:
        login = self.login
        query = {**tls_url_options(login, self.driver), **(options or {})}
        return f"jdbc:mysql://{login.host}:{login.port}/{login.name}?" + "&".join(f"{k}={v}" for k, v in query.items())

    def jdbc_properties(self) -> dict[str, str]:
        return {"user": self.login.user, "password": self.login.password, "driver": self.driver}

    def service_database(self):
        """The service's own MySQL backend (chalicelib.db) on this database, for the few statements the
        jobs run outside Spark: the restore's swap and rebuilding derived data."""
        from chalicelib.db.mysql import MysqlDatabase

        return MysqlDatabase.for_login(self.login)


def _tls(args: Mapping[str, str | None], login: DatabaseLogin) -> DatabaseLogin:
    """`login` with the job's TLS arguments: verified TLS unless ``--DB_TLS false``; ``--DB_CA`` a PEM file."""
    tls = (args.get("DB_TLS") or "true").lower() not in ("0", "false", "no")
    return replace(login, tls=tls, ca=args.get("DB_CA") or None)


def target_from_secret(
    secret: Mapping[str, object], host: str | None = None, database: str | None = None, driver: str = GLUE_JDBC_DRIVER
) -> MysqlTarget:
    """A target from the database secret's JSON, read as the app reads it (`settings.database_login`)."""
    try:
        login = settings.database_login(secret, host, database)
    except settings.ConfigurationError as exc:
        raise CredentialsError(str(exc)) from None
    return MysqlTarget(login, driver)


def read_secret(secret_id: str, client=None) -> dict:
    """The JSON of a Secrets Manager secret."""
    try:
        return settings.read_secret(secret_id, client)
    except settings.ConfigurationError as exc:
        raise CredentialsError(str(exc)) from None
    except Exception as exc:  # botocore errors: the job cannot go on; say which secret
        raise CredentialsError(f"cannot read secret {secret_id}: {exc}") from exc


def target_from_glue_connection(
    name: str, client=None, secrets_client=None, driver: str = GLUE_JDBC_DRIVER
) -> MysqlTarget:
    """A target from a Glue JDBC connection: its URL, and either its secret (``SECRET_ID``) or its
    ``USERNAME`` / ``PASSWORD``."""
    if client is None:
        import boto3

        client = boto3.client("glue")
    try:
        props = client.get_connection(Name=name, HidePassword=False)["Connection"]["ConnectionProperties"]
    except Exception as exc:
        raise CredentialsError(f"cannot read Glue connection {name}: {exc}") from exc
    url = props.get("JDBC_CONNECTION_URL", "")
    parts = urlsplit(url[len("jdbc:") :] if url.startswith("jdbc:") else url)
    if not parts.hostname or not parts.path.strip("/"):
        raise CredentialsError(f"Glue connection {name} has no usable JDBC_CONNECTION_URL")
    if props.get("SECRET_ID"):
        secret = read_secret(props["SECRET_ID"], secrets_client)
        user, password = secret.get("username"), secret.get("password")
    else:
        user, password = props.get("USERNAME"), props.get("PASSWORD")
    if not user or password is None:
        raise CredentialsError(f"Glue connection {name} names no credentials")
    login = DatabaseLogin(parts.hostname, parts.port or 3306, parts.path.strip("/"), user, password)
    return MysqlTarget(login, driver)


def target_from_job_arguments(args: Mapping[str, str | None]) -> MysqlTarget:
    """The target named by a job's ``--DB_SECRET_ARN`` or ``--CONNECTION_NAME`` (exactly one), over
    verified TLS (``--DB_TLS``, ``--DB_CA``)."""
    driver = args.get("JDBC_DRIVER") or GLUE_JDBC_DRIVER
    if args.get("DB_SECRET_ARN") and args.get("CONNECTION_NAME"):
        raise CredentialsError("pass either --DB_SECRET_ARN or --CONNECTION_NAME, not both")
    if args.get("DB_SECRET_ARN"):
        target = target_from_secret(
            read_secret(args["DB_SECRET_ARN"]), args.get("DB_HOST"), args.get("DB_NAME"), driver
        )
    elif args.get("CONNECTION_NAME"):
        target = target_from_glue_connection(args["CONNECTION_NAME"], driver=driver)
    else:
        raise CredentialsError("no database credentials: pass --DB_SECRET_ARN or --CONNECTION_NAME")
    target = replace(target, login=_tls(args, target.login))
    tls_url_options(target.login, target.driver)  # an impossible TLS setting stops the job before Spark starts
    return target


# -- Spark over JDBC -------------------------------------------------------------------------------


def read_query(spark: SparkSession, target: MysqlTarget, sql: str) -> DataFrame:
    """A small query's result (identifiers in `sql` come from the dictionary only)."""
    return spark.read.jdbc(target.jdbc_url(), f"({sql}) AS q", properties=target.jdbc_properties())


def id_bounds(spark: SparkSession, target: MysqlTarget, table_name: str) -> tuple[int | None, int | None, int]:
    """(smallest id, largest id, row count) of a table."""
    row = read_query(spark, target, f"SELECT MIN(id) AS lo, MAX(id) AS hi, COUNT(*) AS n FROM `{table_name}`").first()
    return row["lo"], row["hi"], int(row["n"])


def read_table(
    spark: SparkSession, target: MysqlTarget, table: Table, partitions: int = 4, id_range: tuple[int, int] | None = None
) -> DataFrame:
    """`table`'s rows (dictionary columns), read by `partitions` parallel range queries on `id`;
    with `id_range`, only ids in that closed range (the filter runs in MySQL)."""
    if id_range is None:
        lo, hi, _ = id_bounds(spark, target, table.name)
    else:
        lo, hi = id_range
    as_text = ", ".join(f"{c.name} STRING" for c in table.columns if c.type == DATETIME)
    reader = spark.read.option("fetchsize", "10000")
    if as_text:
        reader = reader.option("customSchema", as_text)
    if lo is None or hi is None:
        df = reader.jdbc(target.jdbc_url(), f"`{table.name}`", properties=target.jdbc_properties())
    else:
        df = reader.jdbc(
            target.jdbc_url(),
            f"`{table.name}`",
            column=table.key,
            lowerBound=int(lo),
            upperBound=int(hi) + 1,
            numPartitions=max(1, partitions),
            properties=target.jdbc_properties(),
        )
        if id_range is not None:
            df = df.where(F.col(table.key).between(int(lo), int(hi)))
    return df.select(
        [
            F.col(c.name).cast("timestamp_ntz").alias(c.name) if c.type == DATETIME else F.col(c.name)
            for c in table.columns
        ]
    )


def require_table(spark: SparkSession, target: MysqlTarget, table_name: str) -> None:
    """Fail unless the table exists: the jobs write only into tables the schema created, never let
    Spark create one (it would have none of the keys)."""
    found = read_query(
        spark,
        target,
        "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() "
        f"AND table_name = '{table_name}'",
    ).first()["n"]
    if not found:
        raise RuntimeError(f"table {target.database}.{table_name} does not exist; create the schema first")


def append(df: DataFrame, target: MysqlTarget, table_name: str, connections: int) -> None:
    """Append rows over JDBC with batched multi-row INSERTs, through at most `connections` connections.
    Each connection commits its share at its end."""
    require_table(df.sparkSession, target, table_name)
    df = df.select(
        [
            F.date_format(F.col(f.name), DATETIME_TEXT).alias(f.name)
            if isinstance(f.dataType, TimestampNTZType)
            else F.col(f.name)
            for f in df.schema.fields
        ]
    )
    options = {
        **target.jdbc_properties(),
        "batchsize": str(WRITE_BATCH_ROWS),
        "numPartitions": str(max(1, connections)),
        "isolationLevel": "READ_COMMITTED",
    }
    df.write.jdbc(target.jdbc_url(WRITE_URL_OPTIONS), f"`{table_name}`", mode="append", properties=options)
