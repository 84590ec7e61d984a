"""Where the Batch instances run: an existing VPC's private subnets, or a new VPC built for them.

Both paths synthesize offline. An existing VPC is described by id (``Vpc.from_vpc_attributes`` +
``Subnet.from_subnet_id``), never looked up, so `cdk synth` needs no credentials. A new VPC gets
explicit availability zones for the same reason, private subnets for the instances, public subnets
only for its NAT gateways, a free S3 gateway endpoint so datasets and checkpoints bypass the NAT, and
flow logs of rejected traffic to the platform's log bucket.

NAT: the instances must reach ECR, ECS, CloudWatch Logs and the pretrained-weights URL. One gateway
(the default) costs ~$0.045/h (~$33/month in us-east-1/us-west-2) plus $0.045/GB processed and its public
IPv4 address (~$3.60/month), and is the platform's only cost while idle; every zone routes through it,
so a zone outage there stops new instances in the others. One per zone (``nat_gateways`` = zones)
removes that at N times the cost. Interface endpoints instead of NAT cost more here (~$7.30/month
per endpoint per zone, and six are needed: ecr.api, ecr.dkr, ecs, ecs-agent, ecs-telemetry, logs),
so they are not offered; an existing VPC that already has them works (``ocrbatch doctor`` checks).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Annotations, Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.findings import ignore_cfn_lint

NEW_VPC_CIDR = "10.42.0.0/16"


class Network(Construct):
    """The VPC and the subnet selection every compute environment uses."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        availability_zones: Sequence[str],
        nat_gateways: int = 1,
        flow_log_bucket: s3.IBucket,
        existing_vpc_id: str | None = None,
        existing_subnet_ids: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        if existing_vpc_id:
            self.vpc = ec2.Vpc.from_vpc_attributes(
                self, "Vpc", vpc_id=existing_vpc_id, availability_zones=Fn.get_azs()
            )
            Annotations.of(self.vpc).acknowledge_warning(
                "@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones",
                "Zones only matter for selecting subnets by type; ours are selected by id.",
            )
            subnets = [
                ec2.Subnet.from_subnet_id(self, f"Subnet{i}", subnet_id)
                for i, subnet_id in enumerate(existing_subnet_ids)
            ]
            for subnet in subnets:
                Annotations.of(subnet).acknowledge_warning(
                    "@aws-cdk/aws-ec2:noSubnetRouteTableId", "Nothing here reads the subnets' route tables."
                )
            self.subnets = ec2.SubnetSelection(subnets=subnets)
            return
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(NEW_VPC_CIDR),
            availability_zones=list(availability_zones),
            nat_gateways=nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="nat", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=26),
                # /20: room for ~4,000 instances per zone, far above any vCPU cap.
                ec2.SubnetConfiguration(name="batch", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20),
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
            flow_logs={
                "Rejected": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_s3(flow_log_bucket, "vpc-flow-logs/"),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
        )
        for subnet in (*vpc.public_subnets, *vpc.private_subnets):
            # Zones are named on purpose: synth must work offline, without looking them up.
            ignore_cfn_lint(subnet, "W3010")
        self.vpc = vpc
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
