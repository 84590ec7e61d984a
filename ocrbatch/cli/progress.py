"""The one progress renderer of the CLI: rich bars on stderr, for every command that moves or makes data.

Called as ``bar(stage, done, total)``, the progress protocol of ``ocrbatch.datasets``, the job
services and ``ocrbatch.synth`` (``validating``/``generating`` count items, every other stage bytes).
On a terminal a bar appears once the work has lasted ``SHOW_AFTER_S``: rich's import and its refresh
thread (which competes for the GIL) would otherwise cost a quick command such as an unchanged
re-upload a third of its time, to draw a bar nobody gets to see. Off a terminal nothing is drawn;
``log_every=0.25`` instead writes a plain line as each quarter of a stage is reached (for long runs
whose log is read later).
"""

import time
from typing import Callable

from ocrbatch.cli import common

COUNTED_STAGES = ("validating", "generating")  # stages that count items; the others count bytes


def amount(stage: str, done: int, total: int) -> str:
    if stage in COUNTED_STAGES:
        return f"{done}/{total}"
    return f"{common.human_bytes(done)} of {common.human_bytes(total)}"


class ProgressBar:
    SHOW_AFTER_S = 0.5

    def __init__(self, *, log_every: float | None = None) -> None:
        self._progress = None
        self._tasks: dict[str, int] = {}
        self._finished: dict[str, bool] = {}
        self._opened = time.monotonic()
        self._wanted = common.stderr_is_tty()
        self._log_every = None if self._wanted else log_every
        self._next_logged: dict[str, float] = {}

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._log_every is not None:
            self._log(stage, done, total)
        if self._progress is None:
            if not self._wanted or time.monotonic() - self._opened < self.SHOW_AFTER_S:
                return
            self._progress = self._start()
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(stage, total=total, completed=done)
        self._progress.update(self._tasks[stage], completed=done, total=total)
        self._finished[stage] = bool(total) and done >= total
        if all(self._finished.values()):
            # Nothing left to draw: clear the bars, so the lines a long command prints next (the
            # pipeline's monitor) are not stuck under a full bar; a later stage starts afresh.
            self._progress.stop()
            self._progress, self._tasks, self._finished = None, {}, {}
            self._opened = time.monotonic()

    def stage(self, stage: str) -> Callable[[int, int], None]:
        """This bar as a ``progress(done, total)`` callback for one stage."""
        return lambda done, total: self(stage, done, total)

    def _log(self, stage: str, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        if fraction >= self._next_logged.get(stage, 0.0) or done >= total:
            if self._next_logged.get(stage) == float("inf"):
                return  # this stage's end was written already
            common.info(f"{stage} {amount(stage, done, total)}")
            self._next_logged[stage] = float("inf") if done >= total else fraction + self._log_every

    @staticmethod
    def _start():
        from rich.console import Console
        from rich.progress import BarColumn, Progress, ProgressColumn, TaskProgressColumn, TextColumn
        from rich.progress import TimeRemainingColumn
        from rich.text import Text

        class Amount(ProgressColumn):
            def render(self, task) -> Text:
                return Text(amount(task.description, int(task.completed), int(task.total or 0)))

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            Amount(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        progress.start()
        return progress
