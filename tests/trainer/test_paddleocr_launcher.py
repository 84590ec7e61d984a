"""The launcher's bookkeeping around PaddleOCR's training loop, without paddle: where a resume starts,
which steps a resumed epoch skips, when a timed save fires. The real loop, signals and saves are
exercised on the real tree in test_paddleocr_real_tree.py."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from ocrbatch.trainer.engines.paddleocr import launcher


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Optimizer:
    """What the launcher asks of paddle's optimizer: its current (restored) learning rate."""

    def get_lr(self):
        return 0.0001


def make_run(tmp_path, checkpoint=None):
    config = {"Global": {"save_model_dir": str(tmp_path / "out"), "checkpoints": checkpoint}}
    return launcher._Run(config, model=None, optimizer=Optimizer(), main_indicator="acc",
                         logger=logging.getLogger("t"))


def write_states(prefix, **states):
    with open(str(prefix) + ".states", "wb") as handle:
        pickle.dump(states, handle, protocol=2)


def test_resume_restores_best_metric_global_step_and_the_steps_done(tmp_path, caplog):
    write_states(tmp_path / "latest", epoch=2, global_step=13, steps_into_epoch=3,
                 best_model_dict={"acc": 0.8, "best_epoch": 2})
    run = make_run(tmp_path, checkpoint=str(tmp_path / "latest"))
    # what PaddleOCR's load_model hands program.train: acc reset to 0, resume at saved epoch + 1
    pre_best = {"acc": 0.0, "best_epoch": 2, "start_epoch": 3}

    with caplog.at_level(logging.INFO, logger="t"):
        run.restore(pre_best)

    assert "resuming at epoch 3, step 3 of it, global_step 13, best acc 0.8, lr 0.0001" in caplog.text
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


def test_save_every_minutes_and_cpu_threads_come_from_the_config(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text("Global: {}\nocrbatch:\n  save_every_minutes: 2.5\n  cpu_threads: 2\n")
    settings = launcher.read_settings(str(config))
    assert launcher.save_every_seconds(settings) == 150
    assert launcher.cpu_threads(settings) == 2
    assert launcher.cpu_thread_environment(settings) == {"KMP_BLOCKTIME": "0"}
    config.write_text("Global: {}\n")
    settings = launcher.read_settings(str(config))
    assert launcher.save_every_seconds(settings) == launcher.DEFAULT_SAVE_EVERY_MINUTES * 60
    assert launcher.cpu_threads(settings) is None and launcher.cpu_thread_environment(settings) == {}  # GPU runs
    for unusable in (0, "two", True):
        assert launcher.cpu_threads({"cpu_threads": unusable}) is None


def test_usage_line_without_a_config():
    with pytest.raises(SystemExit, match="usage"):
        launcher.main(["/opt/PaddleOCR"])


def test_pretrained_branches_fold_into_one_that_computes_the_same(monkeypatch):
    """Four trained kxk branches per layer, folded into the model's one: the same function in eval mode."""
    paddle = pytest.importorskip("paddle")
    tree = Path(__file__).resolve().parents[2].parent / "shared" / "paddleocr" / "src"
    if not (tree / "ppocr").is_dir():
        pytest.skip(f"no PaddleOCR tree at {tree}")
    monkeypatch.syspath_prepend(str(tree))
    from ppocr.modeling.backbones.rec_lcnetv3 import LearnableRepLayer

    class Model(paddle.nn.Layer):
        def __init__(self, branches):
            super().__init__()
            self.depthwise = LearnableRepLayer(6, 6, 3, groups=6, num_conv_branches=branches)
            self.pointwise = LearnableRepLayer(6, 8, 1, num_conv_branches=branches)

        def forward(self, x):
            return self.pointwise(self.depthwise(x))

    paddle.seed(3)
    pretrained, trained = Model(4), Model(1)
    for key, value in pretrained.state_dict().items():  # statistics and affines a training run leaves
        if key.endswith("_variance"):
            value.set_value(paddle.rand(value.shape) + 0.2)
        elif key.endswith(("_mean", "bn.weight", "bn.bias")):
            value.set_value(paddle.randn(value.shape))
    params = {key: value.numpy() for key, value in pretrained.state_dict().items()}

    assert launcher.fold_branches(params, trained) == 2
    assert set(params) == set(trained.state_dict())  # nothing left over, nothing missing
    trained.set_state_dict(params)
    pretrained.eval(), trained.eval()
    x = paddle.randn([2, 6, 12, 20])
    assert float((pretrained(x) - trained(x)).abs().max()) < 1e-4 * float(pretrained(x).abs().max())
    assert launcher.fold_branches(params, trained) == 0  # already one branch: left alone
    assert launcher.fold_branches({k: v.numpy() for k, v in pretrained.state_dict().items()}, Model(4)) == 0
