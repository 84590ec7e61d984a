"""The README's price table repeats figures whose home is ``ocrbatch.jobs.pricing``: it must agree with it,
so a price changed in one place and not the other fails here."""

import re
from pathlib import Path

from ocrbatch.jobs.pricing import INSTANCE_TYPES

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| ([a-z0-9]+\.[a-z0-9]+) \| [^|]+ \| [^|]+ \| \$([0-9.]+) \|$")


def test_every_priced_row_of_the_readme_matches_the_pricing_table():
    rows = [ROW.match(line) for line in README.read_text(encoding="utf-8").splitlines()]
    prices = {match.group(1): float(match.group(2)) for match in rows if match}
    assert len(prices) >= 5, "the README's table of on-demand prices is gone or has changed shape"
    for instance_type, usd in prices.items():
        assert instance_type in INSTANCE_TYPES, f"README prices {instance_type}, which the table lacks"
        assert INSTANCE_TYPES[instance_type][1] == usd, f"README says ${usd}/h for {instance_type}"
