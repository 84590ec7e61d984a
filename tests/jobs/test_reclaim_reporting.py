"""`monitor` and `list` tell a Spot reclaim from a failure, with the training it cost (issue 17); a local
job interrupted from outside is retried the same way but says what happened instead (issue 18).

A reclaim with the notice ends the attempt with exit 143 and Batch retries it; one without ends with
"Host EC2 ... terminated."; a cancel also ends with 143 but nothing follows. The training lost is what
the retried trainer recorded in progress.json (``interruptions``)."""

from dataclasses import replace


from ocrbatch.jobs.backend import Attempt
from ocrbatch.jobs.job_report import describe_snapshot, reclaim_cost, snapshot
from ocrbatch.jobs.monitor import JobMonitor, PollSettings
from ocrbatch.storage import LocalStore
from tests.jobs_fakes import RUN_ID, SPOT_RECLAIM, FakeClock, ScriptedBackend, job_state

NOTICE_STOP = Attempt(started_at=1.0, stopped_at=2.0, exit_code=143, reason="Essential container in task exited")
SUCCESS = Attempt(started_at=3.0, stopped_at=4.0, exit_code=0, reason=None)
FAILURE = Attempt(started_at=3.0, stopped_at=4.0, exit_code=1, reason="Essential container in task exited")
COSTS = [
    {"attempt": 1, "notice": True, "lost_steps": 0, "lost_seconds": 0.0},
    {"attempt": 2, "notice": False, "lost_steps": 40, "lost_seconds": 60.0},
]


def with_store(state, root):
    return replace(state, output=LocalStore(root).uri(f"runs/{RUN_ID}/"))


def follow(tmp_path, states, progress=None):
    lines = []
    backend = ScriptedBackend(tmp_path, [with_store(s, tmp_path) for s in states], progress=progress)
    clock = FakeClock()
    final = JobMonitor(backend, emit=lines.append, clock=clock, sleep=clock.sleep,
                       settings=PollSettings()).follow("job-1")
    return backend, final, lines


def test_attempt_ends_tell_reclaims_from_failures_and_cancels():
    job = job_state("SUCCEEDED", attempts=[NOTICE_STOP, SPOT_RECLAIM, SUCCESS])
    assert job.attempt_ends() == ["reclaimed", "reclaimed", "succeeded"]
    retry_pending = job_state("RUNNABLE", attempts=[NOTICE_STOP])
    assert retry_pending.attempt_ends() == ["reclaimed"]
    cancelled = job_state("FAILED", reason="cancelled with ocrbatch cancel", attempts=[NOTICE_STOP])
    assert cancelled.attempt_ends() == ["stopped"]
    assert job_state("FAILED", attempts=[NOTICE_STOP, FAILURE]).attempt_ends() == ["reclaimed", "failed"]
    local_kill = Attempt(1.0, 2.0, -9, "Host terminated: trainer killed by SIGKILL")
    assert job_state("RUNNABLE", attempts=[local_kill]).attempt_ends() == ["reclaimed"]


def test_monitor_says_a_notice_reclaim_is_not_a_failure_and_what_it_cost(tmp_path):
    states = [
        job_state("RUNNING"),
        job_state("RUNNABLE", attempts=[NOTICE_STOP]),
        job_state("RUNNING", attempts=[NOTICE_STOP]),
        job_state("SUCCEEDED", attempts=[NOTICE_STOP, SUCCESS]),
    ]
    progress = {
        0: {"state": "training", "epoch": 1, "step": 5, "attempt": 1},
        2: {"state": "training", "epoch": 1, "step": 6, "attempt": 2, "resumed_from": {"epoch": 1, "step": 5},
            "interruptions": COSTS[:1]},
    }
    _, final, lines = follow(tmp_path, states, progress)
    assert final.status == "SUCCEEDED"
    assert ("attempt 1: Spot reclaim, not a failure: the trainer checkpointed on the Spot notice; "
            "Batch retries it as attempt 2, resuming from the last checkpoint") in lines
    assert "attempt 1 was stopped on SIGTERM and checkpointed: no training lost" in lines
    assert not any("failed" in line for line in lines)


def test_monitor_reports_a_cancel_as_a_stop_not_a_reclaim(tmp_path):
    states = [job_state("RUNNING"),
              job_state("FAILED", reason="cancelled with ocrbatch cancel", attempts=[NOTICE_STOP])]
    _, _, lines = follow(tmp_path, states)
    assert ("attempt 1 stopped on SIGTERM (exit code 143), checkpoint saved: cancelled with ocrbatch cancel"
            in lines)
    assert not any("reclaim" in line.lower() for line in lines)


def test_snapshot_and_its_lines_sum_the_training_lost(tmp_path):
    job = with_store(job_state("SUCCEEDED", attempts=[NOTICE_STOP, SPOT_RECLAIM, SUCCESS]), tmp_path)
    backend = ScriptedBackend(tmp_path, [job], progress={0: {"state": "succeeded", "attempt": 3,
                                                             "interruptions": COSTS}})
    backend.describe("job-1")  # writes the progress
    data = snapshot(backend, job)
    assert data["reclaims"] == 2 and data["lost_training_seconds"] == 60.0
    assert [a["ended"] for a in data["attempts"]] == ["reclaimed", "reclaimed", "succeeded"]
    lines = describe_snapshot(data)
    assert "attempt 1: Spot reclaim (Essential container in task exited); no training lost" in lines
    assert ("attempt 2: Spot reclaim (Host EC2 (instance i-0abc123) terminated.); lost 60s of training "
            "(40 steps)") in lines
    assert "reclaims: 2, training lost: 60s" in lines


def test_reclaim_cost_before_the_retry_has_worked_it_out():
    job = job_state("RUNNABLE", attempts=[SPOT_RECLAIM])
    assert reclaim_cost(job, None) == {"reclaims": 1, "lost_training_seconds": None}
    assert reclaim_cost(job_state("FAILED", attempts=[FAILURE]), None) == {"reclaims": 0,
                                                                          "lost_training_seconds": None}


# --- local mode: interrupted, retried like a reclaim, never called one -----------------------------

def local_reasons() -> dict[str, str]:
    from ocrbatch.jobs.local import LOST_RUNNER
    from ocrbatch.jobs.local_runner import attempt_reason

    return {
        "runner killed": LOST_RUNNER,
        "runner stopped": attempt_reason(143, cancelled=None, host_stopping="SIGTERM"),
        "trainer killed": attempt_reason(-9, cancelled=None, host_stopping=None),
        "trainer sent SIGTERM": attempt_reason(143, cancelled=None, host_stopping=None),
    }


def test_a_local_attempts_reason_says_what_happened_on_this_machine():
    from ocrbatch.jobs.local_runner import attempt_reason

    assert local_reasons() == {
        "runner killed": "Interrupted locally: the job's runner died (killed, or this machine went down)",
        "runner stopped": "Interrupted locally: the job's runner was stopped by SIGTERM, and stopped its trainer",
        "trainer killed": ("Interrupted locally: the trainer was killed by SIGKILL, not by ocrbatch (a kill, "
                           "the out-of-memory killer, or a reclaim drill without notice)"),
        "trainer sent SIGTERM": ("Interrupted locally: the trainer was sent SIGTERM, not by ocrbatch (a simulated "
                                 "Spot notice, as the reclaim drills send, or a kill)"),
    }
    assert attempt_reason(143, cancelled="cancelled by user", host_stopping=None) == "cancelled by user"
    assert attempt_reason(2, cancelled=None, host_stopping=None) == (
        "Essential container in task exited (trainer exit code 2)")
    assert attempt_reason(0, cancelled=None, host_stopping=None) is None


def test_a_local_interruption_is_retried_like_a_reclaim_but_never_called_a_spot_one():
    for code, reason in zip((None, 143, -9, 143), local_reasons().values()):
        job = job_state("RUNNABLE", attempts=[Attempt(1.0, 2.0, code, reason)])
        assert job.attempt_ends() == ["reclaimed"], reason
        assert job.to_json()["attempts"][0]["spot_reclaimed"] is False
    assert job_state("RUNNABLE", attempts=[SPOT_RECLAIM]).to_json()["attempts"][0]["spot_reclaimed"] is True


def test_monitor_says_what_interrupted_a_local_attempt_and_that_it_is_retried(tmp_path):
    for code, reason in zip((None, 143, -9, 143), local_reasons().values()):
        interrupted = Attempt(1.0, 2.0, code, reason)
        states = [job_state("RUNNING"), job_state("RUNNABLE", attempts=[interrupted]),
                  job_state("SUCCEEDED", attempts=[interrupted, SUCCESS])]
        _, final, lines = follow(tmp_path / str(code) / reason[-12:], states)
        assert final.status == "SUCCEEDED"
        what = reason.removeprefix("Interrupted locally: ")
        assert (f"attempt 1 interrupted, not a failure: {what}; retrying as attempt 2, resuming from the last "
                "checkpoint") in lines
        assert not any("Spot reclaim" in line or "Batch" in line or "instance" in line for line in lines)


def test_a_local_jobs_report_counts_interrupted_attempts_not_reclaims():
    from ocrbatch.jobs.local import LOST_RUNNER

    lines = describe_snapshot({
        "job_id": "local-1", "job_name": "n", "status": "SUCCEEDED", "backend": "local",
        "attempts": [{"exit_code": None, "reason": LOST_RUNNER, "ended": "reclaimed"},
                     {"exit_code": 0, "reason": None, "ended": "succeeded"}],
        "progress": {"state": "succeeded", "interruptions": [{**COSTS[1], "attempt": 1}]}, "reclaims": 1,
        "lost_training_seconds": 60.0,
    })
    assert ("attempt 1: interrupted, the job's runner died (killed, or this machine went down); "
            "lost 60s of training (40 steps)") in lines
    assert "interrupted attempts: 1, training lost: 60s" in lines
    assert not any("reclaim" in line.lower() for line in lines)
