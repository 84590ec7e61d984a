"""One line of ``ocrbatch doctor``: what was checked, whether it passed, and what to do if not."""

from __future__ import annotations

from dataclasses import asdict, dataclass

OK, FAIL, WARN, SKIP = "ok", "fail", "warn", "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, fail, warn, skip
    detail: str

    def to_json(self) -> dict:
        return asdict(self)


def failed(checks: list[Check]) -> bool:
    return any(check.status == FAIL for check in checks)


def reason(exc: BaseException) -> str:
    """An AWS error as its code and message (else the exception), for the tail of a check's line."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        return f"{error.get('Code')}: {error.get('Message')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"
