"""The figures: an estimate's range, the hours it prices, a finished run's cost (a Spot reclaim: two
attempts on two instances at two prices) and a sweep's total, each against hand-computed figures."""

import boto3
import pytest

from ocrbatch import stack_outputs as keys
from ocrbatch.jobs.backend import Attempt, JobInfo
from ocrbatch.jobs.cost_estimate import estimate, expected_hours, queue_instance_types
from ocrbatch.jobs.pricing import OnDemandPrices
from ocrbatch.jobs.run_costs import LOCAL_RUN, RunCost, run_cost, spot_cost, total
from tests.jobs_fakes import REGION
from tests.pricing.pricing_fakes import ON_DEMAND_TYPES, SPOT_TYPES, FakeSpot

ON_DEMAND = OnDemandPrices({"g4dn.xlarge": 0.526, "g4dn.12xlarge": 3.912, "p3.2xlarge": 3.06}, REGION)


def test_the_estimate_runs_from_the_cheapest_hour_to_the_dearest():
    spot = FakeSpot(now={"g4dn.xlarge": {"a": 0.20, "b": 0.25}, "g4dn.12xlarge": {"a": 1.50}})
    allowed = [("g4dn.xlarge", "spot"), ("g4dn.12xlarge", "spot"), ("g4dn.xlarge", "on-demand")]
    result = estimate(allowed, gpus=1, hours=3.0, hours_basis="--max-hours", spot=spot, on_demand=ON_DEMAND)
    # cheapest: g4dn.xlarge Spot in zone a, 0.20 $/h; dearest: g4dn.12xlarge Spot, 1.50 $/h (a 1-GPU
    # job may land on the 4-GPU type the queue also allows)
    assert result.usd_per_hour == (0.20, 1.50)
    assert result.usd == (0.60, 4.50)
    assert [(t.instance_type, t.lifecycle, t.low, t.high) for t in result.types] == [
        ("g4dn.xlarge", "spot", 0.20, 0.25), ("g4dn.12xlarge", "spot", 1.50, 1.50),
        ("g4dn.xlarge", "on-demand", 0.526, 0.526)]
    assert spot.calls == [("current", ["g4dn.12xlarge", "g4dn.xlarge"])]  # one call for all types


def test_a_multi_gpu_job_is_priced_on_the_types_that_hold_it_only():
    spot = FakeSpot(now={"g4dn.xlarge": {"a": 0.2}, "g4dn.12xlarge": {"a": 1.5, "b": 1.7}})
    allowed = [("g4dn.xlarge", "spot"), ("g4dn.12xlarge", "spot"), ("g4dn.12xlarge", "on-demand")]
    result = estimate(allowed, gpus=4, hours=2.0, hours_basis="x", spot=spot, on_demand=ON_DEMAND)
    assert [t.instance_type for t in result.types] == ["g4dn.12xlarge", "g4dn.12xlarge"]
    assert result.usd == (3.0, 7.82)  # 2 h x 1.5 spot; 2 h x 3.912 on-demand (7.824)


def test_types_without_a_price_are_named_and_no_hours_gives_a_price_per_hour_only():
    spot = FakeSpot(now={})
    result = estimate([("g4dn.xlarge", "spot"), ("optimal", "on-demand"), ("p3.2xlarge", "on-demand")],
                      gpus=1, hours=None, hours_basis="unknown", spot=spot, on_demand=ON_DEMAND)
    assert result.usd == (None, None) and result.usd_per_hour == (3.06, 3.06)
    assert any("no Spot price for g4dn.xlarge" in note for note in result.notes)
    assert any("'optimal'" in note for note in result.notes)


def test_the_hours_come_from_max_hours_then_a_measured_run_then_the_timeout():
    measured = {"run_id": "r1", "epochs": 10, "train_seconds": 1800.0}
    assert expected_hours(max_hours=2.5, epochs=40, measured=measured, timeout_hours=4) == (2.5, "--max-hours")
    hours, basis = expected_hours(max_hours=None, epochs=40, measured=measured, timeout_hours=4)
    assert hours == 2.0 and "40 epochs x 180 s per epoch measured by run r1" in basis  # 40 x 180 s = 2 h
    assert expected_hours(max_hours=None, epochs=None, measured=measured, timeout_hours=4)[0] == 4
    assert expected_hours(max_hours=None, epochs=None, measured=None, timeout_hours=None)[0] is None


def test_the_queue_s_instance_types_come_from_its_compute_environments(priced_deployment):
    batch = boto3.client("batch", region_name=REGION)
    types = queue_instance_types(batch, priced_deployment[keys.GPU_QUEUE])
    assert types == [(t, "spot") for t in SPOT_TYPES] + [(t, "on-demand") for t in ON_DEMAND_TYPES]


def test_spot_cost_integrates_the_prices_over_the_window():
    start = 10_000.0
    history = [(start - 5000, 0.20), (start + 1800, 0.40)]  # 0.20 $/h until half an hour in, then 0.40
    assert spot_cost(history, start, start + 3600) == pytest.approx(0.5 * 0.20 + 0.5 * 0.40)
    assert spot_cost([], start, start + 3600) is None


def test_a_reclaimed_job_costs_each_attempt_at_the_price_that_held_for_it():
    t0 = 1_800_000_000.0
    job = JobInfo(
        job_id="j", job_name="n", status="SUCCEEDED",
        attempts=(
            Attempt(started_at=t0, stopped_at=t0 + 5400, exit_code=143, reason="Host EC2 (instance i-1) terminated."),
            Attempt(started_at=t0 + 6000, stopped_at=t0 + 9600, exit_code=0, reason=None),
        ),
    )
    hosts = {"1": {"instance_type": "g4dn.xlarge", "availability_zone": "us-west-2a", "lifecycle": "spot"},
             "2": {"instance_type": "g4dn.2xlarge", "availability_zone": "us-west-2c", "lifecycle": "spot"}}
    spot = FakeSpot(history={
        # attempt 1: 1 h at 0.20, then 0.5 h at 0.30 (the price rose before the reclaim)
        ("g4dn.xlarge", "us-west-2a"): [(t0 - 100, 0.20), (t0 + 3600, 0.30)],
        ("g4dn.2xlarge", "us-west-2c"): [(t0 - 50_000, 0.33)],  # attempt 2: 1 h at 0.33
    })
    cost = run_cost(job, gpus=1, hosts=hosts, spot=spot, on_demand=ON_DEMAND, now=t0 + 20_000)
    assert [(a.hours, a.usd) for a in cost.attempts] == [(1.5, 0.35), (1.0, 0.33)]
    assert cost.gpu_hours == 2.5 and cost.usd == pytest.approx(0.68) and cost.final
    assert ("history", "g4dn.xlarge", "us-west-2a", t0, t0 + 5400) in spot.calls
    assert RunCost.from_json(cost.to_json()) == cost


def test_an_on_demand_attempt_uses_the_table_and_an_unrecorded_instance_leaves_the_cost_unknown():
    t0 = 1_800_000_000.0
    job = JobInfo(job_id="j", job_name="n", status="FAILED", attempts=(
        Attempt(started_at=t0, stopped_at=t0 + 1800, exit_code=1, reason=None),
        Attempt(started_at=t0 + 2000, stopped_at=t0 + 3800, exit_code=1, reason=None)))
    hosts = {"1": {"instance_type": "p3.2xlarge", "availability_zone": "us-west-2b", "lifecycle": "on-demand"}}
    cost = run_cost(job, gpus=2, hosts=hosts, spot=FakeSpot(), on_demand=ON_DEMAND, now=t0 + 9999)
    assert cost.attempts[0].usd == pytest.approx(1.53) and cost.attempts[0].gpu_hours == 1.0
    assert cost.attempts[1].usd is None and "not recorded" in cost.attempts[1].priced_by
    assert cost.usd is None and cost.gpu_hours == 2.0


def test_a_running_attempt_counts_until_now():
    t0 = 1_800_000_000.0
    job = JobInfo(job_id="j", job_name="n", status="RUNNING", started_at=t0)
    hosts = {"1": {"instance_type": "g4dn.xlarge", "availability_zone": "a", "lifecycle": "on-demand"}}
    cost = run_cost(job, gpus=1, hosts=hosts, spot=None, on_demand=ON_DEMAND, now=t0 + 1800)
    assert cost.gpu_hours == 0.5 and cost.usd == pytest.approx(0.263) and not cost.final


def test_a_sweep_s_total_sums_what_it_can_price_and_counts_what_it_cannot():
    runs = [RunCost(gpu_hours=1.0, usd=0.5, final=True), RunCost(gpu_hours=2.5, usd=0.75, final=True),
            RunCost(gpu_hours=0.5, usd=None, final=False), LOCAL_RUN]
    assert total(runs) == {"runs": 4, "gpu_hours": 4.0, "cost_usd": 1.25, "unpriced_runs": 2, "final": False}
    assert total([]) == {"runs": 0, "gpu_hours": 0, "cost_usd": None, "unpriced_runs": 0, "final": True}
