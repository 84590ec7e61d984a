"""Where prices come from: Spot prices through a Stubber'd EC2 client (paging, the newest price per
zone, empty history, the cache) and the on-demand table with its override."""

from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ocrbatch.errors import BadInput
from ocrbatch.jobs.pricing import INSTANCE_TYPES, SPOT_CACHE_SECONDS, SpotPrices, on_demand_prices
from tests.jobs_fakes import REGION


def at(epoch):
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def price(instance_type, zone, usd, epoch):
    return {"InstanceType": instance_type, "AvailabilityZone": zone, "SpotPrice": str(usd),
            "ProductDescription": "Linux/UNIX", "Timestamp": at(epoch)}


@pytest.fixture
def ec2():
    client = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_current_prices_read_every_page_and_keep_the_newest_per_zone(ec2, clock, tmp_path):
    client, stub = ec2
    query = {"InstanceTypes": ["g4dn.xlarge", "p3.2xlarge"], "ProductDescriptions": ["Linux/UNIX"], "StartTime": ANY}
    stub.add_response("describe_spot_price_history", {"NextToken": "page-2", "SpotPriceHistory": [
        price("g4dn.xlarge", "us-west-2a", 0.20, clock.now - 7200),
        price("g4dn.xlarge", "us-west-2a", 0.18, clock.now - 60),  # the newer one holds now
        price("g4dn.xlarge", "us-west-2b", 0.25, clock.now - 30),
    ]}, query)
    stub.add_response("describe_spot_price_history", {"NextToken": "", "SpotPriceHistory": [
        price("p3.2xlarge", "us-west-2c", 0.95, clock.now - 10),
    ]}, {**query, "NextToken": "page-2"})
    spot = SpotPrices(client, region=REGION, cache_file=tmp_path / "spot.json", clock=clock)

    assert spot.current(["p3.2xlarge", "g4dn.xlarge"]) == {
        "g4dn.xlarge": {"us-west-2a": 0.18, "us-west-2b": 0.25},
        "p3.2xlarge": {"us-west-2c": 0.95},
    }


def test_current_prices_are_cached_for_a_few_minutes_then_asked_again(ec2, clock, tmp_path):
    client, stub = ec2
    cache = tmp_path / "home" / "cache" / "spot.json"
    stub.add_response("describe_spot_price_history",
                      {"SpotPriceHistory": [price("g4dn.xlarge", "us-west-2a", 0.2, clock.now)]})
    first = SpotPrices(client, region=REGION, cache_file=cache, clock=clock).current(["g4dn.xlarge"])
    # A second command (a new SpotPrices over the same cache) within the window asks EC2 nothing:
    # the Stubber has no second response, so a call would fail.
    clock.now += SPOT_CACHE_SECONDS - 1
    assert SpotPrices(client, region=REGION, cache_file=cache, clock=clock).current(["g4dn.xlarge"]) == first
    stub.assert_no_pending_responses()

    clock.now += 2
    stub.add_response("describe_spot_price_history",
                      {"SpotPriceHistory": [price("g4dn.xlarge", "us-west-2a", 0.3, clock.now)]})
    assert SpotPrices(client, region=REGION, cache_file=cache, clock=clock).current(["g4dn.xlarge"]) == {
        "g4dn.xlarge": {"us-west-2a": 0.3}}


def test_only_the_types_missing_from_the_cache_are_asked_for(ec2, clock, tmp_path):
    client, stub = ec2
    cache = tmp_path / "spot.json"
    stub.add_response("describe_spot_price_history",
                      {"SpotPriceHistory": [price("g4dn.xlarge", "us-west-2a", 0.2, clock.now)]},
                      {"InstanceTypes": ["g4dn.xlarge"], "ProductDescriptions": ["Linux/UNIX"], "StartTime": ANY})
    stub.add_response("describe_spot_price_history",
                      {"SpotPriceHistory": [price("g5.xlarge", "us-west-2b", 0.4, clock.now)]},
                      {"InstanceTypes": ["g5.xlarge"], "ProductDescriptions": ["Linux/UNIX"], "StartTime": ANY})
    spot = SpotPrices(client, region=REGION, cache_file=cache, clock=clock)
    spot.current(["g4dn.xlarge"])
    assert spot.current(["g4dn.xlarge", "g5.xlarge"]) == {
        "g4dn.xlarge": {"us-west-2a": 0.2}, "g5.xlarge": {"us-west-2b": 0.4}}


def test_a_type_with_no_spot_history_has_no_price_and_an_unreadable_cache_is_ignored(ec2, clock, tmp_path):
    client, stub = ec2
    cache = tmp_path / "spot.json"
    cache.write_text("{not json")
    stub.add_response("describe_spot_price_history", {"SpotPriceHistory": []})
    assert SpotPrices(client, region=REGION, cache_file=cache, clock=clock).current(["p3.8xlarge"]) == {"p3.8xlarge": {}}


def test_history_of_an_attempt_window_pages_and_comes_oldest_first(ec2, clock):
    client, stub = ec2
    start, end = clock.now - 7200, clock.now
    query = {"InstanceTypes": ["g4dn.xlarge"], "AvailabilityZone": "us-west-2a", "ProductDescriptions": ["Linux/UNIX"],
             "StartTime": at(start), "EndTime": at(end)}
    stub.add_response("describe_spot_price_history", {"NextToken": "t", "SpotPriceHistory": [
        price("g4dn.xlarge", "us-west-2a", 0.30, start + 3600)]}, query)
    stub.add_response("describe_spot_price_history", {"SpotPriceHistory": [
        price("g4dn.xlarge", "us-west-2a", 0.20, start - 86400)]}, {**query, "NextToken": "t"})
    spot = SpotPrices(client, region=REGION, clock=clock)
    assert spot.history("g4dn.xlarge", "us-west-2a", start, end) == [(start - 86400, 0.2), (start + 3600, 0.3)]


def test_moto_answers_the_same_call(clean_env):
    from moto import mock_aws

    with mock_aws():
        spot = SpotPrices(boto3.client("ec2", region_name=REGION), region=REGION)
        prices = spot.current(["g4dn.xlarge"])["g4dn.xlarge"]
    assert prices and all(zone.startswith(REGION) and usd > 0 for zone, usd in prices.items())


def test_on_demand_prices_come_from_the_dated_table_with_the_override_on_top():
    prices = on_demand_prices("us-west-2", {"OCRBATCH_ON_DEMAND_PRICES": "g4dn.xlarge=0.5, x9.large=2"})
    assert prices.get("g4dn.xlarge") == 0.5 and prices.get("x9.large") == 2.0
    assert prices.get("p3.2xlarge") == INSTANCE_TYPES["p3.2xlarge"][1]
    assert "g4dn.xlarge, x9.large from OCRBATCH_ON_DEMAND_PRICES" in prices.source
    assert "not eu-west-1" in on_demand_prices("eu-west-1", {}).source


@pytest.mark.parametrize("bad", ["g4dn.xlarge", "g4dn.xlarge=cheap", "=1", "g4dn.xlarge=-1"])
def test_a_bad_override_is_refused_in_one_line(bad):
    with pytest.raises(BadInput, match="OCRBATCH_ON_DEMAND_PRICES must be"):
        on_demand_prices("us-west-2", {"OCRBATCH_ON_DEMAND_PRICES": bad})


def test_doctor_s_probe_tells_an_allowed_price_call_from_a_refused_one(ec2):
    from ocrbatch.jobs.pricing import spot_prices_unreadable

    client, stub = ec2
    expected = {"DryRun": True, "MaxResults": 1, "ProductDescriptions": ["Linux/UNIX"]}
    stub.add_client_error("describe_spot_price_history", "DryRunOperation", "would have succeeded", 412, expected_params=expected)
    stub.add_client_error("describe_spot_price_history", "UnauthorizedOperation", "not allowed", 403, expected_params=expected)
    assert spot_prices_unreadable(client) is None
    assert spot_prices_unreadable(client) == "UnauthorizedOperation: not allowed"
