"""The launcher's bookkeeping around PaddleOCR's training loop, without paddle: where a resume starts,
which steps a resumed epoch skips, when a timed save fires. The real loop, signals and saves are
exercised on the real tree in test_paddleocr_real_tree.py."""

from __future__ import annotations

import logging
import pickle

import pytest

from ocrbatch.trainer.engines.paddleocr import launcher


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def make_run(tmp_path, checkpoint=None):
    config = {"Global": {"save_model_dir": str(tmp_path / "out"), "checkpoints": checkpoint}}
    return launcher._Run(config, model=None, optimizer=None, main_indicator="acc", logger=logging.getLogger("t"))


def write_states(prefix, **states):
    with open(str(prefix) + ".states", "wb") as handle:
        pickle.dump(states, handle, protocol=2)


def test_resume_restores_best_metric_global_step_and_the_steps_done(tmp_path):
    write_states(tmp_path / "latest", epoch=2, global_step=13, steps_into_epoch=3,
                 best_model_dict={"acc": 0.8, "best_epoch": 2})
    run = make_run(tmp_path, checkpoint=str(tmp_path / "latest"))
    # what PaddleOCR's load_model hands program.train: acc reset to 0, resume at saved epoch + 1
    pre_best = {"acc": 0.0, "best_epoch": 2, "start_epoch": 3}

    run.restore(pre_best)

    assert pre_best["acc"] == 0.8  # the first evaluation after the resume must beat it to replace it
    assert pre_best["global_step"] == 13
    assert run.begin_epoch() == 3 and run.epoch == 3  # the resumed epoch skips the steps done
    assert run.begin_epoch() == 0 and run.epoch == 4


def test_fresh_run_starts_at_epoch_one(tmp_path):
    run = make_run(tmp_path)
    pre_best = {}
    run.restore(pre_best)
    assert pre_best == {} and run.begin_epoch() == 0 and run.epoch == 1


class Recorder:
    def __init__(self, tmp_path):
        self.saves = []
        self.epoch = 0
        self.global_step = 0
        self.skip = 2

    def begin_epoch(self):
        self.epoch += 1
        skip, self.skip = self.skip, 0
        return skip

    def save(self, steps_done, *, reason):
        self.saves.append((self.epoch, steps_done, self.global_step, reason))


def test_batches_skip_the_done_steps_and_save_on_the_clock(tmp_path):
    clock = Clock()
    runner = launcher.Launcher(save_every_s=60, clock=clock)
    runner.run = Recorder(tmp_path)
    batches = launcher._TrainBatches(list(range(6)), runner)
    assert len(batches) == 6

    seen = []
    for batch in batches:  # resumed epoch: 2 of 6 steps were done before the stop
        seen.append(batch)
        clock.now += 25  # each step takes 25 s
    assert seen == [0, 1, 2, 3]
    assert runner.run.global_step == 4
    # saved once 60 s had passed since the epoch began, between steps, with the position in the epoch
    assert [(epoch, done) for epoch, done, _, _ in runner.run.saves] == [(1, 5)]
    assert "min since the last save" in runner.run.saves[0][3]

    clock.now += 1000
    seen = []
    for batch in batches:  # a new epoch restarts the timer (PaddleOCR saved latest at the epoch's end)
        seen.append(batch)
        clock.now += 25
    assert seen == [0, 1, 2, 3, 4, 5]
    assert [(epoch, done) for epoch, done, _, _ in runner.run.saves][1:] == [(2, 3)]


def test_save_every_minutes_comes_from_the_config(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text("Global: {}\nocrbatch:\n  save_every_minutes: 2.5\n")
    assert launcher.save_every_seconds(str(config)) == 150
    config.write_text("Global: {}\n")
    assert launcher.save_every_seconds(str(config)) == launcher.DEFAULT_SAVE_EVERY_MINUTES * 60


def test_usage_line_without_a_config():
    with pytest.raises(SystemExit, match="usage"):
        launcher.main(["/opt/PaddleOCR"])
