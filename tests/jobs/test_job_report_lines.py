"""A job's report never prints "exit code None": an attempt with no exit code is told by its reason."""

from ocrbatch.jobs.job_report import describe_snapshot


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
