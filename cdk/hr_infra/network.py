"""The VPC: no internet at all. AWS services are reached through VPC endpoints."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

APP_SUBNETS = "app"
DB_SUBNETS = "db"


class Network(Construct):
    """Two isolated subnet tiers in two AZs: `app` (Lambdas, Glue, endpoints) and `db` (Aurora).

    There is no NAT gateway and no internet gateway. Everything the functions and Glue jobs call is
    behind an endpoint: S3 (gateway), Secrets Manager, Glue (the loader starts Glue runs) and CloudWatch
    Logs (Glue's continuous logging).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cidr: str,
        flow_log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name=APP_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22),
                ec2.SubnetConfiguration(name=DB_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=flow_log_retention, removal_policy=removal_policy)
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
            max_aggregation_interval=ec2.FlowLogMaxAggregationInterval.TEN_MINUTES,
        )
        self.app_subnets = ec2.SubnetSelection(subnet_group_name=APP_SUBNETS)
        self.db_subnets = ec2.SubnetSelection(subnet_group_name=DB_SUBNETS)

        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        # Interface endpoints accept HTTPS only from the security groups made by `security_group`.
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            allow_all_outbound=False,
            description="HTTPS from the VPC to the AWS service interface endpoints",
        )
        for name, service in (
            ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
            ("Glue", ec2.InterfaceVpcEndpointAwsService.GLUE),
            ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
        ):
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=self.app_subnets,
                private_dns_enabled=True,
                security_groups=[self.endpoint_security_group],
                open=False,
            )

    def security_group(self, scope: Construct, id: str, description: str) -> ec2.SecurityGroup:
        """A security group in this VPC whose only outbound traffic is HTTPS to AWS services.

        The egress rule names no address: the route tables have no internet route, so HTTPS can only
        reach the interface endpoints and the S3 gateway endpoint (whose prefix list an environment-
        agnostic stack cannot look up).
        """
        group = ec2.SecurityGroup(scope, id, vpc=self.vpc, description=description, allow_all_outbound=False)
        self.endpoint_security_group.add_ingress_rule(
            group, ec2.Port.tcp(443), f"HTTPS from {description.split(':')[0]}"
        )
        group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS service endpoints only (no internet route)"
        )
        return group
