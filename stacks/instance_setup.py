"""What a Batch container instance does at first boot: the launch template's user data.

Batch accepts only MIME multi-part user data (a plain script leaves the compute environment INVALID)
and adds its own part beside ours. Ours has two:

- cloud-config: writes the Spot notice watcher (``host/spot_notice_watcher.sh``) and its systemd unit,
  appends the ECS agent's settings to ``/etc/ecs/ecs.config``, starts the watcher and runs
  ``host/record_instance.sh`` (the instance's type, zone and lifecycle, where the job definitions mount
  them: ``ocrbatch.host_facts``; each attempt is priced from them);
- shell (``host/prepare_instance.sh``): keeps every process but root's from the instance metadata
  service, so a job cannot take the instance role's credentials.

cloud-init runs both before the ECS agent starts, so no job runs on an instance without them.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from aws_cdk import aws_ec2 as ec2

from ocrbatch.stop_window import CONTAINER_STOP_TIMEOUT_S, NOTICE_POLL_S

HOST_SCRIPTS = Path(__file__).resolve().parent / "host"
WATCHER_SCRIPT = HOST_SCRIPTS / "spot_notice_watcher.sh"
PREPARE_SCRIPT = HOST_SCRIPTS / "prepare_instance.sh"
RECORD_SCRIPT = HOST_SCRIPTS / "record_instance.sh"
WATCHER_PATH = "/usr/local/bin/ocrbatch-spot-notice-watcher"
RECORD_PATH = "/usr/local/bin/ocrbatch-record-instance"
WATCHER_UNIT = "ocrbatch-spot-notice-watcher.service"
ECS_CONFIG_PATH = "/etc/ecs/ecs.config"


def ecs_agent_settings() -> dict[str, str]:
    return {
        # A cancel gets as long to checkpoint as a reclaim (the agent's default is 30 s).
        "ECS_CONTAINER_STOP_TIMEOUT": f"{CONTAINER_STOP_TIMEOUT_S}s",
        # On the notice the agent marks the instance DRAINING, so the retry is placed elsewhere.
        "ECS_ENABLE_SPOT_INSTANCE_DRAINING": "true",
    }


def watcher_unit() -> str:
    return "\n".join([
        "[Unit]",
        "Description=Send SIGTERM to the job containers on an EC2 Spot interruption notice",
        "After=docker.service",
        "",
        "[Service]",
        f"Environment=OCRBATCH_NOTICE_POLL_SECONDS={NOTICE_POLL_S}",
        f"ExecStart={WATCHER_PATH}",
        "Restart=on-failure",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


def cloud_config() -> str:
    ecs_config = "".join(f"{key}={value}\n" for key, value in ecs_agent_settings().items())
    document = {
        "write_files": [
            {"path": WATCHER_PATH, "permissions": "0755", "content": _Block(WATCHER_SCRIPT.read_text())},
            {"path": RECORD_PATH, "permissions": "0755", "content": _Block(RECORD_SCRIPT.read_text())},
            {"path": f"/etc/systemd/system/{WATCHER_UNIT}", "content": _Block(watcher_unit())},
            {"path": ECS_CONFIG_PATH, "append": True, "content": _Block(ecs_config)},
        ],
        "runcmd": [["systemctl", "enable", "--now", "--no-block", WATCHER_UNIT], [RECORD_PATH]],
    }
    return "#cloud-config\n" + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=120)


def instance_user_data() -> ec2.MultipartUserData:
    user_data = ec2.MultipartUserData()
    user_data.add_part(ec2.MultipartBody.from_raw_body(content_type='text/cloud-config; charset="utf-8"',
                                                       body=cloud_config()))
    user_data.add_part(ec2.MultipartBody.from_raw_body(content_type='text/x-shellscript; charset="utf-8"',
                                                       body=PREPARE_SCRIPT.read_text()))
    return user_data


class _Block(str):
    """Written as a YAML literal block, so the decoded user data reads like the files it carries."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Block, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|"))
