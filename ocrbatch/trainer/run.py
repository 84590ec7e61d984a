"""One training run, start to finish: the part of the trainer that is the same for every engine.

fetch + verify the dataset -> restore the newest checkpoint (resume after a Spot reclaim) -> train with
the chosen engine while checkpoints and progress stream to the run's output location -> publish the
exported model with its metrics, manifest last.

SIGTERM (the instance's Spot notice watcher two minutes before a reclaim, or ECS on a cancel) sets the
engine's stop flag; the engine checkpoints and stops, the upload is flushed within the stop budget
(``ocrbatch.stop_window``, counted from the signal), and the process exits 143 so the attempt is
retried. An upload the budget cannot finish leaves the previous checkpoint pointed to (the A/B slots of
``checkpoints``). A retried attempt finds the checkpoint, resumes, and records what the interruption
cost (``interruptions``). A run whose model is already published (the retry of an attempt that died
after publishing) exits 0 without training again.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ocrbatch import artifact, datasets, report
from ocrbatch.errors import NotFound, OcrbatchError
from ocrbatch.host_facts import CONTAINER_DIR, read_host_facts
from ocrbatch.layout import DATASET_RECORD_NAME, HISTORY_NAME, METRICS_NAME, REPORT_NAME, RunLayout
from ocrbatch.stop_window import EXIT_STOPPED, STOP_BUDGET_S
from ocrbatch.storage import ObjectStore, store_at
from ocrbatch.trainer.checkpoints import CheckpointSync
from ocrbatch.trainer.engines import get_engine
from ocrbatch.trainer.engines.base import Preempted, TrainContext
from ocrbatch.trainer.findings import dataset_summary
from ocrbatch.trainer.history import RunHistory, where_it_runs
from ocrbatch.trainer.interruptions import cost_of_previous_attempt
from ocrbatch.trainer.progress import KEYS as PROGRESS_KEYS
from ocrbatch.trainer.spec import TrainingSpec

log = logging.getLogger("ocrbatch.trainer")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PREEMPTED = EXIT_STOPPED  # 143: 128 + SIGTERM, what a killed container would report anyway
PROGRESS_INTERVAL_S = 5.0


class StopRequest(threading.Event):
    """The stop flag an engine polls; remembers when it was first set, so the budget counts from the signal."""

    def __init__(self) -> None:
        super().__init__()
        self.requested_at: float | None = None

    def set(self) -> None:
        if self.requested_at is None:
            self.requested_at = time.monotonic()
        super().set()

    def time_left(self, budget: float) -> float:
        if self.requested_at is None:
            return budget
        return max(0.0, budget - (time.monotonic() - self.requested_at))


class ProgressReporter:
    """Rewrites ``progress.json``; throttled so a per-step call costs nothing most of the time."""

    def __init__(self, store: ObjectStore, key: str, *, engine: str, attempt: int, interval: float):
        self.store = store
        self.key = key
        self.interval = interval
        self.state: dict = {k: None for k in PROGRESS_KEYS}
        self.state.update(engine=engine, attempt=attempt, state="starting")
        self._last_write = 0.0
        self._lock = threading.Lock()

    def __call__(self, **values) -> None:
        unknown = set(values) - set(PROGRESS_KEYS)
        if unknown:
            raise ValueError(f"unknown progress keys: {sorted(unknown)}")
        with self._lock:
            state_changed = "state" in values and values["state"] != self.state["state"]
            self.state.update(values)
            if state_changed or time.monotonic() - self._last_write >= self.interval:
                self._write()

    def _write(self) -> None:
        self.state["updated_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            self.store.put_bytes(self.key, json.dumps(self.state, sort_keys=True).encode())
        except Exception as exc:  # noqa: BLE001 - progress is best effort; training must go on
            log.warning("could not write progress: %s", exc)
        self._last_write = time.monotonic()


def _detect_gpu() -> bool:
    try:
        import paddle

        return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    except Exception:  # noqa: BLE001 - no paddle or no driver means CPU
        return False


def run_training(
    spec: TrainingSpec,
    *,
    workdir: Path | None = None,
    stop_event: StopRequest | threading.Event | None = None,
    attempt: int = 1,
    make_s3_client: Callable[[], object] | None = None,
    transfer_config=None,
    progress_interval: float = PROGRESS_INTERVAL_S,
    stop_budget: float = STOP_BUDGET_S,
    host_facts_dir: Path | str = CONTAINER_DIR,
) -> int:
    """Run attempt number ``attempt`` of ``spec``; returns the process exit code (0, 1 or 143).
    ``make_s3_client`` is called when the run or its dataset is in S3, whose files move as
    ``transfer_config`` says; ``stop_budget`` is the time from SIGTERM (a :class:`StopRequest`'s)
    to a flushed checkpoint."""
    store, run_key = store_at(spec.output, make_s3_client=make_s3_client, transfer_config=transfer_config)
    layout = RunLayout.at(run_key)
    progress = ProgressReporter(
        store,
        layout.progress,
        engine=spec.engine,
        attempt=attempt,
        interval=progress_interval,
    )
    existing = _read_progress(store, layout.progress)
    # An earlier attempt's progress (a restart of this same attempt is not one).
    previous = existing if existing and (existing.get("attempt") or 0) < attempt else None
    history = RunHistory.resume(store, layout.history, attempt=attempt)
    interruptions = list((previous or {}).get("interruptions") or [])
    hosts = dict((existing or {}).get("hosts") or {})
    host = read_host_facts(host_facts_dir)
    if host:  # what this attempt runs on, so its cost can be worked out once it ends
        hosts[str(attempt)] = host
    if hosts:
        progress(hosts=hosts)
    stop_event = stop_event or StopRequest()
    stop_clock = stop_event if isinstance(stop_event, StopRequest) else None

    def time_left() -> float:
        # Any other event (tests, embedders) has no signal time: the budget counts from the engine's stop.
        return stop_clock.time_left(stop_budget) if stop_clock else stop_budget

    own_workdir = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="ocrbatch-run-"))
    sync: CheckpointSync | None = None
    try:
        if store.exists(layout.model_manifest):
            log.info("model already published at %s; nothing to do", store.uri(layout.model))
            progress(state="succeeded", message="model already published")
            return EXIT_OK

        progress(state="fetching")
        dataset_store, dataset_key = store_at(spec.dataset, make_s3_client=make_s3_client, transfer_config=transfer_config)
        dataset = datasets.fetch_dataset(dataset_store, dataset_key.rstrip("/"), workdir / "dataset")
        log.info("dataset %s: %s", dataset.version, dataset.root)

        sync = CheckpointSync(store, layout.checkpoints, workdir / "checkpoints")
        restored = sync.restore()
        info = restored.get("info", {}) if restored else None
        cost = cost_of_previous_attempt(previous, info)
        if cost:
            interruptions.append(cost)
            lost = cost["lost_seconds"]
            log.info("attempt %s was %s; it cost %s of training", cost["attempt"],
                     "stopped on SIGTERM" if cost["notice"] else "killed",
                     "an unknown amount" if lost is None else f"{lost} s")
        if interruptions:
            progress(interruptions=interruptions)
        if restored:
            log.info("resuming from checkpoint %s", info)
            progress(resumed_from=info)
        use_gpu = _detect_gpu()
        history.start(resumed_from=info if restored else None, gpu=use_gpu, **where_it_runs(use_gpu))

        export_dir = workdir / "export"
        if export_dir.exists():
            shutil.rmtree(export_dir)
        export_dir.mkdir(parents=True)
        ctx = TrainContext(
            spec=spec,
            dataset=dataset,
            workdir=workdir,
            checkpoint_dir=sync.local_dir,
            export_dir=export_dir,
            on_checkpoint=lambda info: _checkpointed(info, sync, history),
            report=progress,
            stop_requested=stop_event,
            stop_time_left=time_left,
            use_gpu=use_gpu,
            history=history,
        )
        engine = get_engine(spec.engine)
        progress(state="training")
        started = time.monotonic()
        result = engine.train(ctx)
        # A base's record of how it was trained (init_trained: every run behind it, nested) stays in
        # metrics.json; in the log it would be a screenful.
        logged = {key: value for key, value in result.metrics.items() if key != "init_trained"}
        log.info("training finished in %.1f s: %s", time.monotonic() - started, logged)
        sync.flush()

        progress(state="publishing", accuracy=result.metrics.get("accuracy"))
        history.end("succeeded")
        _complete_export_dir(export_dir, spec, result, dataset, history, title=layout.run_id)
        artifact.publish_artifact(
            store,
            layout.model,
            export_dir,
            model_name=result.model_name,
            metrics=result.metrics,
            dataset=dataset.version,
            engine=spec.engine,
        )
        progress(state="succeeded", accuracy=result.metrics.get("accuracy"))
        log.info("model published at %s", store.uri(layout.model))
        return EXIT_OK
    except Preempted:
        flushed = sync.close(time_left()) if sync else True
        message = "stopped by SIGTERM; checkpoint " + (
            "saved" if flushed else "upload did not finish in time; the previous checkpoint stands"
        )
        if stop_clock and stop_clock.requested_at is not None:
            message += f" ({time.monotonic() - stop_clock.requested_at:.1f} s after the signal, budget {stop_budget:g} s)"
        log.warning(message)
        progress(state="interrupted", message=message)
        history.end("interrupted")
        return EXIT_PREEMPTED
    except OcrbatchError as exc:
        log.error("%s", exc)
        progress(state="failed", message=str(exc))
        history.end("failed")
        return EXIT_FAILED
    except Exception as exc:
        log.exception("training failed")
        progress(state="failed", message=f"{type(exc).__name__}: {exc}")
        history.end("failed")
        return EXIT_FAILED
    finally:
        if sync:
            sync.close(time_left())
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _checkpointed(info: dict, sync: CheckpointSync, history: RunHistory) -> None:
    """The history is written before the checkpoint is uploaded: whatever attempt resumes from this
    checkpoint finds every point up to it, even after a kill without notice."""
    history.flush()
    sync.announce(info)


def _read_progress(store: ObjectStore, key: str) -> dict | None:
    """The progress this run has so far (an earlier attempt's), read before this attempt overwrites it."""
    try:
        previous = json.loads(store.get_bytes(key))
    except NotFound:
        return None
    except Exception as exc:  # noqa: BLE001 - the cost report is best effort; training must go on
        log.warning("could not read the previous attempt's progress: %s", exc)
        return None
    return previous if isinstance(previous, dict) else None


def _complete_export_dir(export_dir: Path, spec: TrainingSpec, result, dataset, history: RunHistory, *,
                         title: str) -> None:
    """Put the metadata that makes the artifact self-describing beside the exported model, and the
    run's page drawn from it."""
    for source, name in ((result.dict_file, "dict.txt"), (result.config_file, "config.yml")):
        if not (export_dir / name).exists():
            shutil.copyfile(source, export_dir / name)
    (export_dir / METRICS_NAME).write_text(json.dumps(result.metrics, indent=2, sort_keys=True))
    (export_dir / DATASET_RECORD_NAME).write_text(json.dumps(
        {"dataset": dataset.version, "spec": spec.to_json(), "summary": dataset_summary(dataset)},
        indent=2, sort_keys=True, ensure_ascii=False,
    ))
    (export_dir / HISTORY_NAME).write_text(json.dumps(history.to_json(), separators=(",", ":")))
    try:
        report.write_report(export_dir, title=title, model_name=result.model_name)
    except Exception as exc:  # noqa: BLE001 - the page is for people; the trained model must still publish
        log.warning("could not build %s: %s", REPORT_NAME, exc)


def install_signal_handlers(stop_event: StopRequest) -> None:
    """SIGTERM/SIGINT ask the engine to checkpoint and stop; a second signal is not needed.

    Paddle installs C-level handlers for SIGTERM when it is imported (they print a stack and abort),
    so it is imported first and ours replace them; otherwise a reclaim would lose the checkpoint.
    """
    try:
        import paddle  # noqa: F401
    except ImportError:
        pass

    def handler(signum, _frame):
        log.warning("received %s: checkpointing and stopping", signal.Signals(signum).name)
        stop_event.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
