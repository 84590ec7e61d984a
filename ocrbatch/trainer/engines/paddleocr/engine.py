"""The ``paddleocr`` engine: fine-tunes a PP-OCR model with the PaddleOCR checkout the image carries.

It generates the training config, runs ``tools/train.py`` through our launcher (``launcher.py``) in
its own process group (under ``paddle.distributed.launch`` when several GPUs are visible), turns its
log lines into progress, mirrors every complete ``latest.*`` checkpoint into the run's checkpoint
folder and announces it, then exports the best checkpoint with ``tools/export_model.py`` and evaluates
the exported model.

A stop request sends SIGTERM to the launcher, which saves ``latest`` at the next step boundary and
exits; whatever is still running after ``stop_grace`` seconds is killed with its process group.
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import yaml

from ocrbatch.errors import BadInput, RunFailed
from ocrbatch.layout import EVALUATION_NAME
from ocrbatch.trainer.engines.base import Preempted, TrainContext, TrainResult
from ocrbatch.trainer.engines.paddleocr import contract, log_lines
from ocrbatch.trainer.engines.paddleocr.checkpoint_mirror import CheckpointMirror, copy_checkpoint, read_states

log = logging.getLogger("ocrbatch.trainer")

GRAPH_FILES = ("inference.json", "inference.pdmodel")


class PaddleOCREngine:
    name = "paddleocr"

    def __init__(
        self,
        *,
        paddleocr_home: Path | None = None,
        weights_dir: Path | None = None,
        gpu_ids: Callable[[], list[str]] = contract.visible_gpus,
        evaluate: Callable[..., dict] | None = None,
        python: str | None = None,
        poll_interval: float = 1.0,
        # Most a stop may wait for one training step plus a save of latest; at most half of what is left
        # of the stop budget, since the upload after it needs the rest.
        stop_grace: float = 60.0,
        weights_reachable: Callable[[str], bool] | None = None,
    ):
        self.home = Path(paddleocr_home or os.environ.get("PADDLEOCR_HOME", "/opt/PaddleOCR"))
        self.weights_dir = Path(weights_dir or os.environ.get("PADDLEOCR_WEIGHTS", "/opt/weights"))
        self.gpu_ids = gpu_ids
        self.evaluate = evaluate  # replaces the built-in evaluation (tests); same keyword arguments
        self.python = python or sys.executable
        self.poll_interval = poll_interval
        self.stop_grace = stop_grace
        self.weights_reachable = weights_reachable or _url_reachable

    # --- the run ----------------------------------------------------------------------------------

    def train(self, ctx: TrainContext) -> TrainResult:
        if not (self.home / "tools" / "train.py").is_file():
            raise BadInput(
                f"no PaddleOCR checkout at {self.home}: the paddleocr engine runs in the training image "
                "(or set PADDLEOCR_HOME to a PaddleOCR clone)"
            )
        task = ctx.spec.task
        model = ctx.spec.model or contract.DEFAULT_MODELS[task]
        if contract.model_task(model) != task:
            raise BadInput(f"model {model} does not fit task {task!r}")
        base = contract.TrainingConfig.load(contract.base_config_path(self.home, model))

        work = Path(ctx.workdir) / "paddleocr"
        output = work / "output"  # PaddleOCR's save_model_dir; complete checkpoints are mirrored out
        output.mkdir(parents=True, exist_ok=True)
        dict_file = contract.write_dict(ctx.dataset.characters, work / "dict.txt")
        resume = contract.resume_settings(ctx.checkpoint_dir, self._pretrained(model, ctx))
        if resume["checkpoints"]:
            log.info("resuming PaddleOCR training from %s", resume["checkpoints"])
            # The export after a resume needs a best model even if no evaluation runs again.
            copy_checkpoint(ctx.checkpoint_dir, output, contract.BEST)
        gpus = list(self.gpu_ids()) if ctx.use_gpu else []
        config = contract.generate_config(
            base,
            contract.ConfigInputs(
                model=model,
                data_dir=ctx.dataset.root,
                train_labels=ctx.dataset.train_labels,
                val_labels=ctx.dataset.val_labels,
                dict_file=dict_file,
                save_model_dir=output,
                pretrained_model=resume["pretrained_model"],
                checkpoints=resume["checkpoints"],
                use_gpu=ctx.use_gpu,
                epochs=ctx.spec.epochs,
                learning_rate=ctx.spec.learning_rate,
                batch_size=ctx.spec.batch_size,
                max_text_length=_longest_label(ctx) if task == "rec" else None,
                num_workers=os.cpu_count() or 1,
                overrides=tuple(ctx.spec.overrides.items()),
            ),
        )
        config_file = config.write(work / "config.yml")
        log.info("PaddleOCR config written to %s (%d GPU(s))", config_file, len(gpus))

        mirror = CheckpointMirror(output, Path(ctx.checkpoint_dir), ctx.on_checkpoint)
        started = time.monotonic()
        self._run(
            contract.tool_command(self.home, "train", config_file, gpu_ids=gpus, python=self.python),
            cwd=work,
            ctx=ctx,
            what="tools/train.py",
            on_line=lambda line: _report_line(ctx, line, task),
            on_poll=mirror.poll,
        )
        mirror.poll(settled=True)
        train_seconds = time.monotonic() - started

        # Best, else newest; a resumed run that had no epochs left wrote nothing new.
        checkpoint = (
            contract.checkpoint_prefix(output, contract.BEST)
            or contract.checkpoint_prefix(output, contract.LATEST)
            or contract.checkpoint_prefix(ctx.checkpoint_dir, contract.LATEST)
        )
        if checkpoint is None:
            raise RunFailed(
                "tools/train.py finished without writing a checkpoint (an empty train set? see its log above)"
            )
        ctx.report(state="exporting")
        export_file = contract.export_config(config, checkpoint, ctx.export_dir).write(work / "export.yml")
        self._run(
            contract.tool_command(self.home, "export_model", export_file, python=self.python),
            cwd=work,
            ctx=ctx,
            what="tools/export_model.py",
        )
        check_export(ctx.export_dir, model)

        ctx.report(state="evaluating")
        evaluate = self.evaluate or (self._evaluate_rec if task == "rec" else self._evaluate_det)
        metrics = dict(
            evaluate(
                ctx=ctx,
                model_name=model,
                export_dir=ctx.export_dir,
                checkpoint=checkpoint,
                config=config,
                work=work,
            )
        )
        states = read_states(Path(ctx.checkpoint_dir) / (contract.LATEST + ".states"))
        metrics.setdefault("epochs", states.get("epoch"))
        metrics["train_seconds"] = round(train_seconds, 1)
        metrics["checkpoint"] = checkpoint.name
        return TrainResult(model_name=model, metrics=metrics, dict_file=dict_file, config_file=config_file)

    def _pretrained(self, model: str, ctx: TrainContext) -> str | None:
        """The weights to fine-tune from: the local copy, else the official URL if it answers. A run
        that resumes, trains from scratch or names its own ``Global.pretrained_model`` needs neither."""
        if ctx.spec.from_scratch:
            log.info("training %s from scratch (random initial weights)", model)
            return None
        weights = contract.pretrained_weights(self.weights_dir, model)
        resuming = (Path(ctx.checkpoint_dir) / (contract.LATEST + ".pdparams")).is_file()
        if resuming or "Global.pretrained_model" in ctx.spec.overrides or Path(weights).is_file():
            return weights
        if not self.weights_reachable(weights):
            raise BadInput(
                f"pretrained weights for {model} are neither in {self.weights_dir} nor reachable at {weights}: "
                f"put {contract.pretrained_file_name(model)} in that folder (PADDLEOCR_WEIGHTS), "
                "or train from scratch with --from-scratch"
            )
        return weights

    # --- processes --------------------------------------------------------------------------------

    def _run(self, command, *, cwd: Path, ctx: TrainContext, what: str, on_line=None, on_poll=None) -> None:
        """Run a PaddleOCR tool in its own process group, echoing its output to our stderr.

        Stopping kills the whole group (DataLoader workers, launcher ranks) and raises Preempted.
        """
        log.info("running %s", " ".join(command))
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own process group, so one signal reaches every worker
        )
        tail: collections.deque[str] = collections.deque(maxlen=20)

        def pump():
            for line in process.stdout:
                sys.stderr.write(line)
                tail.append(line.rstrip())
                if on_line:
                    try:
                        on_line(line)
                    except Exception as exc:  # noqa: BLE001 - a bad log line must not stop training
                        log.debug("could not use log line %r: %s", line, exc)

        reader = threading.Thread(target=pump, name=f"{what} output", daemon=True)
        reader.start()
        stopped = False
        try:
            while process.poll() is None:
                if ctx.stop_requested.is_set():
                    stopped = True
                    _end_group(process, min(self.stop_grace, ctx.stop_time_left() / 2))
                    break
                if on_poll:
                    on_poll()
                ctx.stop_requested.wait(self.poll_interval)
        except BaseException:
            _end_group(process, self.stop_grace)
            raise
        finally:
            reader.join(timeout=5)
        if stopped:
            if on_poll:
                on_poll(settled=True)  # a checkpoint finished just before the stop still counts
            raise Preempted(f"{what} stopped on request")
        if process.returncode != 0:
            last = next((line for line in reversed(tail) if line.strip()), "no output")
            raise RunFailed(f"{what} exited with {process.returncode}: {last}")

    # --- evaluation -------------------------------------------------------------------------------

    def _evaluate_rec(self, *, ctx: TrainContext, model_name: str, export_dir: Path, **_) -> dict:
        from ocrbatch.trainer.evaluation import stock_paddleocr_metrics

        return stock_paddleocr_metrics(
            export_dir, model_name, ctx.dataset.val_labels, ctx.dataset.root,
            device="gpu:0" if ctx.use_gpu else "cpu", findings=export_dir / EVALUATION_NAME,
        )

    def _evaluate_det(self, *, ctx: TrainContext, model_name: str, checkpoint: Path, config, work: Path,
                      **_) -> dict:
        from ocrbatch.trainer.evaluation import stock_detection_frames

        eval_file = contract.eval_config(config, checkpoint).write(work / "eval.yml")
        lines: list[str] = []
        self._run(
            contract.tool_command(self.home, "eval", eval_file, python=self.python),
            cwd=work,
            ctx=ctx,
            what="tools/eval.py",
            on_line=lines.append,
        )
        metrics = log_lines.parse_eval_output("".join(lines))
        if "hmean" not in metrics:
            raise RunFailed("tools/eval.py printed no hmean")
        try:  # a few frames with their boxes for the run's page; the metrics above are what counts
            stock_detection_frames(ctx.export_dir, model_name, ctx.dataset.val_labels, ctx.dataset.root, ctx.export_dir / EVALUATION_NAME,
                                   device="gpu:0" if ctx.use_gpu else "cpu")
        except RunFailed as exc:
            log.warning("no detection frames for the report: %s", exc)
        return {
            "accuracy": metrics["hmean"],
            "hmean": metrics["hmean"],
            "precision": metrics.get("precision"),
            "recall": metrics.get("recall"),
            "norm_edit_distance": None,
        }


def _url_reachable(url: str, timeout: float = 15.0) -> bool:
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status < 400
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _end_group(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM the group's leader (our launcher saves, then exits; its DataLoader workers must live
    until then), then SIGKILL the whole group, at once if the leader left in time."""
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        pass


def _report_line(ctx: TrainContext, line: str, task: str) -> None:
    event = log_lines.parse_log_line(line)
    if event:
        values = log_lines.progress_values(event, task)
        if values:
            ctx.report(**values)
        if event.kind == "step":
            ctx.history.step(event.values["global_step"], values.get("loss"))
        elif event.kind == "cur_metric" and "accuracy" in values:
            found = event.values
            metrics = {**found, "accuracy": values["accuracy"]}
            if isinstance(found.get("norm_edit_dis"), (int, float)):  # PaddleOCR's is one minus ours
                metrics["norm_edit_distance"] = 1 - found["norm_edit_dis"]
            # Its evaluation lines carry no step: the evaluation ran after the last step line seen.
            ctx.history.evaluation(ctx.history.last_step, metrics)


def _longest_label(ctx: TrainContext) -> int:
    longest = 0
    for labels in (ctx.dataset.train_labels, ctx.dataset.val_labels):
        with open(labels, encoding="utf-8") as handle:
            for line in handle:
                _, sep, text = line.rstrip("\r\n").partition("\t")
                if sep:
                    longest = max(longest, len(text))
    return longest


# --- export ---------------------------------------------------------------------------------------


def check_export(export_dir: Path, model_name: str) -> None:
    """The export must hold a graph, the weights and an inference.yml naming the stock model (which
    is how paddleocr's TextRecognition/TextDetection pick their pre- and post-processing)."""
    export_dir = Path(export_dir)
    missing = [name for name in ("inference.pdiparams", "inference.yml") if not (export_dir / name).is_file()]
    if not any((export_dir / name).is_file() for name in GRAPH_FILES):
        missing.append(" or ".join(GRAPH_FILES))
    if missing:
        raise RunFailed(f"tools/export_model.py did not write {', '.join(missing)} in {export_dir}")
    yml = export_dir / "inference.yml"
    data = yaml.safe_load(yml.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise RunFailed(f"{yml} is not a mapping")
    section = data.setdefault("Global", {})
    if section.get("model_name") != model_name:
        section["model_name"] = model_name
        section.pop("pdx_model_name", None)
        yml.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
