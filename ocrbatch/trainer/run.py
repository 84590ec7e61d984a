"""One training run, start to finish: the part of the trainer that is the same for every engine.

fetch + verify the dataset -> restore the newest checkpoint (resume after a Spot reclaim) -> train with
the chosen engine while checkpoints and progress stream to the run's output location -> publish the
exported model with its metrics, manifest last.

SIGTERM (what Batch/ECS send before a Spot reclaim or a cancel) sets the engine's stop flag; the engine
checkpoints and stops, the upload is flushed, and the process exits 143 so the attempt counts as
interrupted. A retried attempt finds the checkpoint and resumes. A run whose model is already published
(the retry of an attempt that died after publishing) exits 0 without training again.
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

from ocrbatch import artifact, datasets
from ocrbatch.errors import OcrbatchError
from ocrbatch.layout import CHECKPOINTS_DIR, MODEL_DIR, PROGRESS_NAME
from ocrbatch.storage import ObjectStore, store_at
from ocrbatch.trainer.checkpoints import CheckpointSync
from ocrbatch.trainer.engines import get_engine
from ocrbatch.trainer.engines.base import Preempted, TrainContext
from ocrbatch.trainer.progress import KEYS as PROGRESS_KEYS
from ocrbatch.trainer.spec import TrainingSpec

log = logging.getLogger("ocrbatch.trainer")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PREEMPTED = 143  # 128 + SIGTERM, what a killed container would report anyway
# ECS gives a container stopTimeout (30 s default, 120 s max) between SIGTERM and SIGKILL.
FLUSH_TIMEOUT_S = 25.0
PROGRESS_INTERVAL_S = 5.0


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


def _prefix(key: str) -> str:
    return key.rstrip("/") + "/" if key else ""


def run_training(
    spec: TrainingSpec,
    *,
    workdir: Path | None = None,
    stop_event: threading.Event | None = None,
    attempt: int = 1,
    make_s3_client: Callable[[], object] | None = None,
    progress_interval: float = PROGRESS_INTERVAL_S,
    flush_timeout: float = FLUSH_TIMEOUT_S,
) -> int:
    """Run attempt number ``attempt`` of ``spec``; returns the process exit code (0, 1 or 143).
    ``make_s3_client`` is called when the run or its dataset is in S3; ``flush_timeout`` bounds the
    checkpoint upload after SIGTERM."""
    store, run_key = store_at(spec.output, make_s3_client=make_s3_client)
    run_prefix = _prefix(run_key)
    progress = ProgressReporter(
        store,
        run_prefix + PROGRESS_NAME,
        engine=spec.engine,
        attempt=attempt,
        interval=progress_interval,
    )
    stop_event = stop_event or threading.Event()
    own_workdir = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="ocrbatch-run-"))
    sync: CheckpointSync | None = None
    try:
        if store.exists(run_prefix + MODEL_DIR + artifact.MANIFEST_NAME):
            log.info("model already published at %s; nothing to do", store.uri(run_prefix + MODEL_DIR))
            progress(state="succeeded", message="model already published")
            return EXIT_OK

        progress(state="fetching")
        dataset_store, dataset_key = store_at(spec.dataset, make_s3_client=make_s3_client)
        dataset = datasets.fetch_dataset(dataset_store, dataset_key.rstrip("/"), workdir / "dataset")
        log.info("dataset %s: %s", dataset.version, dataset.root)

        sync = CheckpointSync(store, run_prefix + CHECKPOINTS_DIR, workdir / "checkpoints")
        restored = sync.restore()
        if restored:
            info = restored.get("info", {})
            log.info("resuming from checkpoint %s", info)
            progress(resumed_from=info)

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
            on_checkpoint=sync.announce,
            report=progress,
            stop_requested=stop_event,
            use_gpu=_detect_gpu(),
        )
        engine = get_engine(spec.engine)
        progress(state="training")
        started = time.monotonic()
        result = engine.train(ctx)
        log.info("training finished in %.1f s: %s", time.monotonic() - started, result.metrics)
        sync.flush()

        progress(state="publishing", accuracy=result.metrics.get("accuracy"))
        _complete_export_dir(export_dir, spec, result, dataset.version)
        artifact.publish_artifact(
            store,
            run_prefix + MODEL_DIR,
            export_dir,
            model_name=result.model_name,
            metrics=result.metrics,
            dataset=dataset.version,
            engine=spec.engine,
        )
        progress(state="succeeded", accuracy=result.metrics.get("accuracy"))
        log.info("model published at %s", store.uri(run_prefix + MODEL_DIR))
        return EXIT_OK
    except Preempted:
        flushed = sync.close(flush_timeout) if sync else True
        message = "stopped by SIGTERM; checkpoint " + ("saved" if flushed else "upload did not finish in time")
        log.warning(message)
        progress(state="interrupted", message=message)
        return EXIT_PREEMPTED
    except OcrbatchError as exc:
        log.error("%s", exc)
        progress(state="failed", message=str(exc))
        return EXIT_FAILED
    except Exception as exc:
        log.exception("training failed")
        progress(state="failed", message=f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED
    finally:
        if sync:
            sync.close(flush_timeout)
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _complete_export_dir(export_dir: Path, spec: TrainingSpec, result, dataset_version: str) -> None:
    """Put the metadata that makes the artifact self-describing beside the exported model."""
    for source, name in ((result.dict_file, "dict.txt"), (result.config_file, "config.yml")):
        if not (export_dir / name).exists():
            shutil.copyfile(source, export_dir / name)
    (export_dir / "metrics.json").write_text(json.dumps(result.metrics, indent=2, sort_keys=True))
    (export_dir / "dataset.json").write_text(
        json.dumps({"dataset": dataset_version, "spec": spec.to_json()}, indent=2, sort_keys=True)
    )


def install_signal_handlers(stop_event: threading.Event) -> None:
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
