"""The training loop of the builtin engine: schedule, AMP, evaluation, checkpoints, resume, stop.

One-cycle learning rate (linear warm-up, cosine decay) whose progress is the larger of the share of
steps done and the share of ``max_train_seconds`` used, so a time-capped run still anneals (those
seconds are wall-clock, or with ``budget_clock=cpu`` the CPU time of the training thread, which a
busy shared machine does not eat into). The
position saved in ``latest.*`` is (epoch, batches done in that epoch); batch plans and augmentation
are functions of (seed, epoch, step), so a resumed run continues with exactly the next batch.
"""

from __future__ import annotations

import ctypes
import math
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import paddle
import paddle.nn.functional as F

from ocrbatch.errors import BadInput
from ocrbatch.trainer.engines.base import Preempted, TrainContext
from ocrbatch.trainer.engines.builtin import checkpoints, warm_start
from ocrbatch.trainer.engines.builtin.checkpoints import TrainState
from ocrbatch.trainer.engines.builtin.data import (
    BatchStream,
    Charset,
    ImageCache,
    frames_needed,
    plan_epoch,
    plan_eval,
    read_label_file,
)
from ocrbatch.trainer.evaluation import text_metrics
from ocrbatch.trainer.engines.builtin.model import (
    STOCK_MIN_WIDTH,
    ModelConfig,
    build,
    count_parameters,
)
from ocrbatch.trainer.engines.builtin.settings import AUGMENT_BELOW, Settings
from ocrbatch.trainer.progress import epoch_under_way


def configure_cpu(threads: int) -> int:
    """Set Paddle's CPU thread count (0: one per core) and stop its OpenMP runtimes fighting.

    Paddle's CPU wheel loads both libiomp5 (oneDNN convolutions) and libgomp (optimizer kernels).
    Intel OpenMP threads spin for 200 ms after each parallel region; the spinning steals the cores
    the next region needs and made training 3-4x slower on 2 cores. A zero block time fixes it.
    """
    threads = threads or len(os.sched_getaffinity(0)) or 1
    paddle.base.core.set_num_threads(threads)
    iomp = Path(paddle.__file__).parent / "libs" / "libiomp5.so"
    if iomp.exists():
        try:
            ctypes.CDLL(str(iomp)).kmp_set_blocktime(0)
        except (OSError, AttributeError):
            pass
    return threads


@dataclass
class Split:
    cache: ImageCache
    widths: np.ndarray


class Trainer:
    def __init__(self, ctx: TrainContext, settings: Settings, charset: Charset):
        self.ctx = ctx
        self.settings = settings
        self.charset = charset
        self.init_folder = warm_start.resolve(settings.init_from) if settings.init_from else None
        self.pool = ThreadPoolExecutor(settings.num_workers, thread_name_prefix="builtin-data")
        self.skipped: dict[str, dict] = {}  # per split: lines left out, by reason
        try:
            self.train = self._load_split(ctx.dataset.train_labels, "train")
            self.val = self._load_split(ctx.dataset.val_labels, "val", required=False)
        except BaseException:
            self.pool.shutdown(wait=False, cancel_futures=True)
            raise
        self.batch_size = settings.batch_size_for(ctx.use_gpu)
        self.steps_per_epoch = math.ceil(len(self.train.widths) / self.batch_size)
        self.epochs = settings.epochs_for(self.steps_per_epoch)
        self.model_config = ModelConfig(
            num_classes=charset.num_classes,
            channels=tuple(settings.channels),
            hidden_size=settings.hidden_size,
            seq_blocks=settings.seq_blocks,
            dropout=settings.dropout,
            width_stride=settings.width_stride,
            input_height=settings.input_height,
            line_context=settings.line_context,
        )
        # Resuming with another dictionary or model shape would load mismatched weights.
        self.identity = {"characters": list(charset.characters), "model": self.model_config.to_json()}
        self.use_amp = ctx.use_gpu and settings.use_amp
        self.augment = settings.augment == "true" or (
            settings.augment == "auto" and len(self.train.widths) < AUGMENT_BELOW
        )
        self.stream = BatchStream(self.train.cache, self.pool, augment=self.augment)

    # ---- data -------------------------------------------------------------------------------
    def _load_split(self, label_file: Path, name: str, required: bool = True) -> Split:
        budget = self.settings.cache_megabytes * 2**20 // 2
        if not label_file or not Path(label_file).exists():
            if required:
                raise BadInput(f"{name} label file {label_file} does not exist")
            return Split(ImageCache([], self.settings.max_width, 0, self.settings.input_height), np.zeros(0, dtype=np.int64))
        samples, skipped = read_label_file(Path(label_file), self.ctx.dataset.root, self.charset)
        cache = ImageCache(samples, self.settings.max_width, budget, self.settings.input_height)
        widths = cache.widths(self.pool)
        # CTC needs enough frames for the label; a line squeezed too narrow cannot be learned.
        fits = np.array([frames_needed(s.label) <= math.ceil(w / self.settings.width_stride)
                         for s, w in zip(samples, widths)], dtype=bool)
        if not fits.all():
            skipped["too_narrow"] = int((~fits).sum())
            if name == "train":
                keep = np.flatnonzero(fits)
                samples = [samples[i] for i in keep]
                cache = ImageCache(samples, self.settings.max_width, budget, self.settings.input_height)
                widths = widths[keep]
        self.skipped[name] = {k: v for k, v in skipped.items() if v}
        if required and not samples:
            raise BadInput(f"the {name} split has no usable samples ({label_file})")
        return Split(cache, widths)

    # ---- schedule ---------------------------------------------------------------------------
    def _learning_rate(self, state: TrainState) -> float:
        progress = state.global_step / max(1, self.epochs * self.steps_per_epoch)
        if self.settings.max_train_seconds:
            progress = max(progress, state.train_seconds / self.settings.max_train_seconds)
        progress = min(progress, 1.0)
        peak, warmup = self.settings.learning_rate, self.settings.warmup_fraction
        if progress < warmup:
            return peak * max(progress / warmup, 0.01)
        decay = (progress - warmup) / max(1e-9, 1 - warmup)
        return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * decay)))

    def _out_of_time(self, state: TrainState) -> bool:
        budget = self.settings.max_train_seconds
        return budget is not None and state.train_seconds >= budget

    # ---- the loop ---------------------------------------------------------------------------
    def run(self) -> TrainState:
        ctx, settings = self.ctx, self.settings
        paddle.set_device("gpu" if ctx.use_gpu else "cpu")
        if not ctx.use_gpu:
            configure_cpu(settings.cpu_threads)
        paddle.seed(settings.seed)
        self.model = build(self.model_config)
        self.optimizer = paddle.optimizer.AdamW(
            learning_rate=settings.learning_rate,
            parameters=self.model.parameters(),
            weight_decay=settings.weight_decay,
            grad_clip=paddle.nn.ClipGradByGlobalNorm(5.0),
        )
        self.scaler = paddle.amp.GradScaler(init_loss_scaling=1024) if self.use_amp else None
        ctx.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        state = TrainState()
        if checkpoints.has_latest(ctx.checkpoint_dir):
            state = checkpoints.load_latest(ctx.checkpoint_dir, self.model, self.optimizer, self.identity)
        elif self.init_folder is not None:
            state.warm_start = warm_start.load_into(self.model, self.model_config, self.charset, self.init_folder)
        self.resumed_from = {"epoch": state.epoch, "step": state.step} if state.global_step else None

        try:
            with warnings.catch_warnings():
                # Paddle's BatchNorm warns that it tracks global statistics in training; it always has.
                warnings.filterwarnings("ignore", message="When training, we now always track global mean")
                return self._loop(state)
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self, state: TrainState) -> TrainState:
        ctx, settings = self.ctx, self.settings
        last_checkpoint = time.monotonic()
        loss_value = float("nan")
        while state.epoch < self.epochs and not self._out_of_time(state):
            self.model.train()
            batches = plan_epoch(self.train.widths, self.batch_size, settings.seed, state.epoch)
            # Dropout draws from Paddle's generator: reseed at every (re)start of an epoch.
            paddle.seed(settings.seed * 1000003 + state.epoch * 7919 + state.step)
            clock = time.thread_time if settings.budget_clock == "cpu" else time.monotonic
            tick = clock()
            for step, batch in self.stream.iterate(batches, settings.seed, state.epoch, state.step):
                if ctx.stop_requested.is_set():
                    self._checkpoint(state, reason="stop")
                    raise Preempted(f"stopped at epoch {state.epoch}, step {state.step}")
                self.optimizer.set_lr(self._learning_rate(state))
                loss_value = self._train_step(batch)
                now = clock()
                state.train_seconds += now - tick
                state.step, state.global_step = step + 1, state.global_step + 1
                ctx.history.step(state.global_step, loss_value)
                self._report(state, loss_value)
                if self._out_of_time(state):
                    break
                if settings.eval_every_steps and state.global_step % settings.eval_every_steps == 0 \
                        and state.step < len(batches):
                    self._evaluate_and_keep_best(state, loss_value)
                if time.monotonic() - last_checkpoint >= settings.checkpoint_every_seconds:
                    self._checkpoint(state, reason="interval")
                    last_checkpoint = time.monotonic()
                tick = clock()  # evaluation and checkpoints are not training time
            self._evaluate_and_keep_best(state, loss_value)
            if state.step >= len(batches):
                state.epoch, state.step = state.epoch + 1, 0
            self._checkpoint(state, reason="epoch")
            last_checkpoint = time.monotonic()
        if ctx.stop_requested.is_set():  # asked to stop while the last epoch ended: honour it
            raise Preempted(f"stopped after epoch {state.epoch}")
        return state

    def _train_step(self, batch) -> float:
        scaler = self.scaler
        images = paddle.to_tensor(batch.images)
        labels = paddle.to_tensor(batch.labels)
        with paddle.amp.auto_cast(enable=self.use_amp, level="O1"):
            logits = self.model(images)
        logits = logits.astype("float32").transpose([1, 0, 2])  # CTC wants [T, N, K]
        frames = paddle.full([logits.shape[1]], logits.shape[0], dtype="int64")
        # zero_infinity: a line too narrow for its label must not turn the whole batch into NaN.
        loss = F.ctc_loss(logits, labels, frames, paddle.to_tensor(batch.label_lengths), blank=0,
                          zero_infinity=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(self.optimizer)
            scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.optimizer.clear_grad()
        return float(loss)

    def _evaluate_and_keep_best(self, state: TrainState, loss_value: float) -> None:
        """Evaluate on the val split (or judge by the loss without one); save best.* on a new best."""
        started = time.monotonic()
        metrics = self.evaluate() if len(self.val.widths) else {}
        state.eval_seconds += time.monotonic() - started
        accuracy = metrics.get("accuracy", -loss_value if math.isfinite(loss_value) else -1e9)
        self.ctx.history.evaluation(state.global_step, metrics)  # the run's record: history.json
        if accuracy >= state.best_accuracy:
            state.best_accuracy, state.best_epoch = accuracy, state.epoch
            checkpoints.save_best(self.ctx.checkpoint_dir, self.model,
                                  {"epoch": state.epoch, "global_step": state.global_step, **metrics},
                                  self.identity)
        self._report(state, loss_value, accuracy=metrics.get("accuracy"))

    def _checkpoint(self, state: TrainState, reason: str) -> None:
        checkpoints.save_latest(self.ctx.checkpoint_dir, self.model, self.optimizer, state, self.identity)
        self.ctx.on_checkpoint({
            "engine": "builtin", "reason": reason, "epoch": state.epoch, "step": state.step,
            "global_step": state.global_step, "best_accuracy": max(state.best_accuracy, 0.0),
        })

    def _report(self, state: TrainState, loss_value: float, accuracy: float | None = None) -> None:
        total = self.epochs * self.steps_per_epoch
        done = state.epoch * self.steps_per_epoch + state.step
        eta = None
        if state.global_step:
            per_step = state.train_seconds / state.global_step
            eta = per_step * max(0, total - done)
            if self.settings.max_train_seconds:
                eta = min(eta, max(0.0, self.settings.max_train_seconds - state.train_seconds))
        extra = {"accuracy": accuracy} if accuracy is not None else {}
        has_best = state.best_epoch is not None and len(self.val.widths) > 0
        self.ctx.report(
            epoch=epoch_under_way(state.epoch, state.step), epochs=self._epochs_ahead(state), step=state.step,
            steps_per_epoch=self.steps_per_epoch, global_step=state.global_step,
            loss=loss_value, best_accuracy=state.best_accuracy if has_best else None, eta_seconds=eta,
            elapsed_seconds=state.train_seconds, **extra,
        )

    def _epochs_ahead(self, state: TrainState) -> int | None:
        """The epochs this run will reach: those planned, or None when a time budget ends training
        first at the pace so far (shown as "epoch 1" with the budget's ETA, not "epoch 1/8")."""
        budget = self.settings.max_train_seconds
        if not budget:
            return self.epochs
        if not state.global_step:
            return None
        planned_seconds = state.train_seconds / state.global_step * self.epochs * self.steps_per_epoch
        return self.epochs if planned_seconds <= budget else None

    @paddle.no_grad()
    def evaluate(self) -> dict:
        """Exact match and normalised edit distance of greedy decoding on the val split."""
        self.model.eval()
        stream = BatchStream(self.val.cache, self.pool, min_width=STOCK_MIN_WIDTH)
        predictions, truths = [], []
        for _, batch in stream.iterate(plan_eval(self.val.widths, self.settings.eval_batch_size)):
            with paddle.amp.auto_cast(enable=self.use_amp, level="O1"):
                logits = self.model(paddle.to_tensor(batch.images))
            classes = logits.argmax(axis=-1).numpy()
            predictions.extend(self.charset.decode(row) for row in classes)
            truths.extend(batch.texts)
        self.model.train()
        return text_metrics(predictions, truths)
