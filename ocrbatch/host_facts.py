"""What a Batch instance records about itself, so the attempts that ran on it can be priced later.

At first boot the instance (as root, the only user that may reach the instance metadata) writes
``instance.json`` into ``HOST_DIR`` (``stacks/host/record_instance.sh``); the job definitions mount that
folder read-only at ``CONTAINER_DIR``; the trainer copies the record into its run's ``progress.json``
under the attempt's number (``hosts``), where ``ocrbatch.jobs.run_costs`` finds it long after the instance
is gone. A job cannot ask the instance metadata itself, and needs no permission for any of this.
"""

from __future__ import annotations

import json
from pathlib import Path

HOST_DIR = "/var/lib/ocrbatch-host"
CONTAINER_DIR = "/etc/ocrbatch-host"
FACTS_NAME = "instance.json"
# lifecycle is IMDS's instance-life-cycle: "spot" or "on-demand"
KEYS = ("instance_id", "instance_type", "availability_zone", "lifecycle")


def read_host_facts(folder: Path | str = CONTAINER_DIR) -> dict | None:
    """The instance's record, or None where there is none (local mode, an instance from before)."""
    try:
        data = json.loads((Path(folder) / FACTS_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not data.get("instance_type"):
        return None
    return {key: data.get(key) or None for key in KEYS}
