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

Only rank 0 saves, as in PaddleOCR.
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
        self.logger.info(
            "ocrbatch launcher: resuming at epoch %d, step %d of it, global_step %d, best %s %s",
            start_epoch, self.skip_next_epoch, self.global_step, self.main_indicator,
            pre_best_model_dict.get(self.main_indicator),
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


def save_every_seconds(config_file: str) -> float:
    import yaml

    with open(config_file, encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    minutes = (config.get(SETTINGS_SECTION) or {}).get("save_every_minutes", DEFAULT_SAVE_EVERY_MINUTES)
    return 60.0 * float(minutes or 0)


def main(argv: list[str]) -> None:
    if len(argv) < 3 or "-c" not in argv:
        sys.exit("usage: launcher.py PADDLEOCR_HOME -c config.yml [tools/train.py options]")
    home, train_args = os.path.abspath(argv[0]), argv[1:]
    config_file = train_args[train_args.index("-c") + 1]
    launcher = Launcher(save_every_seconds(config_file))

    sys.path.insert(0, home)
    import ppocr.data
    import tools.program

    ppocr.data.set_signal_handlers = launcher.install_signal_handlers
    tools.program.train = launcher.wrap_train(tools.program.train)
    tools.program.build_dataloader = launcher.wrap_build_dataloader(tools.program.build_dataloader)

    script = os.path.join(home, "tools", "train.py")
    sys.argv = [script, *train_args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
