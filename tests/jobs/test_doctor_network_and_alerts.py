"""`doctor`'s network check of the compute environments' subnets (moto's EC2) and its alerts check."""

import boto3
import pytest

from ocrbatch import stack_outputs as keys
from ocrbatch.jobs.doctor import check_alerts, check_aws
from ocrbatch.jobs.network_reach import INTERFACE_ENDPOINTS, check_network
from tests.jobs_fakes import REGION, FakeQuotas


@pytest.fixture
def ec2(moto_aws):
    return boto3.client("ec2", region_name=REGION)


@pytest.fixture
def vpc(ec2):
    return ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]


def subnet_with_table(ec2, vpc, cidr):
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    return subnet, table


def nat_gateway(ec2, vpc):
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.255.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    return ec2.create_nat_gateway(SubnetId=public, AllocationId=allocation)["NatGateway"]["NatGatewayId"]


def s3_gateway(ec2, vpc, table):
    ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway", RouteTableIds=[table]
    )


def only(checks):
    (check,) = checks
    return check


def test_private_subnet_behind_nat_with_s3_endpoint_passes(ec2, vpc):
    subnet, table = subnet_with_table(ec2, vpc, "10.0.1.0/24")
    nat = nat_gateway(ec2, vpc)
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    s3_gateway(ec2, vpc, table)
    check = only(check_network(ec2, [subnet], REGION))
    assert (check.name, check.status) == (f"network {subnet}", "ok")
    assert nat in check.detail


def test_nat_without_s3_endpoint_warns_with_the_command_that_adds_it(ec2, vpc):
    subnet, table = subnet_with_table(ec2, vpc, "10.0.1.0/24")
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_gateway(ec2, vpc))
    check = only(check_network(ec2, [subnet], REGION))
    assert check.status == "warn"
    assert f"aws ec2 create-vpc-endpoint --vpc-id {vpc} --service-name com.amazonaws.{REGION}.s3 --route-table-ids {table}" in check.detail


def test_isolated_subnet_fails_and_names_every_missing_endpoint(ec2, vpc):
    subnet, _ = subnet_with_table(ec2, vpc, "10.0.1.0/24")
    check = only(check_network(ec2, [subnet], REGION))
    assert check.status == "fail"
    for name in (*INTERFACE_ENDPOINTS, "s3 (gateway)"):
        assert name in check.detail
    assert "never register" in check.detail


def test_isolated_subnet_with_every_endpoint_passes(ec2, vpc):
    subnet, table = subnet_with_table(ec2, vpc, "10.0.1.0/24")
    s3_gateway(ec2, vpc, table)
    for name in INTERFACE_ENDPOINTS[:-1]:
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.{name}", VpcEndpointType="Interface", SubnetIds=[subnet])
    check = only(check_network(ec2, [subnet], REGION))
    assert check.status == "fail" and check.detail.count("logs") == 1 and "ecr.dkr" not in check.detail
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.logs", VpcEndpointType="Interface", SubnetIds=[subnet])
    assert only(check_network(ec2, [subnet], REGION)).status == "ok"


def test_public_subnet_without_public_ips_fails(ec2, vpc):
    subnet, table = subnet_with_table(ec2, vpc, "10.0.1.0/24")
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    s3_gateway(ec2, vpc, table)
    check = only(check_network(ec2, [subnet], REGION))
    assert check.status == "fail" and "no public IP" in check.detail
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    assert only(check_network(ec2, [subnet], REGION)).status == "ok"


def test_subnet_without_its_own_table_is_judged_by_the_main_one(ec2, vpc):
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24")["Subnet"]["SubnetId"]
    assert only(check_network(ec2, [subnet], REGION)).status == "fail"  # the main table has only the local route


def test_unknown_subnet_is_a_warning_not_a_crash(ec2):
    check = only(check_network(ec2, ["subnet-0123456789abcdef0"], REGION))
    assert check.status == "warn" and "subnet-0123456789abcdef0" in check.detail


class FakeSns:
    def __init__(self, subscriptions):
        self.subscriptions = subscriptions

    def list_subscriptions_by_topic(self, TopicArn):
        return {"Subscriptions": self.subscriptions}


TOPIC = f"arn:aws:sns:{REGION}:123456789012:alerts"


@pytest.mark.parametrize(
    ("subscriptions", "status", "says"),
    [
        ([], "warn", "OCRBATCH_ALERT_EMAIL"),
        ([{"SubscriptionArn": "PendingConfirmation", "Endpoint": "a@example.com"}], "warn", "not confirmed"),
        ([{"SubscriptionArn": f"{TOPIC}:1", "Endpoint": "a@example.com"}], "ok", "a@example.com"),
    ],
)
def test_alerts_check_says_who_is_told(subscriptions, status, says):
    check = check_alerts(FakeSns(subscriptions), TOPIC)
    assert check.status == status and says in check.detail


def test_alerts_check_on_an_older_stack():
    assert check_alerts(FakeSns([]), None).status == "warn"


def test_the_on_demand_fallback_quota_is_checked_too(deployment):
    quotas = FakeQuotas({"L-3819A6DF": 32, "L-DB2E81BA": 0})
    clients = lambda service: quotas if service == "service-quotas" else boto3.client(service, region_name=REGION)  # noqa: E731
    checks = {c.name: c for c in check_aws(clients, region=REGION, stack_name=deployment.stack_name)}
    on_demand = checks["GPU on-demand quota (G)"]
    assert on_demand.status == "warn" and "L-DB2E81BA" in on_demand.detail and "never start" in on_demand.detail
    assert checks["GPU Spot quota (G)"].status == "ok"
    assert "L-DB2E81BA" in quotas.asked


def test_no_on_demand_environment_means_no_on_demand_quota_check(moto_aws):
    from tests.jobs_fakes import deploy_fake_stack

    deployment = deploy_fake_stack("spot-only", with_outputs=tuple(k for k in keys.ALL if k != keys.GPU_ON_DEMAND_COMPUTE_ENV))
    quotas = FakeQuotas({"L-3819A6DF": 32})
    clients = lambda service: quotas if service == "service-quotas" else boto3.client(service, region_name=REGION)  # noqa: E731
    names = [c.name for c in check_aws(clients, region=REGION, stack_name=deployment.stack_name)]
    assert "GPU Spot quota (G)" in names and not [n for n in names if "on-demand" in n]
