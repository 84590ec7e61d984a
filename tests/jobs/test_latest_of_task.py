"""`latest` for a model option takes the newest succeeded job of that option's task: a detector and a
recognizer trained one after the other are each `latest` for their own option."""

import json

import pytest

from ocrbatch.errors import NotFound
from ocrbatch.jobs.backend import JobInfo
from ocrbatch.jobs.runs import latest_of_task
from ocrbatch.layout import RunLayout
from ocrbatch.storage import LocalStore


class ListedJobs:
    name = "local"

    def __init__(self, root, jobs):
        self.store = LocalStore(root)
        self.jobs = []
        for created, (run_id, status, task) in enumerate(jobs):
            if task is not None:
                record = {"run_id": run_id, "spec": {"task": task}}
                self.store.put_bytes(RunLayout(run_id).run_spec, json.dumps(record).encode())
            self.jobs.append(JobInfo(job_id=f"job-{run_id}", job_name=run_id, status=status,
                                     output=self.store.uri(RunLayout(run_id).prefix), created_at=float(created)))

    def list_jobs(self, *, limit=50):
        return list(reversed(self.jobs))[:limit]

    def describe(self, job_id):
        return next(job for job in self.jobs if job.job_id == job_id)


def test_each_option_takes_the_newest_job_of_its_own_task(tmp_path):
    backend = ListedJobs(tmp_path, [("r1", "SUCCEEDED", "rec"), ("d1", "SUCCEEDED", "det"), ("d2", "FAILED", "det")])
    assert latest_of_task(backend, "rec").job_id == "job-r1"
    assert latest_of_task(backend, "det").job_id == "job-d1"


def test_the_option_says_which_job_it_took_and_that_the_newest_job_is_another(tmp_path):
    backend = ListedJobs(tmp_path, [("r1", "SUCCEEDED", "rec"), ("d1", "SUCCEEDED", "det"), ("d2", "FAILED", "det")])
    said = []
    latest_of_task(backend, "rec", say=said.append)
    assert said == ["latest: job job-r1 (r1), the newest succeeded rec job, SUCCEEDED; the newest job, job-d2, is FAILED"]


def test_a_run_without_a_recorded_task_counts_as_recognition(tmp_path):
    backend = ListedJobs(tmp_path, [("old", "SUCCEEDED", None)])
    assert latest_of_task(backend, "rec").job_id == "job-old"


def test_no_job_of_the_task_says_which_task_and_what_the_newest_trained(tmp_path):
    backend = ListedJobs(tmp_path, [("r1", "SUCCEEDED", "rec")])
    with pytest.raises(NotFound, match=r"no succeeded det job .*job-r1, trained rec\); name a job id"):
        latest_of_task(backend, "det")
