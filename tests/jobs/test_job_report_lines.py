"""A job's report lines: an attempt with no exit code is told by its reason (never "exit code None");
epochs and checkpoint positions read the same on every engine."""

from ocrbatch.jobs.job_report import describe_snapshot, format_position, format_progress
from ocrbatch.trainer.progress import epoch_under_way


def report(*attempts: dict) -> list[str]:
    return describe_snapshot({"job_id": "j", "job_name": "n", "status": "FAILED", "attempts": list(attempts)})


def test_an_attempt_without_an_exit_code_reads_as_its_reason():
    lines = report({"exit_code": None, "reason": "CannotStartContainerError: no space", "ended": "failed"},
                   {"exit_code": None, "reason": None, "ended": "failed"},
                   {"exit_code": 2, "reason": "Essential container in task exited", "ended": "failed"})
    assert lines[1:] == [
        "attempt 1: CannotStartContainerError: no space",
        "attempt 2: no exit code recorded",
        "attempt 3: exit code 2 (Essential container in task exited)",
    ]
    assert not any("None" in line for line in lines)


def test_progress_epochs_count_from_one_and_a_checkpoint_says_epochs_done():
    # The builtin engine's positions (epochs finished, steps into the next) as progress shows them.
    assert [epoch_under_way(done, step) for done, step in ((0, 0), (0, 1), (0, 40), (1, 0), (1, 1))] == [1, 1, 1, 1, 2]
    finished = {"state": "succeeded", "epoch": epoch_under_way(1, 40), "epochs": 2, "step": 40, "steps_per_epoch": 40}
    assert format_progress(finished) == "succeeded, epoch 2/2, step 40/40"
    paddleocr = {"state": "training", "epoch": 2, "epochs": 2, "step": 47, "global_step": 47}
    assert format_progress(paddleocr) == "training, epoch 2/2, step 47"
    assert format_position({"engine": "builtin", "epoch": 1, "step": 3, "global_step": 43}) == "1 epoch done, global step 43"
    assert format_position({"engine": "paddleocr", "epoch": 0, "step": 7, "global_step": 7}) == "0 epochs done, global step 7"
