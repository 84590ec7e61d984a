"""PaddleOCR's log lines, read: the per-step line, the eval lines during training, and the metric
block of ``tools/eval.py`` (formats in ``PADDLEOCR_CONTRACT.md``, checked against the shared tree by
tests/trainer/test_paddleocr_tree_contract.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ocrbatch.trainer.engines.paddleocr.contract import MAIN_INDICATOR

_STEP = re.compile(
    r"epoch: \[(\d+)/(\d+)\], (?:global_step|iter): (\d+), (.*?),\s*(?:avg_)?reader_cost"
)
_ETA = re.compile(r"\beta: ((?:(\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?))")
_METRIC = re.compile(r"\b(cur|best) metric, (.*)$")
_PAIR = re.compile(r"^\s*([A-Za-z_][\w.]*):\s?(.*?)\s*$")


def _number(text: str):
    text = text.strip()
    if text in ("True", "False"):
        return text == "True"
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if re.fullmatch(r"-?\d+", text) else value


def _pairs(text: str) -> dict:
    result = {}
    for part in text.split(", "):
        match = _PAIR.match(part)
        if match:
            result[match.group(1)] = _number(match.group(2))
    return result


def eta_seconds(line: str) -> float | None:
    match = _ETA.search(line)
    if not match:
        return None
    days, hours, minutes, seconds = match.group(2, 3, 4, 5)
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class LogEvent:
    kind: str  # "step", "cur_metric" or "best_metric"
    values: dict  # step: epoch, epochs, global_step, stats{}, eta_seconds; metric: name -> value


def parse_log_line(line: str) -> LogEvent | None:
    """A per-step line (``epoch: [E/N], global_step: S, <stats>, avg_reader_cost ... eta: ...``) or
    an eval line (``cur metric, acc: ...`` / ``best metric, ...``); anything else is None."""
    match = _STEP.search(line)
    if match:
        epoch, epochs, step, stats = match.groups()
        return LogEvent(
            "step",
            {
                "epoch": int(epoch),
                "epochs": int(epochs),
                "global_step": int(step),
                "stats": _pairs(stats),
                "eta_seconds": eta_seconds(line),
            },
        )
    match = _METRIC.search(line)
    if match:
        return LogEvent(f"{match.group(1)}_metric", _pairs(match.group(2)))
    return None


def progress_values(event: LogEvent, task: str) -> dict:
    """A log event as ``ocrbatch.trainer.progress`` keys."""
    if event.kind == "step":
        step = event.values["global_step"]
        values = {"epoch": event.values["epoch"], "epochs": event.values["epochs"], "step": step, "global_step": step}
        if isinstance(event.values["stats"].get("loss"), float):
            values["loss"] = event.values["stats"]["loss"]
        if event.values["eta_seconds"] is not None:
            values["eta_seconds"] = event.values["eta_seconds"]
        return values
    metric = event.values.get(MAIN_INDICATOR[task])
    if not isinstance(metric, (int, float)) or isinstance(metric, bool):
        return {}
    return {"accuracy" if event.kind == "cur_metric" else "best_accuracy": float(metric)}


def parse_eval_output(text: str) -> dict:
    """``tools/eval.py`` prints ``metric eval ***...`` then one ``key:value`` line per metric."""
    metrics: dict = {}
    started = False
    for line in text.splitlines():
        if "metric eval" in line:
            started, metrics = True, {}
            continue
        if not started:
            continue
        body = re.sub(r"^\[[^\]]*\] \S+ \w+: ", "", line).strip()
        match = re.fullmatch(r"([A-Za-z_]\w*):\s*(\S+)", body)
        if match:
            metrics[match.group(1)] = _number(match.group(2))
    return metrics
