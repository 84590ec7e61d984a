"""JobMonitor over scripted state sequences moto cannot produce, with a fake clock (no real waiting)."""

import threading
import time

import pytest
from botocore.exceptions import ClientError

from ocrbatch.jobs.backend import Attempt
from ocrbatch.jobs.job_report import format_duration
from ocrbatch.jobs.monitor import JobMonitor, PollSettings
from tests.jobs_fakes import SPOT_RECLAIM, FakeClock, ScriptedBackend, job_state

SUCCESS = Attempt(started_at=1_800_000_500.0, stopped_at=1_800_000_900.0, exit_code=0, reason=None)


def follow(backend, clock, **settings):
    lines = []
    monitor = JobMonitor(
        backend, emit=lines.append, clock=clock, sleep=clock.sleep, settings=PollSettings(**settings)
    )
    return monitor.follow("job-1"), lines


def test_long_runnable_gets_one_diagnosis_and_polling_backs_off(tmp_path):
    clock = FakeClock()
    states = [job_state("SUBMITTED", created_at=clock.now)] + [job_state("RUNNABLE", created_at=clock.now)] * 25
    states += [job_state("STARTING"), job_state("RUNNING"), job_state("SUCCEEDED", attempts=[SUCCESS])]
    backend = ScriptedBackend(tmp_path, states)

    final, lines = follow(backend, clock)

    assert final.status == "SUCCEEDED"
    assert lines[0] == "job job-1 (pinball) is SUBMITTED"
    assert "RUNNABLE" in lines
    assert backend.diagnosed == 1
    at = next(i for i, line in enumerate(lines) if line.startswith("still RUNNABLE after"))
    assert lines[at + 1] == "  - compute environment gpu-spot: vCPU quota is 0"
    # Nothing changed while RUNNABLE, so the interval grew to the cap and stayed there.
    assert clock.sleeps[0] == 3.0 and max(clock.sleeps) == 30.0
    assert clock.sleeps == sorted(clock.sleeps[:-3]) + clock.sleeps[-3:]
    assert lines[-1] == "attempt 1 finished (exit code 0)"


def test_attaching_to_a_job_waiting_for_long_diagnoses_at_once(tmp_path):
    clock = FakeClock()
    backend = ScriptedBackend(
        tmp_path, [job_state("RUNNABLE", created_at=clock.now - 3600), job_state("FAILED", reason="cancelled")]
    )
    _, lines = follow(backend, clock)
    assert lines[1].startswith("still RUNNABLE after 60m")
    assert backend.diagnosed == 1


def test_spot_reclaim_is_shown_as_such_then_the_retry_resumes_and_succeeds(tmp_path):
    clock = FakeClock()
    states = [
        job_state("RUNNING", log_stream="gpu/default/attempt-1"),
        job_state("RUNNABLE", attempts=[SPOT_RECLAIM]),
        job_state("STARTING", attempts=[SPOT_RECLAIM]),
        job_state("RUNNING", attempts=[SPOT_RECLAIM], log_stream="gpu/default/attempt-2"),
        job_state("SUCCEEDED", attempts=[SPOT_RECLAIM, SUCCESS], log_stream="gpu/default/attempt-2"),
    ]
    progress = {
        0: {"state": "training", "epoch": 2, "epochs": 10, "step": 80, "loss": 0.5, "attempt": 1},
        3: {"state": "training", "epoch": 3, "epochs": 10, "step": 81, "loss": 0.4, "attempt": 2,
            "resumed_from": {"epoch": 2, "step": 80}},
        4: {"state": "succeeded", "epoch": 10, "epochs": 10, "accuracy": 0.97, "attempt": 2},
    }
    backend = ScriptedBackend(tmp_path, [_with_store(s, tmp_path) for s in states], progress=progress)

    final, lines = follow(backend, clock)

    assert final.status == "SUCCEEDED"
    reclaim = [line for line in lines if line.startswith("attempt 1:")]
    assert reclaim == [
        "attempt 1: Spot reclaim, not a failure: the instance went away (Host EC2 (instance i-0abc123) "
        "terminated.); Batch retries it as attempt 2, resuming from the last checkpoint"
    ]
    assert "progress: training, epoch 2/10, step 80, loss 0.5000" in lines
    assert "resumed from checkpoint: 2 epochs done, step 80" in lines
    assert "progress: training, epoch 3/10, step 81, loss 0.4000, attempt 2" in lines
    assert "progress: succeeded, epoch 10/10, accuracy 97.0%, attempt 2" in lines
    assert lines.index("RUNNABLE") > lines.index("progress: training, epoch 2/10, step 80, loss 0.5000")


def test_failed_job_reports_its_reason_and_the_failed_attempt(tmp_path):
    clock = FakeClock()
    failure = Attempt(started_at=1.0, stopped_at=2.0, exit_code=1, reason="Essential container in task exited")
    states = [
        job_state("RUNNING"),
        job_state("FAILED", reason="Essential container in task exited", attempts=[failure]),
    ]
    final, lines = follow(ScriptedBackend(tmp_path, states), clock)
    assert final.status == "FAILED"
    assert "FAILED: Essential container in task exited" in lines
    assert "attempt 1 failed: exit code 1, Essential container in task exited" in lines
    assert not any("retrying" in line for line in lines)


def test_log_stream_appearing_late_is_tailed_from_its_start(tmp_path):
    clock = FakeClock()
    states = [
        job_state("RUNNABLE"),
        job_state("STARTING"),
        job_state("RUNNING", log_stream="gpu/default/abc"),
        job_state("RUNNING", log_stream="gpu/default/abc"),
        job_state("RUNNING", log_stream="gpu/default/abc"),
        job_state("SUCCEEDED", log_stream="gpu/default/abc"),
    ]
    logs = {3: ["fetching dataset", "epoch 1 loss 2.1"], 5: ["published model"]}
    final, lines = follow(ScriptedBackend(tmp_path, states, logs=logs), clock)
    assert final.status == "SUCCEEDED"
    tail = [line for line in lines if line.startswith("  | ")]
    assert tail == ["  | fetching dataset", "  | epoch 1 loss 2.1", "  | published model"]
    assert lines.count("log stream gpu/default/abc:") == 1
    assert lines.index("log stream gpu/default/abc:") < lines.index("  | fetching dataset")


def test_throttling_is_waited_out_but_other_errors_are_not(tmp_path):
    clock = FakeClock()
    throttled = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "DescribeJobs")
    backend = ScriptedBackend(tmp_path, [job_state("RUNNING"), job_state("SUCCEEDED")], errors={1: throttled})
    final, lines = follow(backend, clock)
    assert final.status == "SUCCEEDED"
    assert "the service is busy (TooManyRequestsException); retrying" in lines

    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeJobs")
    backend = ScriptedBackend(tmp_path, [job_state("RUNNING")], errors={1: denied})
    with pytest.raises(ClientError):
        follow(backend, FakeClock())


def test_durations_read_well():
    assert [format_duration(s) for s in (5, 89, 600, 3 * 3600 + 120, 3 * 86400)] == ["5s", "89s", "10m", "3h02m", "3d"]


def _with_store(state, root):
    from dataclasses import replace

    from ocrbatch.storage import LocalStore
    from tests.jobs_fakes import RUN_ID

    return replace(state, output=LocalStore(root).uri(f"runs/{RUN_ID}/"))


def test_last_log_lines_arriving_after_the_job_stopped_are_still_shown(tmp_path):
    class LateLogs(ScriptedBackend):
        def log_events(self, job_id, *, start_from=None):
            if self.polls >= len(self.states) and "published model" not in self._log_lines:
                self._log_lines.append("published model")  # delivered after the final describe
                return [], start_from
            return super().log_events(job_id, start_from=start_from)

    backend = LateLogs(tmp_path, [job_state("RUNNING", log_stream="s"), job_state("SUCCEEDED", log_stream="s")],
                       logs={0: ["training"]})
    _, lines = follow(backend, FakeClock())
    assert [line for line in lines if line.startswith("  | ")] == ["  | training", "  | published model"]


def test_timeout_stops_waiting_at_the_deadline_with_a_last_poll_there(tmp_path):
    from ocrbatch.errors import WaitTimedOut

    clock = FakeClock()
    start = clock.now
    backend = ScriptedBackend(tmp_path, [job_state("RUNNABLE", created_at=start), job_state("RUNNING")])
    monitor = JobMonitor(backend, emit=lambda line: None, clock=clock, sleep=clock.sleep, settings=PollSettings())

    with pytest.raises(WaitTimedOut) as stopped:
        monitor.follow("job-1", timeout=100)

    assert clock.now - start == 100  # the sleeps were cut to land on the deadline, not past it
    assert stopped.value.exit_code == 124 and stopped.value.status == "RUNNING"
    assert "job-1 is RUNNING" in str(stopped.value)
    polls = backend.polls
    assert polls >= 2 and sum(clock.sleeps) == 100


def test_a_job_ending_before_the_timeout_is_returned(tmp_path):
    clock = FakeClock()
    backend = ScriptedBackend(tmp_path, [job_state("RUNNING"), job_state("SUCCEEDED", attempts=[SUCCESS])])
    monitor = JobMonitor(
        backend, emit=lambda line: None, clock=clock, sleep=clock.sleep, settings=PollSettings(), show_logs=False
    )
    assert monitor.follow("job-1", timeout=3600).status == "SUCCEEDED"


def test_following_a_log_rides_out_throttling_and_reads_to_the_end(tmp_path):
    clock = FakeClock()
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "DescribeJobs")
    states = [job_state("RUNNING", log_stream="s")] * 3 + [job_state("SUCCEEDED", log_stream="s")]
    backend = ScriptedBackend(tmp_path, states, logs={0: ["one"], 3: ["two"]}, errors={2: throttled})
    read, notes = [], []
    monitor = JobMonitor(backend, emit=notes.append, clock=clock, sleep=clock.sleep)
    final, token = monitor.tail_logs("job-1", read.extend, follow=True)
    assert final.status == "SUCCEEDED" and read == ["one", "two"] and token is not None
    assert "the service is busy (ThrottlingException); retrying" in notes


def test_reading_a_log_once_stops_when_caught_up(tmp_path):
    backend = ScriptedBackend(tmp_path, [job_state("RUNNING", log_stream="s")], logs={0: ["one"]})
    read = []
    final, _token = JobMonitor(backend, emit=print).tail_logs("job-1", read.extend)
    assert final.status == "RUNNING" and read == ["one"] and backend.polls == 1


PADDLE_STARTUP = [
    "/venv/lib/python3.11/site-packages/paddle/utils/cpp_extension/extension_utils.py:712: UserWarning: "
    "No ccache found. Please be aware that recompiling all source files may be required.",
    "  warnings.warn(warning_message)",
    "W1130 03:30:36.574582 21690 eager_utils.cc:3584] Paddle static graph(PIR) not support input out tensor for now!!!!!",
    "2026-11-30 03:31:59,908 INFO ocrbatch.trainer: dataset fetched",
    "  warnings.warn(something_of_ours)",
]


def test_the_monitor_leaves_paddles_startup_notices_in_the_raw_log(tmp_path):
    states = [job_state("RUNNING", log_stream="s"), job_state("SUCCEEDED", log_stream="s")]
    backend = ScriptedBackend(tmp_path, states, logs={0: PADDLE_STARTUP})
    _final, lines = follow(backend, FakeClock())
    shown = [line for line in lines if line.startswith("  | ")]
    assert shown == ["  | 2026-11-30 03:31:59,908 INFO ocrbatch.trainer: dataset fetched",
                     "  |   warnings.warn(something_of_ours)"]

    raw = []
    JobMonitor(ScriptedBackend(tmp_path / "raw", states[1:], logs={0: PADDLE_STARTUP}), emit=print).tail_logs(
        "job-1", raw.extend
    )
    assert raw == PADDLE_STARTUP


class HangingBackend(ScriptedBackend):
    """A network that neither answers nor fails: every describe after the first blocks."""

    def __init__(self, tmp_path, states):
        super().__init__(tmp_path, states)
        self.release = threading.Event()

    def describe(self, job_id):
        if self.polls >= 1:
            self.release.wait(60)
        return super().describe(job_id)


def test_timeout_holds_when_a_poll_never_returns(tmp_path):
    from ocrbatch.errors import WaitTimedOut

    backend = HangingBackend(tmp_path, [job_state("RUNNING")] * 3)
    settings = PollSettings(min_interval=0.2, deadline_grace=0.5)
    monitor = JobMonitor(backend, emit=lambda line: None, settings=settings, show_logs=False)
    started = time.monotonic()
    try:
        with pytest.raises(WaitTimedOut) as stopped:
            monitor.follow("job-1", timeout=1.0)
    finally:
        backend.release.set()
    assert time.monotonic() - started < 3.0  # the deadline plus the grace, not the hanging call's 60 s
    assert stopped.value.status == "RUNNING"


def test_an_unreachable_endpoint_is_named_with_how_long_and_what_to_check(tmp_path):
    from botocore.exceptions import EndpointConnectionError

    clock = FakeClock()
    down = EndpointConnectionError(endpoint_url="https://batch.us-west-2.amazonaws.com/v1/describejobs")
    backend = ScriptedBackend(tmp_path, [job_state("RUNNING")] * 4 + [job_state("SUCCEEDED")],
                              errors={1: down, 2: down, 3: down})
    final, lines = follow(backend, clock)
    assert final.status == "SUCCEEDED"
    failures = [line for line in lines if line.startswith("cannot reach")]
    assert len(failures) == 3
    assert failures[0].startswith("cannot reach https://batch.us-west-2.amazonaws.com (EndpointConnectionError) for 0s")
    assert "for 6s" in failures[1] and "for 18s" in failures[2]  # the retries back off: 6 s, then 12 s more
    assert failures[0].endswith("check the network or proxy, the region (--region) and AWS_ENDPOINT_URL")


def test_a_new_step_alone_is_shown_at_most_every_progress_every_seconds_but_milestones_at_once(tmp_path):
    clock = FakeClock()
    polls = 40
    states = [_with_store(job_state("RUNNING"), tmp_path) for _ in range(polls)]
    states.append(_with_store(job_state("SUCCEEDED", attempts=[SUCCESS]), tmp_path))
    # A fast run: a new step on every poll; epoch 2 starts at poll 25 (with its evaluation).
    progress = {poll: {"state": "training", "epoch": 1 if poll < 25 else 2, "epochs": 2, "step": 10 * poll}
                for poll in range(polls)}
    progress[25]["accuracy"] = 0.5
    progress[polls] = {"state": "succeeded", "epoch": 2, "epochs": 2, "step": 10 * polls, "accuracy": 0.6}
    backend = ScriptedBackend(tmp_path, states, progress=progress)

    final, lines = follow(backend, clock, min_interval=3.0, growth=1.0, progress_every=30.0)

    shown = [line for line in lines if line.startswith("progress: ")]
    assert final.status == "SUCCEEDED"
    assert shown[0] == "progress: training, epoch 1/2, step 0"
    assert "progress: training, epoch 2/2, step 250, accuracy 50.0%" in shown  # a new epoch is not held back
    assert shown[-1] == "progress: succeeded, epoch 2/2, step 400, accuracy 60.0%"
    # 40 polls 3 s apart: a line per poll before; now one per 30 s plus the two milestones.
    assert 4 <= len(shown) <= 8, shown
