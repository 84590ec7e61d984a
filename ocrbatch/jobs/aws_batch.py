"""The AWS backend: training jobs on AWS Batch, runs in S3, logs in CloudWatch Logs.

:class:`AwsBatchBackend` implements :class:`~ocrbatch.jobs.backend.JobBackend` over injected
clients: ``batch``, ``logs`` and ``s3`` (plus ``service-quotas``/``ec2`` for explaining a job stuck
in RUNNABLE), given one by one or as a ``clients(service)`` factory that builds each on first use.
``ocrbatch.wiring`` builds them; nothing here does.
"""

from __future__ import annotations

import time
from functools import cached_property
from typing import Callable

from ocrbatch.errors import NotFound
from ocrbatch.jobs.backend import ACTIVE_STATES, CANCELLABLE_STATES, Attempt, JobInfo, JobRequest, check_placement
from ocrbatch.jobs.stack import StackResources
from ocrbatch.layout import child_location
from ocrbatch.storage import S3Store
from ocrbatch.trainer.spec import ENV_PREFIX

# Batch's default log group, used when neither the job nor the stack names one.
DEFAULT_LOG_GROUP = "/aws/batch/job"
TAG_RUN_ID = "ocrbatch:run-id"
# get_log_events pages are 1 MB / 10,000 events at most; cap pages per call so a huge log
# is streamed in slices rather than loaded at once.
MAX_LOG_PAGES = 20
LIST_WINDOW_S = 30 * 86400


class AwsBatchBackend:
    name = "aws"

    def __init__(
        self,
        *,
        stack: StackResources,
        clients: Callable[[str], object] | None = None,
        batch=None,
        logs=None,
        s3=None,
        quotas=None,
        ec2=None,
        transfer_config=None,
        clock=time.time,
    ):
        self.stack = stack
        self.clock = clock
        self._transfer_config = transfer_config
        self._clients = clients
        given = {"batch": batch, "logs": logs, "s3": s3, "service-quotas": quotas, "ec2": ec2}
        self._given = {service: client for service, client in given.items() if client is not None}

    def _client(self, service: str):
        if service in self._given or self._clients is None:
            return self._given.get(service)
        return self._clients(service)

    batch = property(lambda self: self._client("batch"))
    logs = property(lambda self: self._client("logs"))
    s3 = property(lambda self: self._client("s3"))
    quotas = property(lambda self: self._client("service-quotas"))  # explains a job stuck in RUNNABLE
    ec2 = property(lambda self: self._client("ec2"))  # likewise

    @cached_property
    def store(self) -> S3Store:
        return S3Store.deferred(lambda: self.s3, self.stack.require("bucket"), transfer_config=self._transfer_config)

    # --- submit ---------------------------------------------------------------------------

    def submit_job_kwargs(self, request: JobRequest) -> dict:
        """Exactly what :meth:`submit` passes to ``batch.submit_job`` (also `submit --dry-run`)."""
        check_placement(request.queue, request.gpus)
        queue = request.job_queue or self.stack.queue_for(request.queue)
        definition = request.job_definition or self.stack.job_definition_for(request.queue, request.gpus)
        environment = [{"name": k, "value": v} for k, v in sorted(request.spec.to_env().items())]
        overrides: dict = {"environment": environment}
        if request.gpus > 1:
            overrides["resourceRequirements"] = [{"type": "GPU", "value": str(request.gpus)}]
        run_id = _run_id_of(request.spec.output)
        tags = {"ocrbatch:engine": request.spec.engine, "ocrbatch:task": request.spec.task}
        if run_id:
            tags[TAG_RUN_ID] = run_id
        kwargs = {
            "jobName": request.job_name,
            "jobQueue": queue,
            "jobDefinition": definition,
            "containerOverrides": overrides,
            "tags": tags,
            "propagateTags": True,
        }
        if request.max_hours is not None:
            kwargs["timeout"] = {"attemptDurationSeconds": round(request.max_hours * 3600)}
        if request.array_size and request.array_size > 1:  # Batch's arrays have 2 to 10,000 children
            kwargs["arrayProperties"] = {"size": request.array_size}
        return kwargs

    def submit(self, request: JobRequest) -> JobInfo:
        kwargs = self.submit_job_kwargs(request)
        response = self.batch.submit_job(**kwargs)
        array_size = kwargs.get("arrayProperties", {}).get("size")
        return JobInfo(
            job_id=response["jobId"],
            job_name=response.get("jobName", request.job_name),
            status="SUBMITTED",
            created_at=self.clock(),
            queue=_short_name(kwargs["jobQueue"]),
            output=_output_of(request.spec.output, request.spec.sweep, array_size, None),
            dataset=request.spec.dataset,
            array_size=array_size,
            array_index=0 if request.spec.sweep and not array_size else None,
            sweep=request.spec.sweep,
        )

    # --- read -----------------------------------------------------------------------------

    def describe_raw(self, job_id: str) -> dict:
        jobs = self.batch.describe_jobs(jobs=[job_id]).get("jobs") or []
        if not jobs:
            raise NotFound(f"no job {job_id!r} in {self.stack.region} (Batch keeps finished jobs about 7 days)")
        return jobs[0]

    def describe(self, job_id: str) -> JobInfo:
        return job_info(self.describe_raw(job_id))

    def list_jobs(self, *, limit: int = 50) -> list[JobInfo]:
        ids: dict[str, float] = {}
        # A filter makes list_jobs return every status (without one it returns RUNNING jobs only);
        # Batch keeps finished jobs for about a week, so a month covers all it can still describe.
        since = str(int((self.clock() - LIST_WINDOW_S) * 1000))
        for queue in self.stack.known_queues():
            paginator = self.batch.get_paginator("list_jobs")
            pages = paginator.paginate(jobQueue=queue, filters=[{"name": "AFTER_CREATED_AT", "values": [since]}])
            for page in pages:
                for summary in page.get("jobSummaryList", []):
                    if ":" not in summary["jobId"]:  # a sweep is one row: its parent (its children: children())
                        ids[summary["jobId"]] = summary.get("createdAt", 0)
        newest = sorted(ids, key=lambda job_id: ids[job_id], reverse=True)[:limit]
        jobs = []
        for start in range(0, len(newest), 100):  # describe_jobs takes 100 ids at most
            jobs.extend(self.batch.describe_jobs(jobs=newest[start : start + 100]).get("jobs", []))
        infos = [job_info(job) for job in jobs]
        return sorted(infos, key=lambda info: info.created_at or 0, reverse=True)

    def children(self, job_id: str) -> list[JobInfo]:
        """A sweep's children from ListJobs (100 a page): their states and reasons, not their attempts."""
        parent = self.describe(job_id)
        if not parent.is_sweep:
            return [parent] if parent.sweep else []
        children = []
        for page in self.batch.get_paginator("list_jobs").paginate(arrayJobId=parent.job_id):
            children.extend(_child_info(summary, parent) for summary in page.get("jobSummaryList", []))
        return sorted(children, key=lambda child: child.array_index or 0)

    # --- cancel ---------------------------------------------------------------------------

    def cancel(self, job_id: str, reason: str) -> JobInfo:
        job = self.describe(job_id)
        if job.is_sweep and job.status in ACTIVE_STATES:
            # Cancelling the parent withdraws every waiting child; started ones are terminated one by
            # one, as a single job would be, so their trainers checkpoint first.
            self.batch.cancel_job(jobId=job_id, reason=reason)
            for child in self.children(job_id):
                if child.status in ACTIVE_STATES and child.status not in CANCELLABLE_STATES:
                    self.batch.terminate_job(jobId=child.job_id, reason=reason)
        elif job.status in CANCELLABLE_STATES:
            self.batch.cancel_job(jobId=job_id, reason=reason)
        elif job.status in ACTIVE_STATES:
            self.batch.terminate_job(jobId=job_id, reason=reason)
        return job

    # --- logs -----------------------------------------------------------------------------

    def log_events(self, job_id: str, *, start_from: str | None = None) -> tuple[list[str], str | None]:
        """New lines of the current attempt's stream. The token carries the stream name, so after
        a retry (new attempt, new stream) reading restarts at the new stream's head."""
        raw = self.describe_raw(job_id)
        stream = (raw.get("container") or {}).get("logStreamName")
        if not stream:
            return [], start_from
        group = self.log_group_of(raw)
        token = None
        if start_from:
            token_stream, _, token = start_from.partition("\n")
            if token_stream != stream:
                token = None
        lines: list[str] = []
        for _ in range(MAX_LOG_PAGES):
            kwargs = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
            if token:
                kwargs["nextToken"] = token
            try:
                page = self.logs.get_log_events(**kwargs)
            except self.logs.exceptions.ResourceNotFoundException:
                # Batch names the stream before the container writes to it.
                return lines, start_from
            lines.extend(event["message"].rstrip("\n") for event in page.get("events", []))
            next_token = page.get("nextForwardToken")
            if not next_token or next_token == token:
                break
            token = next_token
        return lines, f"{stream}\n{token}" if token else start_from

    def log_group_of(self, raw_job: dict) -> str:
        options = ((raw_job.get("container") or {}).get("logConfiguration") or {}).get("options") or {}
        return options.get("awslogs-group") or self.stack.log_group or DEFAULT_LOG_GROUP

    # --- RUNNABLE diagnosis -----------------------------------------------------------------

    def diagnose(self, job_id: str) -> list[str]:
        from ocrbatch.jobs.diagnosis import diagnose_runnable

        return diagnose_runnable(self.describe_raw(job_id), batch=self.batch, quotas=self.quotas, ec2=self.ec2)


def job_info(job: dict) -> JobInfo:
    """Batch's describe_jobs entry -> JobInfo (times in epoch seconds)."""
    container = job.get("container") or {}
    environment = {item["name"]: item.get("value") for item in container.get("environment", [])}
    array = job.get("arrayProperties") or {}
    sweep = environment.get(ENV_PREFIX + "SWEEP")
    array_size = array.get("size")
    array_index = array.get("index", _index_in_id(job["jobId"]))
    if array_index is None and sweep and not array_size:
        array_index = 0  # a one-child sweep: a plain job (Batch has no array of one)
    attempts = tuple(
        Attempt(
            started_at=_seconds(attempt.get("startedAt")),
            stopped_at=_seconds(attempt.get("stoppedAt")),
            exit_code=(attempt.get("container") or {}).get("exitCode"),
            # A Spot reclaim is reported in the attempt's statusReason ("Host EC2 (instance i-…)
            # terminated."); a container failure in the container's reason.
            reason=attempt.get("statusReason") or (attempt.get("container") or {}).get("reason"),
            log_stream=(attempt.get("container") or {}).get("logStreamName"),
        )
        for attempt in job.get("attempts", [])
    )
    return JobInfo(
        job_id=job["jobId"],
        job_name=job.get("jobName", ""),
        status=job.get("status", "SUBMITTED"),
        status_reason=job.get("statusReason") or container.get("reason"),
        created_at=_seconds(job.get("createdAt")),
        started_at=_seconds(job.get("startedAt")),
        stopped_at=_seconds(job.get("stoppedAt")),
        queue=_short_name(job.get("jobQueue")),
        output=_output_of(environment.get(ENV_PREFIX + "OUTPUT"), sweep, array_size, array_index),
        dataset=environment.get(ENV_PREFIX + "DATASET"),
        attempts=attempts,
        log_stream=container.get("logStreamName"),
        array_size=array_size,
        array_index=array_index,
        child_counts={state: count for state, count in (array.get("statusSummary") or {}).items() if count} if array_size else None,
        sweep=sweep,
    )


def _child_info(summary: dict, parent: JobInfo) -> JobInfo:
    """A ListJobs summary of a sweep's child -> JobInfo (no attempts: describe the child for those)."""
    container = summary.get("container") or {}
    index = (summary.get("arrayProperties") or {}).get("index", _index_in_id(summary["jobId"]))
    return JobInfo(
        job_id=summary["jobId"],
        job_name=summary.get("jobName", parent.job_name),
        status=summary.get("status", "SUBMITTED"),
        status_reason=summary.get("statusReason") or container.get("reason"),
        created_at=_seconds(summary.get("createdAt")),
        started_at=_seconds(summary.get("startedAt")),
        stopped_at=_seconds(summary.get("stoppedAt")),
        queue=parent.queue,
        output=child_location(parent.output, index) if parent.output and index is not None else None,
        dataset=parent.dataset,
        array_index=index,
        sweep=parent.sweep,
    )


def _index_in_id(job_id: str) -> int | None:
    """Batch names an array job's children ``<parent id>:<index>``."""
    _parent, sep, index = job_id.rpartition(":")
    return int(index) if sep and index.isdigit() else None


def _output_of(output: str | None, sweep: str | None, array_size: int | None, array_index: int | None) -> str | None:
    """Where a job's run is: a sweep's child trains in its own folder beside the sweep's (the
    parent's output is the sweep's folder, which holds its manifest)."""
    if not output or not sweep or array_size:
        return output
    return child_location(output, array_index or 0)


def _seconds(millis) -> float | None:
    return None if millis is None else millis / 1000.0


def _short_name(arn_or_name: str | None) -> str | None:
    """``arn:aws:batch:...:job-queue/gpu`` -> ``gpu``."""
    if not arn_or_name:
        return None
    return arn_or_name.rsplit("/", 1)[-1] if arn_or_name.startswith("arn:") else arn_or_name


def _run_id_of(output_uri: str) -> str | None:
    from ocrbatch.jobs.runs import run_id_from_uri

    return run_id_from_uri(output_uri)
