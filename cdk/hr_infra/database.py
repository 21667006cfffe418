"""The database: Aurora MySQL 3 (MySQL 8.0 compatible) Serverless v2, behind an RDS Proxy."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Fn, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .database_users import DatabaseUsers
from .nag import acknowledge
from .network import Network
from .settings import DB_ADMIN_USER, DB_NAME, StageSettings

MYSQL_PORT = 3306
LOG_EXPORTS = ("error", "slowquery", "audit")
# Aurora MySQL 3.10 is a long-term-support release of the MySQL 8.0 compatible line.
ENGINE_VERSION = rds.AuroraMysqlEngineVersion.VER_3_10_3
# The RDS Data API serves Aurora MySQL Serverless v2 and provisioned clusters from Aurora MySQL 3.07 on.
DATA_API_MIN_AURORA_MYSQL = (3, 7)
# What the Data API backend (chalicelib.db.data_api) calls: statements, batches and transactions.
DATA_API_ACTIONS = (
    "rds-data:ExecuteStatement",
    "rds-data:BatchExecuteStatement",
    "rds-data:BeginTransaction",
    "rds-data:CommitTransaction",
    "rds-data:RollbackTransaction",
)


def check_data_api_engine(full_version: str) -> None:
    """Refuse (ValueError) an engine version the RDS Data API does not serve, e.g. ``8.0.mysql_aurora.3.06.0``."""
    _, _, aurora = full_version.partition("mysql_aurora.")
    try:
        version = tuple(int(part) for part in aurora.split(".")[:2])
    except ValueError:
        version = ()
    if len(version) < 2 or version < DATA_API_MIN_AURORA_MYSQL:
        major, minor = DATA_API_MIN_AURORA_MYSQL
        raise ValueError(
            f"apiDatabaseAccess 'data-api' needs the RDS Data API, which Aurora MySQL serves from version "
            f"{major}.{minor:02d} on; the cluster's engine is {full_version!r}: raise ENGINE_VERSION or use 'vpc'"
        )


class Database(Construct):
    """An encrypted, private Aurora MySQL cluster with generated, rotated credentials.

    Every client reaches it through the RDS Proxy (`proxy_endpoint`, TLS required), whose certificate
    chains to Amazon's public roots: pymysql and Connector/J verify it against the system's and the JVM's
    trust stores, with no RDS CA bundle to ship. The clients log in as the least-privilege users of
    `DatabaseUsers`: `secret` is the app user's (data work), `admin_secret` the admin user's (schema
    changes); `master_secret` is kept for the users' bootstrap and rotation, and emergencies. Each secret
    holds `username`, `password`, `host`, `port`, `dbname`.

    With the stage's `apiDatabaseAccess` "data-api" the cluster's RDS Data API (HTTP endpoint) is on too,
    for the API's functions outside the VPC (`data_api_url`, `grant_data_api`).
    """

    def __init__(
        self, scope: Construct, id: str, *, network: Network, settings: StageSettings, project_dir: Path
    ) -> None:
        super().__init__(scope, id)
        vpc = network.vpc
        self.security_group = ec2.SecurityGroup(
            self,
            "ClusterSecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description="Aurora MySQL: accepts the RDS Proxy and the Glue jobs only",
        )
        self.proxy_security_group = network.security_group(
            self, "ProxySecurityGroup", "RDS Proxy: accepts the Lambda functions"
        )
        # add_proxy and add_rotation_single_user open the cluster's side; the clients' egress is opened here.
        self.proxy_security_group.add_egress_rule(self.security_group, ec2.Port.tcp(MYSQL_PORT), "to the cluster")

        readers = [
            rds.ClusterInstance.serverless_v2(f"Reader{n}", scale_with_writer=True, enable_performance_insights=True)
            for n in range(1, settings.db_readers + 1)
        ]
        identifier = f"{settings.stack_name}-db"
        if settings.api_uses_data_api:
            check_data_api_engine(ENGINE_VERSION.aurora_mysql_full_version)
        # The log groups the cluster exports to, made here (not by a log-retention custom resource).
        log_groups = [
            logs.LogGroup(
                self,
                f"{kind.capitalize()}Log",
                log_group_name=f"/aws/rds/cluster/{identifier}/{kind}",
                retention=settings.log_retention,
                removal_policy=RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY,
            )
            for kind in LOG_EXPORTS
        ]
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            cluster_identifier=identifier,
            engine=rds.DatabaseClusterEngine.aurora_mysql(version=ENGINE_VERSION),
            # A predictable name, so `chalice deploy` alone can be granted it (.chalice/policy-<stage>.json).
            credentials=rds.Credentials.from_generated_secret(
                DB_ADMIN_USER, secret_name=f"{settings.stack_name}/db-master"
            ),
            default_database_name=DB_NAME,
            writer=rds.ClusterInstance.serverless_v2("Writer", enable_performance_insights=True),
            readers=readers,
            serverless_v2_min_capacity=settings.db_min_capacity_acu,
            serverless_v2_max_capacity=settings.db_max_capacity_acu,
            vpc=vpc,
            vpc_subnets=network.db_subnets,
            security_groups=[self.security_group],
            port=MYSQL_PORT,
            storage_encrypted=True,
            iam_authentication=True,
            enable_data_api=True if settings.api_uses_data_api else None,  # None: the template says nothing
            backup=rds.BackupProps(
                retention=Duration.days(settings.backup_retention_days), preferred_window="03:00-04:00"
            ),
            preferred_maintenance_window="sun:04:30-sun:05:30",
            deletion_protection=settings.is_prod,
            removal_policy=RemovalPolicy.SNAPSHOT if settings.is_prod else RemovalPolicy.DESTROY,
            cloudwatch_logs_exports=list(LOG_EXPORTS),
            copy_tags_to_snapshot=True,
            parameter_group=rds.ParameterGroup(
                self,
                "Parameters",
                engine=rds.DatabaseClusterEngine.aurora_mysql(version=ENGINE_VERSION),
                parameters={
                    "require_secure_transport": "ON",
                    # Who connected and what changed the schema or grants; rows stay out of the audit log.
                    "server_audit_logging": "1",
                    "server_audit_events": "CONNECT,QUERY_DCL,QUERY_DDL",
                },
            ),
        )
        for group in log_groups:
            self.cluster.node.add_dependency(group)
        assert self.cluster.secret is not None
        self.master_secret = self.cluster.secret
        self.users = DatabaseUsers(
            self, "Users", cluster=self.cluster, master_secret=self.master_secret, settings=settings
        )
        self.secret = self.users.app_secret
        self.admin_secret = self.users.admin_secret
        # The rotation function runs in the app subnets and reaches Secrets Manager through its endpoint.
        self.rotation_security_group = network.security_group(
            self, "RotationSecurityGroup", "Secret rotation function: reaches the cluster"
        )
        self.rotation_security_group.add_egress_rule(self.security_group, ec2.Port.tcp(MYSQL_PORT), "to the cluster")
        self.cluster.add_rotation_single_user(
            automatically_after=Duration.days(settings.db_secret_rotation_days),
            vpc_subnets=network.app_subnets,
            security_group=self.rotation_security_group,
        )
        self.users.add_rotation(network, self.rotation_security_group)

        self.proxy = self.cluster.add_proxy(
            "Proxy",
            vpc=vpc,
            vpc_subnets=network.app_subnets,
            secrets=[self.master_secret, self.secret, self.admin_secret],
            security_groups=[self.proxy_security_group],
            require_tls=True,
            borrow_timeout=Duration.seconds(30),
            idle_client_timeout=Duration.minutes(30),
            max_connections_percent=80,
        )
        self.proxy_endpoint = self.proxy.endpoint
        bootstrap = self.users.add_bootstrap(
            project_dir=project_dir, network=network, proxy_endpoint=self.proxy_endpoint
        )
        self.allow_clients(bootstrap, "from the database users' bootstrap")

        acknowledge(
            self.cluster,
            "MySQL's standard port: the cluster is reachable only from the proxy, Glue and "
            "the rotation function security groups, so a non-standard port would add nothing",
            "RDS11",
        )
        acknowledge(
            self.cluster,
            "Recovery is point-in-time restore from the automated backups (backupRetentionDays); Backtrack is not used",
            "RDS14",
        )
        if not settings.is_prod:
            acknowledge(
                self.cluster, "dev is disposable and rebuilt from source data; prod has deletion protection", "RDS10"
            )

    def data_api_url(self, secret: secretsmanager.ISecret) -> str:
        """The app's DATABASE_URL for this cluster's database through the Data API, logging in with `secret`."""
        return Fn.join("", ["rds-data://", self.cluster.cluster_arn, f"/{DB_NAME}?secret=", secret.secret_arn])

    def grant_data_api(self, grantee: iam.IGrantable, *secrets: secretsmanager.ISecret) -> None:
        """Let `grantee` run statements and transactions on this cluster only, through the Data API, as the
        users of `secrets` (the Data API reads a secret with its caller's rights: GetSecretValue, nothing else).

        Not `cluster.grant_data_api_access`: it also grants the master user's secret.
        """
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(sid="DataApi", actions=list(DATA_API_ACTIONS), resources=[self.cluster.cluster_arn])
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DataApiSecrets",
                actions=["secretsmanager:GetSecretValue"],
                resources=[secret.secret_arn for secret in secrets],
            )
        )

    def allow_clients(self, group: ec2.ISecurityGroup, description: str) -> None:
        """Let `group` (Lambda functions) open MySQL connections to the proxy."""
        group.add_egress_rule(self.proxy_security_group, ec2.Port.tcp(MYSQL_PORT), "to the RDS Proxy")
        self.proxy_security_group.add_ingress_rule(group, ec2.Port.tcp(MYSQL_PORT), description)

    def allow_direct_clients(self, group: ec2.ISecurityGroup, description: str) -> None:
        """Let `group` (Glue jobs) connect to the cluster itself."""
        group.add_egress_rule(self.security_group, ec2.Port.tcp(MYSQL_PORT), "to the cluster")
        self.security_group.add_ingress_rule(group, ec2.Port.tcp(MYSQL_PORT), description)
