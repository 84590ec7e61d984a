"""What an instance hour costs: EC2 Spot prices (``DescribeSpotPriceHistory``; the current ones are
cached a few minutes under the ocrbatch home) and on-demand prices (a dated table, overridable).

On-demand prices come from a table here, not from the AWS Pricing API: that API answers only in
us-east-1 (and two other regions), needs a permission of its own (``pricing:GetProducts``) and returns
large nested price-list documents filtered by location *names*, while the stack allows a handful of GPU
types whose on-demand prices have not changed since they launched. The table says where and when it
was read; ``OCRBATCH_ON_DEMAND_PRICES=g5.xlarge=1.006,...`` overrides or extends it (another region, a
new type, a discount you negotiated). Spot prices move, so they are always asked of EC2.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

from ocrbatch.errors import BadInput

# How an instance hour is bought, spelled as IMDS's instance-life-cycle (what each instance records).
SPOT, ON_DEMAND = "spot", "on-demand"
SPOT_PRODUCT = "Linux/UNIX"  # the training image runs on the ECS-optimized Amazon Linux AMI
SPOT_CACHE_SECONDS = 300
OVERRIDE_VARIABLE = "OCRBATCH_ON_DEMAND_PRICES"

ON_DEMAND_READ_ON = "2026-11-30"
ON_DEMAND_SOURCE = "https://aws.amazon.com/ec2/pricing/on-demand/ (Linux, shared tenancy)"
# The table's prices hold in these regions; elsewhere on-demand prices are typically 5-30 % higher.
ON_DEMAND_REGIONS = ("us-east-1", "us-east-2", "us-west-2")

# instance type: (GPUs, on-demand USD per hour). The stack's default GPU and CPU types and their
# nearest neighbours (the sizes and families users put in OCRBATCH_GPU_INSTANCE_TYPES).
INSTANCE_TYPES: dict[str, tuple[int, float]] = {
    "g4dn.xlarge": (1, 0.526),
    "g4dn.2xlarge": (1, 0.752),
    "g4dn.4xlarge": (1, 1.204),
    "g4dn.8xlarge": (1, 2.176),
    "g4dn.12xlarge": (4, 3.912),
    "g4dn.16xlarge": (1, 4.352),
    "g5.xlarge": (1, 1.006),
    "g5.2xlarge": (1, 1.212),
    "g5.4xlarge": (1, 1.624),
    "g5.8xlarge": (1, 2.448),
    "g5.12xlarge": (4, 5.672),
    "g5.16xlarge": (1, 4.096),
    "g5.24xlarge": (4, 8.144),
    "g5.48xlarge": (8, 16.288),
    "p3.2xlarge": (1, 3.06),
    "p3.8xlarge": (4, 12.24),
    "p3.16xlarge": (8, 24.48),
    "c5.large": (0, 0.085),
    "c5.xlarge": (0, 0.17),
    "c5.2xlarge": (0, 0.34),
    "c5.4xlarge": (0, 0.68),
}


def gpus_of(instance_type: str) -> int | None:
    """GPUs of an instance type the table knows, else None."""
    known = INSTANCE_TYPES.get(instance_type)
    return known[0] if known else None


@dataclass(frozen=True)
class OnDemandPrices:
    """On-demand USD per hour by instance type, and what the figures are worth."""

    prices: Mapping[str, float]
    region: str
    overridden: tuple[str, ...] = ()

    def get(self, instance_type: str) -> float | None:
        return self.prices.get(instance_type)

    @property
    def source(self) -> str:
        where = "" if self.region in ON_DEMAND_REGIONS else (
            f"; the table's prices are those of {', '.join(ON_DEMAND_REGIONS)}, not {self.region}: "
            f"set {OVERRIDE_VARIABLE} for this region's")
        own = f"; {', '.join(self.overridden)} from {OVERRIDE_VARIABLE}" if self.overridden else ""
        return f"table read {ON_DEMAND_READ_ON} from {ON_DEMAND_SOURCE}{where}{own}"


def on_demand_prices(region: str, environ: Mapping[str, str] = os.environ) -> OnDemandPrices:
    """The table, with ``OCRBATCH_ON_DEMAND_PRICES`` (``type=usd,...``) on top."""
    prices = {name: usd for name, (_gpus, usd) in INSTANCE_TYPES.items()}
    overridden = []
    for item in filter(None, (part.strip() for part in environ.get(OVERRIDE_VARIABLE, "").split(","))):
        name, _, value = item.partition("=")
        try:
            usd = float(value)
        except ValueError:
            usd = -1.0
        if not name.strip() or usd < 0:
            raise BadInput(f"{OVERRIDE_VARIABLE} must be TYPE=USD_PER_HOUR,... (e.g. g5.xlarge=1.006), got {item!r}")
        prices[name.strip()] = usd
        overridden.append(name.strip())
    return OnDemandPrices(prices=prices, region=region, overridden=tuple(overridden))


class SpotPrices:
    """Spot prices of one region through an injected EC2 client.

    ``current`` answers from a cache file for ``SPOT_CACHE_SECONDS`` (a dry run, then the real submit,
    then a sweep's dry run ask once); ``history`` is not cached: a finished run's cost is worked out
    once and kept with the run.
    """

    def __init__(self, ec2, *, region: str, cache_file: Path | None = None, clock=time.time):
        self.ec2 = ec2
        self.region = region
        self.cache_file = cache_file
        self.clock = clock

    def current(self, instance_types: Iterable[str]) -> dict[str, dict[str, float]]:
        """``{type: {zone: USD per hour}}`` now; a type EC2 has no Spot price for maps to ``{}``."""
        wanted = sorted(set(instance_types))
        cache = self._read_cache()
        now = self.clock()
        fresh = {
            name: entry["zones"] for name in wanted
            if (entry := cache.get(name)) and 0 <= now - entry.get("at", 0) < SPOT_CACHE_SECONDS
        }
        missing = [name for name in wanted if name not in fresh]
        if missing:
            fetched = self._latest(missing, now)
            for name in missing:
                fresh[name] = fetched.get(name, {})
                cache[name] = {"at": now, "zones": fresh[name]}
            self._write_cache(cache)
        return {name: fresh[name] for name in wanted}

    def history(self, instance_type: str, zone: str, start: float, end: float) -> list[tuple[float, float]]:
        """``[(epoch seconds, USD per hour), ...]`` oldest first: each price change in ``[start, end]``
        and the change before ``start`` (EC2 includes the price in effect at the start time)."""
        points = self._pages(
            InstanceTypes=[instance_type], AvailabilityZone=zone, ProductDescriptions=[SPOT_PRODUCT],
            StartTime=_utc(start), EndTime=_utc(max(end, start)),
        )
        return sorted((item["Timestamp"].timestamp(), float(item["SpotPrice"])) for item in points)

    def _latest(self, instance_types: list[str], now: float) -> dict[str, dict[str, float]]:
        # StartTime=now: EC2 answers with the price in effect now, per type and zone.
        newest: dict[tuple[str, str], tuple[float, float]] = {}
        for item in self._pages(InstanceTypes=instance_types, ProductDescriptions=[SPOT_PRODUCT], StartTime=_utc(now)):
            key = (item["InstanceType"], item["AvailabilityZone"])
            stamp = item["Timestamp"].timestamp()
            if key not in newest or stamp > newest[key][0]:
                newest[key] = (stamp, float(item["SpotPrice"]))
        prices: dict[str, dict[str, float]] = {}
        for (name, zone), (_stamp, usd) in sorted(newest.items()):
            prices.setdefault(name, {})[zone] = usd
        return prices

    def _pages(self, **query) -> Iterable[dict]:
        for page in self.ec2.get_paginator("describe_spot_price_history").paginate(**query):
            yield from page.get("SpotPriceHistory", [])

    # The cache is a convenience: unreadable or unwritable, it is simply not used.
    def _read_cache(self) -> dict:
        if not self.cache_file:
            return {}
        try:
            data = json.loads(self.cache_file.read_text())
        except (OSError, ValueError):
            return {}
        entries = data.get(self.region) if isinstance(data, dict) else None
        return entries if isinstance(entries, dict) else {}

    def _write_cache(self, entries: dict) -> None:
        if not self.cache_file:
            return
        try:
            data = json.loads(self.cache_file.read_text())
            data = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            data = {}
        data[self.region] = entries
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            partial = self.cache_file.with_name(f"{self.cache_file.name}.{os.getpid()}.tmp")
            partial.write_text(json.dumps(data, sort_keys=True))
            partial.replace(self.cache_file)
        except OSError:
            pass


def spot_prices_unreadable(ec2) -> str | None:
    """Why Spot prices cannot be read with these credentials, or None when they can (a dry run: EC2
    answers DryRunOperation when the call would be allowed)."""
    try:
        ec2.describe_spot_price_history(DryRun=True, MaxResults=1, ProductDescriptions=[SPOT_PRODUCT])
    except Exception as exc:  # noqa: BLE001 - any refusal is the answer
        error = (getattr(exc, "response", None) or {}).get("Error") or {}
        if error.get("Code") == "DryRunOperation":
            return None
        return f"{error['Code']}: {error.get('Message')}" if error.get("Code") else f"{type(exc).__name__}: {exc}"
    return None


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)
