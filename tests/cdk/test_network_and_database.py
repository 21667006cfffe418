"""The synthesized dev and prod stacks: their network and their database."""

from __future__ import annotations

import json

import pytest

from tests.cdk.template import (
    SETTINGS,
    STAGES,
    in_vpc,
    logical_id,
    only,
    resources,
)


def test_synthesis_succeeds_for_both_stages(synthesis):
    assert synthesis.error is None, synthesis.error
    assert set(synthesis.templates) == set(STAGES)
    # app.py has its s3_loader, so the stack has nothing to warn about it.
    assert [w for w in synthesis.warnings if "no-s3-loader" in w] == []


# -- network ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_vpc_has_no_route_to_the_internet(synthesis, stage):
    template = synthesis.template(stage)
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    for subnet in resources(synthesis, stage, "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_aws_services_are_reached_through_vpc_endpoints(synthesis, stage):
    endpoints = resources(synthesis, stage, "AWS::EC2::VPCEndpoint").values()
    services = {json.dumps(e["Properties"]["ServiceName"]): e["Properties"].get("VpcEndpointType") for e in endpoints}
    gateway = [s for s, kind in services.items() if kind == "Gateway"]
    interface = [s for s, kind in services.items() if kind == "Interface"]
    assert len(gateway) == 1 and ".s3" in gateway[0]
    for service in ("secretsmanager", "glue", "logs"):
        assert any(f".{service}" in s for s in interface), f"no {service} interface endpoint in {interface}"
    for endpoint in endpoints:
        if endpoint["Properties"].get("VpcEndpointType") == "Interface":
            assert endpoint["Properties"]["PrivateDnsEnabled"] is True


@pytest.mark.parametrize("stage", STAGES)
def test_database_sits_in_isolated_db_subnets_and_lambdas_in_app_subnets(synthesis, stage):
    _, group = only(synthesis, stage, "AWS::RDS::DBSubnetGroup")
    db_subnets = [ref["Ref"] for ref in group["Properties"]["SubnetIds"]]
    assert len(db_subnets) == 2 and all("dbSubnet" in s for s in db_subnets)
    functions = resources(synthesis, stage, "AWS::Serverless::Function")
    for name in ("APIHandler", "S3Loader"):
        if name not in functions or not in_vpc(stage, name):
            continue
        subnets = [ref["Ref"] for ref in functions[name]["Properties"]["VpcConfig"]["SubnetIds"]]
        assert len(subnets) == 2 and all("appSubnet" in s for s in subnets)
    routes = resources(synthesis, stage, "AWS::EC2::Route")
    assert routes == {}, "isolated subnets have no routes besides the local one and the S3 gateway endpoint"


# -- database --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_database_is_encrypted_private_aurora_mysql_8_with_generated_secret(synthesis, stage):
    _, cluster = only(synthesis, stage, "AWS::RDS::DBCluster")
    props = cluster["Properties"]
    assert props["Engine"] == "aurora-mysql"
    assert props["EngineVersion"].startswith("8.0.mysql_aurora.3.")
    assert props["StorageEncrypted"] is True
    assert "ServerlessV2ScalingConfiguration" in props
    assert props["DatabaseName"] == "hr"
    password = json.dumps(props["MasterUserPassword"])
    assert "{{resolve:secretsmanager:" in password and ":SecretString:password::}}" in password
    _, secret = next(
        (k, v) for k, v in resources(synthesis, stage, "AWS::SecretsManager::Secret").items() if "Database" in k
    )
    generator = secret["Properties"]["GenerateSecretString"]
    assert json.loads(generator["SecretStringTemplate"]) == {"username": "hradmin"}
    for instance in resources(synthesis, stage, "AWS::RDS::DBInstance").values():
        assert instance["Properties"]["PubliclyAccessible"] is False
    _, parameters = only(synthesis, stage, "AWS::RDS::DBClusterParameterGroup")
    assert parameters["Properties"]["Parameters"]["require_secure_transport"] == "ON"


@pytest.mark.parametrize("stage", STAGES)
def test_database_secrets_have_host_port_and_dbname_and_are_rotated(synthesis, stage):
    attachments = resources(synthesis, stage, "AWS::SecretsManager::SecretTargetAttachment")
    assert len(attachments) == 3  # the master user's, the app user's, the admin user's
    for attachment in attachments.values():
        assert attachment["Properties"]["TargetType"] == "AWS::RDS::DBCluster"  # adds host, port, dbname, engine
    schedules = resources(synthesis, stage, "AWS::SecretsManager::RotationSchedule")
    days = SETTINGS[stage].db_secret_rotation_days
    assert len(schedules) == 3
    for schedule in schedules.values():
        assert schedule["Properties"]["RotationRules"]["ScheduleExpression"] == f"rate({days} days)"


@pytest.mark.parametrize("stage", STAGES)
def test_database_has_automated_backups_and_prod_has_deletion_protection(synthesis, stage):
    _, cluster = only(synthesis, stage, "AWS::RDS::DBCluster")
    assert cluster["Properties"]["BackupRetentionPeriod"] == SETTINGS[stage].backup_retention_days
    assert cluster["Properties"]["DeletionProtection"] is (stage == "prod")
    assert cluster["DeletionPolicy"] == ("Snapshot" if stage == "prod" else "Delete")


@pytest.mark.parametrize("stage", STAGES)
def test_rds_proxy_fronts_the_cluster_and_lambdas_use_it(synthesis, stage):
    proxy_id, proxy = only(synthesis, stage, "AWS::RDS::DBProxy")
    assert proxy["Properties"]["EngineFamily"] == "MYSQL"
    assert proxy["Properties"]["RequireTLS"] is True
    secrets = sorted(auth["SecretArn"]["Ref"] for auth in proxy["Properties"]["Auth"])
    assert [s.rstrip("0123456789ABCDEF") for s in secrets] == [
        "DatabaseClusterSecretAttachment",
        "DatabaseUsersAdminSecretAttachment",
        "DatabaseUsersAppSecretAttachment",
    ]
    _, target = only(synthesis, stage, "AWS::RDS::DBProxyTargetGroup")
    assert target["Properties"]["DBClusterIdentifiers"] == [
        {"Ref": logical_id(synthesis, stage, "AWS::RDS::DBCluster", "Cluster")}
    ]
    client = "APIHandler" if in_vpc(stage, "APIHandler") else "S3Loader"  # the loader stays in the VPC
    api = resources(synthesis, stage, "AWS::Serverless::Function")[client]["Properties"]["Environment"]["Variables"]
    assert api["DB_HOST"] == {"Fn::GetAtt": [proxy_id, "Endpoint"]}
    assert api["DB_SECRET_ARN"]["Ref"].startswith("DatabaseUsersAppSecretAttachment")
    if client == "APIHandler":
        assert api["ADMIN_DB_SECRET_ARN"]["Ref"].startswith("DatabaseUsersAdminSecretAttachment")
    assert api["DB_NAME"] == "hr"


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_proxy_and_rotation_reach_the_database_and_every_client_the_proxy(synthesis, stage):
    def sources(group_name: str) -> list[str]:
        group = logical_id(synthesis, stage, "AWS::EC2::SecurityGroup", group_name)
        return sorted(
            rule["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0]
            for rule in resources(synthesis, stage, "AWS::EC2::SecurityGroupIngress").values()
            if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}
        )

    to_cluster = sources("DatabaseClusterSecurityGroup")
    assert (
        len(to_cluster) == 2 and [s for s in to_cluster if "Proxy" in s] and [s for s in to_cluster if "Rotation" in s]
    )
    to_proxy = sources("DatabaseProxySecurityGroup")
    assert len(to_proxy) == 3
    assert [s for s in to_proxy if "App" in s] and [s for s in to_proxy if "Glue" in s]
    assert [s for s in to_proxy if "Bootstrap" in s]
    for group in resources(synthesis, stage, "AWS::EC2::SecurityGroup").values():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            assert rule.get("CidrIp") != "0.0.0.0/0"
