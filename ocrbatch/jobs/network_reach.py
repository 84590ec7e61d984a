"""``doctor``'s network check: can instances in the compute environments' subnets reach ECS, ECR, S3 and
CloudWatch Logs, through a NAT gateway, an internet gateway with public IPs, or VPC endpoints? An
instance that cannot starts, bills and never registers with its compute environment.
"""

from __future__ import annotations

from ocrbatch.jobs.check_result import FAIL, OK, WARN, Check, reason

# What an instance must reach to join its compute environment and run a job, when it has no route to
# the internet: the ECS agent (ecs, ecs-agent, ecs-telemetry), the image (ecr.api, ecr.dkr, and S3 for
# ECR's layers), the job's log stream (logs). S3 is a gateway endpoint; the others are interface ones.
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "ecs", "ecs-agent", "ecs-telemetry", "logs")
DEFAULT_ROUTE = "0.0.0.0/0"


def subnets_of(batch, environment_names: list[str]) -> list[str]:
    """Every subnet the named compute environments launch instances into."""
    if not environment_names:
        return []
    environments = batch.describe_compute_environments(computeEnvironments=environment_names).get("computeEnvironments", [])
    subnets = {s for ce in environments for s in (ce.get("computeResources") or {}).get("subnets", [])}
    return sorted(subnets)


def check_network(ec2, subnet_ids: list[str], region: str) -> list[Check]:
    """Can instances in each subnet reach ECS, ECR, S3 and CloudWatch Logs? (Else they bill and never register.)"""
    if not subnet_ids:
        return []
    try:
        subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    except Exception as exc:  # noqa: BLE001
        return [Check("network", WARN, f"could not read subnets {', '.join(subnet_ids)}: {reason(exc)}")]
    checks = []
    for subnet in subnets:
        try:
            table = _route_table(ec2, subnet)
            endpoints = ec2.describe_vpc_endpoints(
                Filters=[{"Name": "vpc-id", "Values": [subnet["VpcId"]]}]
            ).get("VpcEndpoints", [])
        except Exception as exc:  # noqa: BLE001
            checks.append(Check(f"network {subnet['SubnetId']}", WARN, f"could not read its routes: {reason(exc)}"))
            continue
        checks.append(_subnet_check(subnet, table, endpoints, region))
    return checks


def _route_table(ec2, subnet: dict) -> dict | None:
    """The subnet's own route table, else its VPC's main one."""
    for filters in (
        [{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}],
        [{"Name": "vpc-id", "Values": [subnet["VpcId"]]}, {"Name": "association.main", "Values": ["true"]}],
    ):
        tables = ec2.describe_route_tables(Filters=filters).get("RouteTables", [])
        if tables:
            return tables[0]
    return None


def _subnet_check(subnet: dict, table: dict | None, endpoints: list[dict], region: str) -> Check:
    label, vpc = f"network {subnet['SubnetId']}", subnet["VpcId"]
    routes = (table or {}).get("Routes", [])
    table_id = (table or {}).get("RouteTableId", "?")
    default = next((r for r in routes if r.get("DestinationCidrBlock") == DEFAULT_ROUTE), None)
    available = [e for e in endpoints if e.get("State", "available").lower() == "available"]
    s3_gateway = any(
        e.get("ServiceName", "").endswith(".s3") and e.get("VpcEndpointType") == "Gateway" and table_id in e.get("RouteTableIds", [])
        for e in available
    )
    add_s3 = (
        f"aws ec2 create-vpc-endpoint --vpc-id {vpc} --service-name com.amazonaws.{region}.s3 "
        f"--route-table-ids {table_id}"
    )
    if default and default.get("State") == "blackhole":
        return Check(label, FAIL, f"its default route in {table_id} is a blackhole: instances would never register")
    if default and default.get("NatGatewayId"):
        via = f"NAT gateway {default['NatGatewayId']}"
    elif default and str(default.get("GatewayId", "")).startswith("igw-"):
        if not subnet.get("MapPublicIpOnLaunch"):
            return Check(
                label,
                FAIL,
                f"routes to internet gateway {default['GatewayId']} but gives instances no public IP, so they "
                "cannot reach ECS or ECR: use private subnets behind a NAT gateway",
            )
        via = f"internet gateway {default['GatewayId']} (public IPs)"
    elif default:
        target = next((v for k, v in default.items() if k.endswith("Id") and k != "DestinationPrefixListId"), "?")
        return Check(label, WARN, f"default route via {target}: doctor cannot see past it; it must reach ECS, ECR, S3 and Logs")
    else:
        have = {_service_suffix(e.get("ServiceName", ""), region) for e in available if e.get("VpcEndpointType") == "Interface"}
        missing = [name for name in INTERFACE_ENDPOINTS if name not in have]
        if not s3_gateway:
            missing.append("s3 (gateway)")
        if missing:
            return Check(
                label,
                FAIL,
                f"no route to the internet in {table_id} and no VPC endpoint for {', '.join(missing)}: instances "
                "would start, bill and never register; add a NAT gateway route, or those endpoints "
                f"(com.amazonaws.{region}.<name>, private DNS on)",
            )
        return Check(
            label,
            OK,
            "reaches ECS, ECR, S3 and Logs through VPC endpoints (models without weights in the image need the "
            "internet to download theirs)",
        )
    if not s3_gateway:
        return Check(
            label,
            WARN,
            f"reaches the internet via {via}, but S3 traffic (datasets, checkpoints, image layers) pays NAT "
            f"processing (~$0.045/GB): add the free S3 gateway endpoint: {add_s3}",
        )
    return Check(label, OK, f"reaches the internet via {via}; S3 through its gateway endpoint")


def _service_suffix(service_name: str, region: str) -> str:
    """``com.amazonaws.us-west-2.ecr.dkr`` -> ``ecr.dkr``."""
    marker = f".{region}."
    return service_name.split(marker, 1)[1] if marker in service_name else service_name
