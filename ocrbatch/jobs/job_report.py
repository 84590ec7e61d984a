"""A job's state for people and scripts: :func:`snapshot` (one JSON-able document, what
``monitor --once`` and ``--json`` print), :func:`describe_snapshot` (its human lines), what Spot reclaims
cost, and the formatting the monitor's live lines share."""

from __future__ import annotations

from ocrbatch.jobs.backend import JobBackend, JobInfo, interrupted_locally, shown_status, what_interrupted
from ocrbatch.jobs.runs import read_progress, run_accuracy, run_id_from_uri, run_store, store_of
from ocrbatch.layout import RunLayout


def reclaim_cost(job: JobInfo, progress: dict | None) -> dict:
    """Spot reclaims of the job and the training they cost, as the retried trainer recorded it
    (``lost_training_seconds`` is None until a retried attempt has started and worked it out)."""
    interruptions = (progress or {}).get("interruptions") or []
    known = [i["lost_seconds"] for i in interruptions if i.get("lost_seconds") is not None]
    return {
        "reclaims": job.attempt_ends().count("reclaimed"),
        "lost_training_seconds": round(sum(known), 1) if known else None,
    }


def snapshot(backend: JobBackend, job: JobInfo, *, now: float | None = None) -> dict:
    """The job's current state as one JSON-able document (`monitor --once`, the final result)."""
    import time

    from ocrbatch.jobs.run_costs import job_cost

    data = job.to_json()
    run_id = run_id_from_uri(job.output)
    store = store_of(backend)
    data["run_id"] = run_id
    data["progress"] = read_progress(store, job)
    data.update(reclaim_cost(job, data["progress"]))
    data["accuracy"] = run_accuracy(store, job)
    published = run_id and store is not None and job.status == "SUCCEEDED"
    data["model_uri"] = run_store(store, job).uri(RunLayout(run_id).model) if published else None
    data["report_uri"] = report_uri(store, job) if published else None
    data["backend"] = backend.name
    cost = job_cost(backend, job, now=time.time() if now is None else now)
    data["cost"] = cost.to_json() if cost else None
    return data


def describe_snapshot(data: dict) -> list[str]:
    """Human lines for :func:`snapshot`'s document."""
    lines = [f"{data['job_id']}  {data['job_name']}  {shown_status(data['status'], data.get('cancelled', False))}"]
    if data.get("status_reason"):
        lines.append(f"reason: {data['status_reason']}")
    costs = {i.get("attempt"): i for i in ((data.get("progress") or {}).get("interruptions") or [])}
    for number, attempt in enumerate(data.get("attempts") or [], start=1):
        end = attempt.get("ended")
        code = attempt.get("exit_code")
        what = {"reclaimed": "Spot reclaim", "stopped": "stopped on SIGTERM"}.get(end) or (
            f"exit code {code}" if code is not None else None)
        if interrupted_locally(attempt.get("reason")):  # retried as a reclaim, but no Spot was involved
            line = f"attempt {number}: interrupted, {what_interrupted(attempt['reason'])}"
        elif what is None:  # a lost host leaves no exit code: its reason says what happened
            line = f"attempt {number}: {attempt.get('reason') or 'no exit code recorded'}"
        else:
            line = f"attempt {number}: {what}" + (f" ({attempt['reason']})" if attempt.get("reason") else "")
        if number in costs:
            line += f"; {format_lost(costs[number])}"
        lines.append(line)
    if data.get("reclaims"):
        lost = data.get("lost_training_seconds")
        counted = "interrupted attempts" if data.get("backend") == "local" else "reclaims"
        lines.append(f"{counted}: {data['reclaims']}, training lost: "
                     + ("not known yet" if lost is None else "none" if lost == 0 else format_duration(lost)))
    if data.get("progress"):
        lines.append("progress: " + format_progress(data["progress"]))
    if data.get("accuracy") is not None:
        lines.append(f"accuracy: {data['accuracy']:.2%}")
    if data.get("cost"):
        lines.append(format_cost(data["cost"]))
    if data.get("model_uri"):  # the pointers last
        lines.append(f"model: {data['model_uri']}")
    if data.get("report_uri"):
        where = data["report_uri"]
        if not where.startswith("file:"):  # a browser cannot open s3://: the command fetches and opens it
            where += f" (to open it: ocrbatch report {data['job_id']} --open)"
        lines.append(f"report: {where}")
    return lines


def report_uri(store, job: JobInfo) -> str | None:
    """Where the job's published page is (models published before runs had one: None)."""
    key = RunLayout(run_id_from_uri(job.output)).model_report
    held = run_store(store, job)
    try:
        return held.uri(key) if held.exists(key) else None
    except Exception:  # noqa: BLE001 - the page is a pointer in the final lines, never a reason to fail them
        return None


def format_cost(cost: dict) -> str:
    """``cost: $0.68, 2.5 GPU-hours (attempt 1: 1.5 h on g4dn.xlarge spot in us-west-2a, $0.35; ...)``"""
    if cost.get("note"):
        return f"cost: none ({cost['note']})"
    so_far = "" if cost.get("final") else " so far"
    usd = "unknown" if cost.get("cost_usd") is None else f"${cost['cost_usd']:.2f}"
    parts = []
    for attempt in cost.get("attempts") or []:
        where = (f"{attempt['instance_type']} {attempt['lifecycle']} in {attempt['availability_zone']}"
                 if attempt.get("instance_type") else "an unrecorded instance")
        price = f"${attempt['usd']:.2f}" if attempt.get("usd") is not None else f"not priced: {attempt.get('priced_by')}"
        parts.append(f"attempt {attempt['attempt']}: {attempt['hours']:g} h on {where}, {price}")
    detail = f" ({'; '.join(parts)})" if parts else ""
    return f"cost{so_far}: {usd}, {cost['gpu_hours']:g} GPU-hours{detail}"


def cost_cell(cost: dict | None) -> str:
    """The COST column of `list`: ``$0.68 (2.5 GPU-h)``, ``-`` when nothing is known or for a local run."""
    if not cost or cost.get("note"):
        return "-"
    usd = "?" if cost.get("cost_usd") is None else f"${cost['cost_usd']:.2f}"
    return f"{usd} ({cost['gpu_hours']:g} GPU-h)"


# --- formatting ------------------------------------------------------------------------------


def format_progress(progress: dict) -> str:
    parts = [str(progress.get("state") or "?")]
    epoch, epochs = progress.get("epoch"), progress.get("epochs")
    if epoch is not None:
        parts.append(f"epoch {epoch}/{epochs}" if epochs else f"epoch {epoch}")
    if progress.get("step") is not None:
        per_epoch = progress.get("steps_per_epoch")
        parts.append(f"step {progress['step']}/{per_epoch}" if per_epoch else f"step {progress['step']}")
    if progress.get("loss") is not None:
        parts.append(f"loss {progress['loss']:.4f}")
    if progress.get("accuracy") is not None:
        parts.append(f"accuracy {progress['accuracy']:.1%}")
    if progress.get("eta_seconds") is not None:
        parts.append(f"eta {format_duration(progress['eta_seconds'])}")
    if progress.get("attempt") and progress["attempt"] > 1:
        parts.append(f"attempt {progress['attempt']}")
    if progress.get("message"):
        parts.append(str(progress["message"]))
    return ", ".join(parts)


def format_lost(interruption: dict) -> str:
    seconds, steps = interruption.get("lost_seconds"), interruption.get("lost_steps")
    if seconds is None and steps is None:
        return "training lost: unknown"
    if not steps and not seconds:
        return "no training lost"
    amount = format_duration(seconds) if seconds is not None else "?"
    return f"lost {amount} of training" + (f" ({steps} steps)" if steps is not None else "")


def format_interruption(interruption: dict) -> str:
    how = ("stopped on SIGTERM and checkpointed" if interruption.get("notice")
           else "killed without notice")
    return f"attempt {interruption.get('attempt')} was {how}: {format_lost(interruption)}"


def format_position(resumed: object) -> str:
    """A checkpoint's position. Its epoch counts the epochs finished (progress counts from 1), so it
    is said as such; the global step means the same on every engine."""
    if not isinstance(resumed, dict) or resumed.get("epoch") is None:
        return str(resumed)
    done = int(resumed["epoch"])
    parts = [f"{done} epoch{'' if done == 1 else 's'} done"]
    if resumed.get("global_step") is not None:
        parts.append(f"global step {resumed['global_step']}")
    elif resumed.get("step"):
        parts.append(f"step {resumed['step']}")
    return ", ".join(parts)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 90 * 60:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"
