"""Test doubles shared by the cost tests."""

from tests.jobs_fakes import REGION

SPOT_TYPES = ["g4dn.xlarge", "g4dn.12xlarge"]  # the priced deployment's Spot environment
ON_DEMAND_TYPES = ["g4dn.xlarge"]  # and its on-demand one


class FakeSpot:
    """SpotPrices' interface over fixed figures; counts the calls."""

    region = REGION

    def __init__(self, now=None, history=None):
        self.now, self.histories, self.calls = now or {}, history or {}, []

    def current(self, types):
        types = sorted(set(types))
        self.calls.append(("current", types))
        return {t: self.now.get(t, {}) for t in types}

    def history(self, instance_type, zone, start, end):
        self.calls.append(("history", instance_type, zone, start, end))
        return self.histories.get((instance_type, zone), [])
