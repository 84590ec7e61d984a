"""The GPU/CPU instances made safe (issue 17): the launch template's user data decoded part by part, the
compute environments following the template's version, and the retry rules checked against Batch's
documented matching."""

from __future__ import annotations

import email
import re

import pytest
import yaml

from ocrbatch import stack_outputs
from ocrbatch.stop_window import CONTAINER_STOP_TIMEOUT_S, EXIT_STOPPED, NOTICE_POLL_S, SPOT_NOTICE_S, STOP_BUDGET_S
from stacks.instance_setup import PREPARE_SCRIPT, WATCHER_PATH, WATCHER_SCRIPT, WATCHER_UNIT

JOB_DEFINITIONS = [stack_outputs.GPU_JOB_DEFINITION, stack_outputs.MULTI_GPU_JOB_DEFINITION,
                   stack_outputs.CPU_JOB_DEFINITION]


def compute_environments(platform) -> dict:
    return platform.resources("AWS::Batch::ComputeEnvironment")


def launch_templates(platform) -> dict:
    return platform.resources("AWS::EC2::LaunchTemplate")


def user_data(platform) -> email.message.Message:
    (template,) = launch_templates(platform).values()
    encoded = template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    assert isinstance(encoded, str), "user data must be plain text, not a token the instance cannot read"
    return email.message_from_string(encoded)


def parts(platform) -> dict[str, str]:
    message = user_data(platform)
    return {part.get_content_type(): part.get_payload() for part in message.walk() if not part.is_multipart()}


def test_user_data_is_mime_multipart_as_batch_requires(platform):
    message = user_data(platform)
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_boundary()
    assert sorted(parts(platform)) == ["text/cloud-config", "text/x-shellscript"]


def test_cloud_config_installs_and_starts_the_spot_notice_watcher(platform):
    text = parts(platform)["text/cloud-config"]
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)
    files = {f["path"]: f for f in config["write_files"]}
    watcher = files[WATCHER_PATH]
    assert watcher["content"] == WATCHER_SCRIPT.read_text()  # byte for byte the script the tests run
    assert watcher["permissions"] == "0755"
    unit = files[f"/etc/systemd/system/{WATCHER_UNIT}"]["content"]
    assert f"ExecStart={WATCHER_PATH}\n" in unit
    assert f"Environment=OCRBATCH_NOTICE_POLL_SECONDS={NOTICE_POLL_S}\n" in unit
    assert "Restart=on-failure" in unit
    assert config["runcmd"][0] == ["systemctl", "enable", "--now", "--no-block", WATCHER_UNIT]


def test_ecs_agent_gets_a_two_minute_stop_timeout_and_spot_draining(platform):
    config = yaml.safe_load(parts(platform)["text/cloud-config"])
    ecs = {f["path"]: f for f in config["write_files"]}["/etc/ecs/ecs.config"]
    assert ecs["append"] is True  # Batch writes ECS_CLUSTER there too
    settings = dict(line.split("=", 1) for line in ecs["content"].splitlines())
    assert settings == {
        "ECS_CONTAINER_STOP_TIMEOUT": f"{CONTAINER_STOP_TIMEOUT_S}s",
        "ECS_ENABLE_SPOT_INSTANCE_DRAINING": "true",
    }


def test_stop_budget_fits_the_notice_and_the_stop_timeout():
    assert CONTAINER_STOP_TIMEOUT_S >= SPOT_NOTICE_S == 120
    assert 60 <= STOP_BUDGET_S <= SPOT_NOTICE_S - NOTICE_POLL_S - 10


def test_shell_part_blocks_imds_for_every_user_but_root_only(platform):
    script = parts(platform)["text/x-shellscript"]
    assert script == PREPARE_SCRIPT.read_text()
    assert script.startswith("#!/bin/bash\n")
    rules = [line for line in script.replace("\\\n", " ").splitlines() if line.startswith("iptables")]
    assert len(rules) == 1
    words = rules[0].split()
    assert words[words.index("--destination") + 1] == "169.254.169.254/32"
    assert "! --uid-owner 0" in " ".join(words)  # root (ECS agent, watcher) keeps IMDS; uid 1000 does not
    assert words[-2:] == ["--jump", "REJECT"]
    # The ECS credential endpoint, where the job role comes from, must stay reachable.
    assert not re.search(r"169\.254\.170\.2|169\.254\.0\.0/16", " ".join(rules))


def test_every_environment_uses_the_templates_current_version(platform):
    (template_id,) = launch_templates(platform)
    environments = compute_environments(platform)
    assert environments
    for ce in environments.values():
        spec = ce["Properties"]["ComputeResources"]["LaunchTemplate"]
        assert spec["LaunchTemplateId"] == {"Ref": template_id}
        assert spec["Version"] == {"Fn::GetAtt": [template_id, "LatestVersionNumber"]}


def test_trainer_runs_as_the_user_the_firewall_blocks(platform):
    definitions = platform.resources("AWS::Batch::JobDefinition")
    assert len(definitions) == len(JOB_DEFINITIONS)
    for output_key in JOB_DEFINITIONS:
        definition = platform.referenced(platform.document["Outputs"][output_key]["Value"])
        assert definition["Properties"]["ContainerProperties"]["User"] == "1000"


# --- retry rules, matched the way Batch documents it -----------------------------------------------

def _glob(pattern: str | None, value: str | None) -> bool:
    """Batch's patterns: exact, or a prefix when they end with ``*``; a missing condition matches."""
    if pattern is None:
        return True
    value = value or ""
    return value.startswith(pattern[:-1]) if pattern.endswith("*") else value == pattern


def batch_decision(rules: list[dict], *, status_reason: str, reason: str | None, exit_code: int | None) -> str:
    for rule in rules:  # every condition of a rule must match; the first rule that matches wins
        if (_glob(rule.get("OnStatusReason"), status_reason) and _glob(rule.get("OnReason"), reason)
                and _glob(rule.get("OnExitCode"), None if exit_code is None else str(exit_code))):
            return rule["Action"]
    return "RETRY"  # Batch: when no rule matches, the job is retried


def retry_rules(platform) -> list[dict]:
    strategies = {
        json_key: d["Properties"]["RetryStrategy"]["EvaluateOnExit"]
        for json_key, d in platform.resources("AWS::Batch::JobDefinition").items()
    }
    first = next(iter(strategies.values()))
    assert all(rules == first for rules in strategies.values())
    assert len(first) <= 5  # Batch's limit
    for rule in first:
        for key in ("OnStatusReason", "OnReason"):
            assert re.fullmatch(r"[A-Za-z0-9.: \t]*\*?", rule.get(key, "")), rule
        assert re.fullmatch(r"[0-9]*\*?", rule.get("OnExitCode", "")), rule
    return first


@pytest.mark.parametrize(
    "case, status_reason, reason, exit_code, expected",
    [
        ("reclaim without notice", "Host EC2 (instance i-0abc) terminated.", None, None, "RETRY"),
        ("stopped on the notice", "Essential container in task exited", None, EXIT_STOPPED, "RETRY"),
        ("image pull failed", "Task failed to start", "CannotPullContainerError: pull access denied", None, "RETRY"),
        ("trainer failed", "Essential container in task exited", None, 1, "EXIT"),
        ("bad arguments", "Essential container in task exited", None, 2, "EXIT"),
        ("out of memory", "Essential container in task exited", "OutOfMemoryError: Container killed", 137, "EXIT"),
        ("could not start", "Task failed to start", "ResourceInitializationError: no secrets", None, "EXIT"),
    ],
)
def test_retry_rules_retry_reclaims_and_exit_on_failures(platform, case, status_reason, reason, exit_code,
                                                          expected):
    decision = batch_decision(retry_rules(platform), status_reason=status_reason, reason=reason,
                              exit_code=exit_code)
    assert decision == expected, case


def test_retry_rules_leave_no_failure_to_the_retry_default(platform):
    """Whatever a failure carries, some rule decides it: Batch would retry an unmatched one."""
    rules = retry_rules(platform)
    assert rules[-1]["Action"] == "EXIT"
    for exit_code in (None, 1, 255):
        decision = batch_decision(rules, status_reason="anything", reason="Something new", exit_code=exit_code)
        assert decision == "EXIT"
