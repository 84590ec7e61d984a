"""Training the builtin detector (``--engine builtin --task det``): loop, checkpoints, export, evaluation.

One-cycle learning rate whose progress is the larger of the share of steps done and the share of
``max_train_seconds`` used, as the recognizer's. Loss: pixel-wise binary cross-entropy plus dice
(text is a few percent of a frame; dice keeps the rare positives from being ignored). Each batch is
a function of (seed, epoch, step), so a resumed run continues with exactly the next batch. The
weights exported are the last ones (the schedule has annealed them); the exported model is then
judged by stock ``paddleocr.TextDetection`` on the val frames.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from pathlib import Path

import numpy as np
import paddle
import paddle.nn.functional as F

from ocrbatch.errors import BadInput, RunFailed
from ocrbatch.layout import EVALUATION_NAME
from ocrbatch.trainer.engines.base import Preempted, TrainContext, TrainResult
from ocrbatch.trainer.engines.builtin import checkpoints, det_data, det_model
from ocrbatch.trainer.engines.builtin.checkpoints import TrainState
from ocrbatch.trainer.engines.builtin.data import Charset
from ocrbatch.trainer.engines.builtin.det_settings import DetSettings
from ocrbatch.trainer.engines.builtin.training import configure_cpu
from ocrbatch.trainer.progress import epoch_under_way

log = logging.getLogger(__name__)

MIN_STEPS = 3000  # steps planned when neither epochs nor a time budget is given


def inference_config(settings: DetSettings) -> dict:
    """``inference.yml`` as paddlex's TextDetRunnerPredictor reads it (for the stock model names it
    takes the resize from ``resize_long`` and limits the long side to it)."""
    return {
        "Global": {"model_name": settings.model_name},
        "PreProcess": {"transform_ops": [
            {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
            {"DetResizeForTest": {"resize_long": settings.side}},
            {"NormalizeImage": {"mean": det_data.MEAN.tolist(), "std": det_data.STD.tolist(),
                                "scale": 1 / 255, "order": "hwc"}},
            {"ToCHWImage": None},
            {"KeepKeys": {"keep_keys": ["image", "shape"]}},
        ]},
        "PostProcess": {"name": "DBPostProcess", "thresh": settings.thresh, "box_thresh": settings.box_thresh,
                        "max_candidates": 1000, "unclip_ratio": det_data.UNCLIP_RATIO},
    }


class DetTrainer:
    def __init__(self, ctx: TrainContext, settings: DetSettings):
        self.ctx, self.settings = ctx, settings
        self.train_entries = det_data.read_det_labels(ctx.dataset.train_labels)
        if not self.train_entries:
            raise BadInput(f"the train split has no frames ({ctx.dataset.train_labels})")
        val = Path(ctx.dataset.val_labels) if ctx.dataset.val_labels else None
        self.val_frames = len(det_data.read_det_labels(val)) if val and val.exists() else 0
        self.steps_per_epoch = math.ceil(len(self.train_entries) / settings.batch_size)
        self.epochs = settings.epochs or (10000 if settings.max_train_seconds
                                          else max(5, math.ceil(MIN_STEPS / self.steps_per_epoch)))
        self.model_config = det_model.DetModelConfig(channels=tuple(settings.channels), neck=settings.neck)
        self.identity = {"task": "det", "model": self.model_config.to_json(), "side": settings.side}
        self.resumed_from = None

    def run(self) -> TrainState:
        ctx, settings = self.ctx, self.settings
        paddle.set_device("gpu" if ctx.use_gpu else "cpu")
        if not ctx.use_gpu:
            configure_cpu(settings.cpu_threads)
        paddle.seed(settings.seed)
        self.frames = det_data.load_frames(ctx.dataset.root, self.train_entries, settings.side)
        self.model = det_model.build(self.model_config)
        self.optimizer = paddle.optimizer.AdamW(
            learning_rate=settings.learning_rate, parameters=self.model.parameters(),
            weight_decay=settings.weight_decay, grad_clip=paddle.nn.ClipGradByGlobalNorm(5.0),
        )
        ctx.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        state = TrainState()
        if checkpoints.has_latest(ctx.checkpoint_dir):
            state = checkpoints.load_latest(ctx.checkpoint_dir, self.model, self.optimizer, self.identity)
            self.resumed_from = {"epoch": state.epoch, "step": state.step}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="When training, we now always track global mean")
            return self._loop(state)

    def _learning_rate(self, state: TrainState) -> float:
        progress = state.global_step / max(1, self.epochs * self.steps_per_epoch)
        if self.settings.max_train_seconds:
            progress = max(progress, state.train_seconds / self.settings.max_train_seconds)
        progress, warmup = min(progress, 1.0), self.settings.warmup_fraction
        if progress < warmup:
            return self.settings.learning_rate * (0.1 + 0.9 * progress / warmup)
        decay = (progress - warmup) / max(1e-9, 1 - warmup)
        return self.settings.learning_rate * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * decay)))

    def _out_of_time(self, state: TrainState) -> bool:
        budget = self.settings.max_train_seconds
        return budget is not None and state.train_seconds >= budget

    def _loop(self, state: TrainState) -> TrainState:
        ctx, settings = self.ctx, self.settings
        clock = time.thread_time if settings.budget_clock == "cpu" else time.monotonic
        last_checkpoint = time.monotonic()
        loss_value = float("nan")
        self.model.train()
        while state.epoch < self.epochs and not self._out_of_time(state):
            order = np.random.default_rng([settings.seed, state.epoch]).permutation(len(self.frames))
            for step in range(state.step, self.steps_per_epoch):
                if ctx.stop_requested.is_set():
                    self._checkpoint(state, "stop")
                    raise Preempted(f"stopped at epoch {state.epoch}, step {state.step}")
                tick = clock()
                rng = np.random.default_rng([settings.seed, state.epoch, step])
                indices = order[step * settings.batch_size:(step + 1) * settings.batch_size]
                batch = det_data.training_batch(self.frames, indices, settings.side, settings.crop, rng)
                self.optimizer.set_lr(self._learning_rate(state))
                loss_value = self._train_step(*batch)
                state.train_seconds += clock() - tick
                state.step, state.global_step = step + 1, state.global_step + 1
                self._report(state, loss_value)
                ctx.history.step(state.global_step, loss_value)
                if self._out_of_time(state):
                    break
                if time.monotonic() - last_checkpoint >= settings.checkpoint_every_seconds:
                    self._checkpoint(state, "interval")
                    last_checkpoint = time.monotonic()
            if state.step >= self.steps_per_epoch:
                state.epoch, state.step = state.epoch + 1, 0
        self._checkpoint(state, "end")
        if ctx.stop_requested.is_set():
            raise Preempted(f"stopped after epoch {state.epoch}")
        return state

    def _train_step(self, images, targets, weights) -> float:
        logits = self.model(paddle.to_tensor(images))
        target, weight = paddle.to_tensor(targets), paddle.to_tensor(weights)
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        bce = (bce * weight).sum() / (weight.sum() + 1e-6)
        prob = F.sigmoid(logits) * weight
        dice = 1 - 2 * (prob * target).sum() / (prob.sum() + (target * weight).sum() + 1e-6)
        loss = bce + dice
        loss.backward()
        self.optimizer.step()
        self.optimizer.clear_grad()
        return float(loss)

    @property
    def planned_epochs(self) -> int | None:
        """The epochs a user can expect: None under a time budget with no epochs given, where the
        loop's cap is only a bound the budget ends long before."""
        return self.settings.epochs or (None if self.settings.max_train_seconds else self.epochs)

    def _checkpoint(self, state: TrainState, reason: str) -> None:
        checkpoints.save_latest(self.ctx.checkpoint_dir, self.model, self.optimizer, state, self.identity)
        self.ctx.on_checkpoint({"engine": "builtin", "task": "det", "reason": reason, "epoch": state.epoch,
                                "step": state.step, "global_step": state.global_step})

    def _report(self, state: TrainState, loss_value: float) -> None:
        per_step = state.train_seconds / max(1, state.global_step)
        eta = per_step * max(0, self.epochs * self.steps_per_epoch - state.global_step)
        if self.settings.max_train_seconds:
            eta = min(eta, max(0.0, self.settings.max_train_seconds - state.train_seconds))
        self.ctx.report(epoch=epoch_under_way(state.epoch, state.step), epochs=self.planned_epochs, step=state.step,
                        steps_per_epoch=self.steps_per_epoch, global_step=state.global_step, loss=loss_value,
                        eta_seconds=eta, elapsed_seconds=state.train_seconds)


def train_detector(ctx: TrainContext, settings: DetSettings) -> TrainResult:
    """Train, export into ``ctx.export_dir``, evaluate the export with stock paddleocr."""
    import yaml

    from ocrbatch.trainer.engines.builtin.det_evaluation import stock_det_metrics
    from ocrbatch.trainer.evaluation import stock_detection_frames

    trainer = DetTrainer(ctx, settings)
    own_dir = ctx.workdir / "builtin"
    own_dir.mkdir(parents=True, exist_ok=True)
    config_file = own_dir / "config.yml"
    config_file.write_text(yaml.safe_dump({
        "engine": "builtin", "task": "det", "dataset": ctx.dataset.version,
        "settings": {**settings.to_config(), "epochs": trainer.epochs}, "model": trainer.model_config.to_json(),
    }, sort_keys=False), encoding="utf-8")
    dict_file = own_dir / "dict.txt"  # the characters of the transcriptions, as the paddleocr engine keeps
    Charset.from_characters(ctx.dataset.characters).write(dict_file)

    state = trainer.run()
    det_model.export_inference_model(trainer.model, ctx.export_dir, config=inference_config(settings))

    metrics: dict = {}
    if trainer.val_frames:
        started = time.monotonic()
        stock = stock_det_metrics(ctx.export_dir, Path(ctx.dataset.val_labels), ctx.dataset.root,
                                  device="gpu" if ctx.use_gpu else "cpu")
        metrics = {"accuracy": stock["hmean"], **{k: stock[k] for k in ("precision", "recall", "hmean")},
                   "eval_samples": stock["frames"], "eval_seconds": round(time.monotonic() - started, 2)}
        ctx.history.evaluation(state.global_step, metrics)
        try:  # a few frames with their boxes for the run's page; the metrics above are what counts
            stock_detection_frames(ctx.export_dir, settings.model_name, Path(ctx.dataset.val_labels),
                                   ctx.dataset.root, ctx.export_dir / EVALUATION_NAME,
                                   device="gpu" if ctx.use_gpu else "cpu")
        except RunFailed as exc:
            log.warning("no detection frames for the report: %s", exc)
    metrics.update({
        "epochs": round(state.epoch + state.step / trainer.steps_per_epoch, 3),
        "epochs_planned": trainer.epochs,
        "global_step": state.global_step,
        "train_seconds": round(state.train_seconds, 2),
        "images_per_second": round(state.global_step * settings.batch_size / max(state.train_seconds, 1e-9), 1),
        "parameters": det_model.count_parameters(trainer.model),
        "train_samples": len(trainer.train_entries),
        "val_samples": trainer.val_frames,
        "resumed_from": trainer.resumed_from,
    })
    return TrainResult(model_name=settings.model_name, metrics=metrics, dict_file=dict_file, config_file=config_file)
