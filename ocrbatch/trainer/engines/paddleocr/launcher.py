"""Runs PaddleOCR's ``tools/train.py`` unchanged, adding what a Spot job needs and PaddleOCR lacks.

    python launcher.py PADDLEOCR_HOME -c config.yml

It is run by path, in its own process, before PaddleOCR is imported there: it imports only the
standard library and PaddleOCR's own modules, and wraps three of their functions before
``tools/train.py`` runs as ``__main__``:

- ``ppocr.data.set_signal_handlers``: PaddleOCR's handler SIGKILLs its process group and saves
  nothing. Ours asks for a stop; at the next step boundary ``latest`` is saved and the process exits
  143, so a stop costs no finished step.
- ``tools.program.train``: its train loader is wrapped so that, between steps, ``latest`` is also
  saved every ``ocrbatch.save_every_minutes`` of training (a host that vanishes without notice
  loses at most that, however long an epoch is). A mid-epoch save records the epoch before the
  current one plus how many steps of the current one are done, so a resume runs only the remaining
  steps of that epoch and its global_step continues (PaddleOCR restarts it at 0).
- On resume, the checkpoint's best metric is restored: PaddleOCR resets a rec model's best ``acc``
  to 0, so the first evaluation after a resume would overwrite a better ``best_accuracy``.
- ``ppocr.utils.save_load.load_pretrained_params``: pretrained weights with more parallel kxk
  branches per PPLCNetV3 layer than the model being trained (the local CPU default trains one) are
  folded into it first (``fold_branches``), so fine-tuning starts from the same function.

Only rank 0 saves, as in PaddleOCR. ``ocrbatch.cpu_threads``, when a user sets it, is paddle's CPU
thread count (``set_num_threads`` once paddle is imported; its environment flag does nothing).
"""

from __future__ import annotations

import os
import pickle
import runpy
import signal
import sys
import time

EXIT_STOPPED = 143  # ocrbatch.stop_window's; this file imports nothing of ours (it runs by path)
LATEST = "latest"
BEST = "best_accuracy"
SETTINGS_SECTION = "ocrbatch"  # our keys in the generated config; PaddleOCR ignores the section
DEFAULT_SAVE_EVERY_MINUTES = 10.0


def read_states(prefix: str) -> dict:
    try:
        with open(prefix + ".states", "rb") as handle:
            states = pickle.load(handle, encoding="latin1")
    except (OSError, pickle.UnpicklingError, EOFError):
        return {}
    return states if isinstance(states, dict) else {}


class Launcher:
    def __init__(self, save_every_s: float, clock=time.monotonic):
        self.save_every_s = save_every_s
        self.clock = clock
        self.stop_requested = False
        self.last_save = clock()
        self.run = None  # what program.train was called with, once it is

    # --- signals ----------------------------------------------------------------------------------

    def install_signal_handlers(self):
        def request_stop(signum, _frame):
            self.stop_requested = True
            print(f"ocrbatch launcher: {signal.Signals(signum).name}: saving latest at the next step",
                  file=sys.stderr, flush=True)

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    # --- the training loop ------------------------------------------------------------------------

    def wrap_train(self, train):
        def wrapped(config, train_dataloader, valid_dataloader, device, model, loss_class, optimizer,
                    lr_scheduler, post_process_class, eval_class, pre_best_model_dict, logger, *args, **kwargs):
            run = _Run(config, model, optimizer, eval_class.main_indicator, logger)
            run.restore(pre_best_model_dict)
            self.run = run
            return train(config, _TrainBatches(train_dataloader, self), valid_dataloader, device, model,
                         loss_class, optimizer, lr_scheduler, post_process_class, eval_class,
                         pre_best_model_dict, logger, *args, **kwargs)

        return wrapped

    def wrap_build_dataloader(self, build):
        """PaddleOCR rebuilds the train loader in the loop for datasets that resample each epoch."""

        def wrapped(config, mode, *args, **kwargs):
            loader = build(config, mode, *args, **kwargs)
            return _TrainBatches(loader, self) if mode == "Train" and self.run else loader

        return wrapped

    def begin_epoch(self) -> int:
        """Steps to skip in this epoch (those a mid-epoch checkpoint already did)."""
        self.last_save = self.clock()  # PaddleOCR saved latest at the end of the previous epoch
        return self.run.begin_epoch() if self.run else 0

    def step_done(self) -> None:
        if self.run:
            self.run.global_step += 1

    def between_steps(self, steps_done: int) -> None:
        if self.run is None:
            return
        if self.stop_requested:
            self.run.save(steps_done, reason="stop requested")
            sys.stdout.flush()
            sys.stderr.flush()
            # No interpreter shutdown: DataLoader workers and threads could hold it up past the grace.
            os._exit(EXIT_STOPPED)
        if self.save_every_s > 0 and steps_done > 0 and self.clock() - self.last_save >= self.save_every_s:
            self.run.save(steps_done, reason=f"{self.save_every_s / 60:g} min since the last save")
            self.last_save = self.clock()


class _TrainBatches:
    """The train DataLoader, with a stop/save check before each batch is fetched."""

    def __init__(self, loader, launcher: Launcher):
        self._loader = loader
        self._launcher = launcher

    def __len__(self):
        return len(self._loader)

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def __iter__(self):
        skip = self._launcher.begin_epoch()
        remaining = len(self._loader) - skip
        batches = iter(self._loader)
        for done in range(remaining):
            self._launcher.between_steps(skip + done)
            try:
                batch = next(batches)
            except StopIteration:
                return
            yield batch
            self._launcher.step_done()  # the loop came back for the next batch: the step is over


class _Run:
    """One call of program.train: the objects a save needs, and where in training it is."""

    def __init__(self, config, model, optimizer, main_indicator: str, logger):
        self.config = config
        self.model = model
        self.optimizer = optimizer
        self.main_indicator = main_indicator
        self.logger = logger
        self.save_dir = config["Global"]["save_model_dir"]
        self.epoch = 0  # the epoch under way
        self.global_step = 0  # steps finished, as PaddleOCR counts them (restored on resume)
        self.skip_next_epoch = 0

    def restore(self, pre_best_model_dict: dict) -> None:
        checkpoint = self.config["Global"].get("checkpoints")
        states = read_states(str(checkpoint)) if checkpoint else {}
        start_epoch = int(pre_best_model_dict.get("start_epoch", 1))
        self.epoch = start_epoch - 1
        if not states:
            return
        best = states.get("best_model_dict") or {}
        if self.main_indicator in best:
            pre_best_model_dict[self.main_indicator] = best[self.main_indicator]
        self.global_step = int(states.get("global_step") or 0)
        pre_best_model_dict["global_step"] = self.global_step
        self.skip_next_epoch = int(states.get("steps_into_epoch") or 0)
        # The learning rate continues from the optimizer's saved scheduler state. PaddleOCR's step lines
        # show the median of the last log_smooth_window steps' rates, which restarts at a resume: in a
        # warm-up it jumps from about half the rate to the rate itself, the schedule does not.
        self.logger.info(
            "ocrbatch launcher: resuming at epoch %d, step %d of it, global_step %d, best %s %s, lr %.6g",
            start_epoch, self.skip_next_epoch, self.global_step, self.main_indicator,
            pre_best_model_dict.get(self.main_indicator), self.optimizer.get_lr(),
        )

    def begin_epoch(self) -> int:
        self.epoch += 1
        skip, self.skip_next_epoch = self.skip_next_epoch, 0
        return skip

    def save(self, steps_done: int, *, reason: str) -> None:
        import paddle.distributed as dist
        from ppocr.utils.save_load import save_model

        if dist.get_rank() != 0:
            return
        best = read_states(os.path.join(self.save_dir, BEST)).get("best_model_dict") or {self.main_indicator: 0}
        save_model(
            self.model, self.optimizer, self.save_dir, self.logger, self.config,
            is_best=False, prefix=LATEST, best_model_dict=best,
            epoch=self.epoch - 1, global_step=self.global_step, steps_into_epoch=steps_done,
        )
        self.logger.info(
            "ocrbatch launcher: saved %s at epoch %d, step %d of it (global_step %d): %s",
            LATEST, self.epoch, steps_done, self.global_step, reason,
        )


# --- pretrained weights with more branches than the model ---------------------------------------


def fold_branches(params: dict, model) -> int:
    """Fold the parallel kxk ConvBN branches of each PPLCNetV3 ``LearnableRepLayer`` in ``params``
    (numpy arrays by state-dict key) into the model's single branch, in place; returns how many
    layers were folded. Layers whose branch count already matches are left alone.

    The branches are summed after their batch norms, so in eval mode they equal one convolution
    with weight sum(W_i * s_i) (s_i = gamma_i / sqrt(var_i + eps)) plus a bias: the same algebra
    as the export's ``rep()``. The folded branch keeps a batch norm (the model has one): its running
    mean is the folded convolution's mean, sum(s_i * mean_i), and its scale undoes the
    normalisation, so the folded layer computes exactly what the pretrained one did in eval mode.
    In training mode batch norm divides by the batch's spread instead, so the folded branch's scale
    must be the folded convolution's output deviation, which the file does not hold. It is estimated
    per channel as if the input taps were uncorrelated with equal variance: each branch's running
    variance over its kernel's squared norm gives that tap variance, times the folded kernel's
    squared norm. (Taking fully correlated branches instead overshoots: the fine-tuning loss started
    2.5 % above the four-branch run's and stayed 1-2 % above it; with this estimate the two curves
    interleave, bench/README.md, ``paddleocr_branch_fold.py``.)
    """
    import numpy as np

    folded = 0
    for name, layer in model.named_sublayers():
        branches = getattr(layer, "conv_kxk", None)
        if branches is None or len(branches) != 1:
            continue
        stem = f"{name}.conv_kxk."
        count = 0
        while f"{stem}{count}.conv.weight" in params:
            count += 1
        if count <= 1:
            continue
        eps = float(branches[0].bn._epsilon)
        weight, mean, tap_variance, beta = 0.0, 0.0, 0.0, 0.0
        for index in range(count):
            part = {key: np.asarray(params.pop(f"{stem}{index}.{key}"), dtype=np.float64)
                    for key in ("conv.weight", "bn.weight", "bn.bias", "bn._mean", "bn._variance")}
            scale = part["bn.weight"] / np.sqrt(part["bn._variance"] + eps)
            weight = weight + part["conv.weight"] * scale[:, None, None, None]
            mean = mean + scale * part["bn._mean"]
            taps = (part["conv.weight"] ** 2).reshape(len(scale), -1).sum(axis=1)
            tap_variance = tap_variance + part["bn._variance"] / np.maximum(taps, 1e-12) / count
            beta = beta + part["bn.bias"]
        variance = (weight**2).reshape(len(mean), -1).sum(axis=1) * tap_variance
        dtype = np.asarray(branches[0].conv.weight).dtype
        for key, value in (("conv.weight", weight), ("bn._mean", mean), ("bn._variance", variance),
                           ("bn.weight", np.sqrt(variance + eps)), ("bn.bias", beta)):
            params[f"{stem}0.{key}"] = value.astype(dtype)
        folded += 1
    return folded


def wrap_load_pretrained(load, scratch_dir: str):
    """PaddleOCR loads pretrained weights by key and skips what does not fit; fold extra branches
    into a copy first so that nothing of the pretrained model is skipped."""

    def wrapped(model, path):
        import tempfile

        import paddle
        from ppocr.utils.network import maybe_download_params

        if not any(len(getattr(layer, "conv_kxk", ())) == 1 for layer in model.sublayers()):
            return load(model, path)  # nothing to fold into (GPU runs train the four branches)
        path = maybe_download_params(path)
        prefix = path[: -len(".pdparams")] if path.endswith(".pdparams") else path
        params = {key: value.numpy() if hasattr(value, "numpy") else value
                  for key, value in paddle.load(prefix + ".pdparams").items()}
        folded = fold_branches(params, model)
        if not folded:
            return load(model, path)
        os.makedirs(scratch_dir, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=scratch_dir) as tmp:
            copy = os.path.join(tmp, os.path.basename(prefix) + ".pdparams")
            paddle.save(params, copy)
            print(f"ocrbatch launcher: folded the parallel branches of {folded} layers of {prefix}.pdparams "
                  "into the model's one branch per layer", file=sys.stderr, flush=True)
            return load(model, copy)

    return wrapped


def read_settings(config_file: str) -> dict:
    """Our section of the generated config (``save_every_minutes``, ``cpu_threads``)."""
    import yaml

    with open(config_file, encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    return config.get(SETTINGS_SECTION) or {}


def save_every_seconds(settings: dict) -> float:
    return 60.0 * float(settings.get("save_every_minutes", DEFAULT_SAVE_EVERY_MINUTES) or 0)


def cpu_threads(settings: dict) -> int | None:
    """How many threads paddle's CPU kernels use (``cpu_threads``); None: paddle's default (one)."""
    threads = settings.get("cpu_threads")
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        return None
    return threads


def cpu_thread_environment(settings: dict) -> dict[str, str]:
    """What Intel OpenMP must find in the environment when paddle loads it: no spin-wait, whose
    threads otherwise spin 200 ms after each parallel region on cores the DataLoader worker needs.
    (Paddle's own FLAGS_paddle_num_threads in the environment changes nothing in its oneDNN build:
    the thread count is set through ``set_num_threads`` once paddle is imported.)"""
    return {"KMP_BLOCKTIME": "0"} if cpu_threads(settings) else {}


def main(argv: list[str]) -> None:
    if len(argv) < 3 or "-c" not in argv:
        sys.exit("usage: launcher.py PADDLEOCR_HOME -c config.yml [tools/train.py options]")
    home, train_args = os.path.abspath(argv[0]), argv[1:]
    config_file = train_args[train_args.index("-c") + 1]
    settings = read_settings(config_file)
    launcher = Launcher(save_every_seconds(settings))
    os.environ.update(cpu_thread_environment(settings))  # before paddle is imported

    sys.path.insert(0, home)
    import ppocr.data
    import ppocr.utils.save_load
    import tools.program

    if cpu_threads(settings):
        import paddle

        paddle.base.core.set_num_threads(cpu_threads(settings))

    ppocr.data.set_signal_handlers = launcher.install_signal_handlers
    tools.program.train = launcher.wrap_train(tools.program.train)
    tools.program.build_dataloader = launcher.wrap_build_dataloader(tools.program.build_dataloader)
    ppocr.utils.save_load.load_pretrained_params = wrap_load_pretrained(
        ppocr.utils.save_load.load_pretrained_params, os.path.dirname(os.path.abspath(config_file)))

    script = os.path.join(home, "tools", "train.py")
    sys.argv = [script, *train_args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
