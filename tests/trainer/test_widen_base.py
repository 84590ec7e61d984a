"""scripts/widen_base.py: a widened base reads as the base did, and its copied channels can drift apart."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("paddle")

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))  # pytest runs with --import-mode=importlib
from widen_base import widen  # noqa: E402

from ocrbatch.trainer.engines.builtin.model import ModelConfig, build  # noqa: E402

OLD = ModelConfig(num_classes=14, channels=(8, 16, 24, 32), hidden_size=32, seq_blocks=2)
WIDE = replace(OLD, channels=(12, 24, 30, 48), hidden_size=40)


def _trained_like(config=OLD):
    """A small network whose BatchNorm statistics and scales are not the fresh ones (1, 0, 0, 1), and whose
    line context (if any) adds something, so a wrong copy of any of them shows."""
    import paddle

    paddle.seed(3)
    model = build(config)
    rng = np.random.default_rng(4)
    for key, value in model.state_dict().items():
        if key.startswith("line_context."):
            value.set_value(rng.normal(0, 0.3, value.shape).astype("float32"))
        elif key.endswith(("_mean", "bias")):
            value.set_value(rng.normal(0, 0.3, value.shape).astype("float32"))
        elif key.endswith(("_variance", "1.weight")):
            value.set_value(rng.uniform(0.5, 2.0, value.shape).astype("float32"))
    return model


def _arrays(model) -> dict:
    return {key: value.numpy() for key, value in model.state_dict().items()}


def _read(model, state=None):
    import paddle

    if state is not None:
        model.set_state_dict({key: paddle.to_tensor(value) for key, value in state.items()})
    model.eval()
    images = np.random.default_rng(5).normal(size=(3, 3, 48, 120)).astype("float32")
    return model(paddle.to_tensor(images)).numpy()


def test_a_wider_network_reads_exactly_as_the_base():
    base = _trained_like()
    wide = widen(_arrays(base), OLD, WIDE, seed=1)
    assert set(wide) == set(build(WIDE).state_dict())
    before, after = _read(base), _read(build(WIDE), wide)
    assert np.abs(before - after).max() < 1e-4 * np.abs(before).max()


def test_copies_of_a_channel_are_read_through_different_weights():
    """Equal splits would keep the copies twins for ever; the parts differ, and still sum to the old weight."""
    base = _arrays(_trained_like())
    wide = widen(base, OLD, WIDE, seed=1)
    mix = wide["sequence.0.mix.0.weight"][:, :, 0, 0]  # [hidden out, hidden in]
    old_mix = base["sequence.0.mix.0.weight"][:, :, 0, 0]
    context = wide["sequence.0.context.0.weight"]  # depthwise: a copy keeps its source's filter
    copy = 32  # the first new channel of the sequence part
    copies = [j for j in range(40) if np.array_equal(context[j], context[copy])]
    source = copies[0]
    assert source < 32 and len(copies) >= 2
    assert not np.allclose(mix[:32, copy], mix[:32, source])
    np.testing.assert_allclose(mix[:32, copies].sum(axis=1), old_mix[:, source], rtol=1e-5, atol=1e-7)


def test_a_new_block_starts_close_to_an_identity():
    base = _trained_like()
    deeper = replace(WIDE, seq_blocks=3)
    state = widen(_arrays(base), OLD, deeper, seed=1)
    before, after = _read(base), _read(build(deeper), state)
    assert np.abs(before - after).max() < 0.02 * np.abs(before).max()
    assert (before.argmax(-1) == after.argmax(-1)).mean() > 0.97
    assert np.abs(state["sequence.2.mix.1.weight"]).max() > 0  # it can still learn


def test_a_line_context_starts_as_an_identity_and_can_learn():
    base = _trained_like()
    with_line = replace(OLD, line_context=True)
    state = widen(_arrays(base), OLD, with_line, seed=1)
    assert set(state) == set(build(with_line).state_dict())
    np.testing.assert_array_equal(_read(base), _read(build(with_line), state))
    assert not np.any(state["line_context.out.weight"])  # the identity: its output starts at zero
    assert np.abs(state["line_context.frame.weight"]).max() > 0  # and what feeds it is not


def test_a_base_with_a_line_context_widens_exactly():
    old, wide = replace(OLD, line_context=True), replace(WIDE, line_context=True)
    base = _trained_like(old)
    before = _read(base)
    assert np.abs(before - _read(build(OLD), {k: v for k, v in _arrays(base).items()
                                              if not k.startswith("line_context.")})).max() > 0.1  # it matters
    state = widen(_arrays(base), old, wide, seed=1)
    assert set(state) == set(build(wide).state_dict())
    after = _read(build(wide), state)
    assert np.abs(before - after).max() < 1e-4 * np.abs(before).max()


@pytest.mark.parametrize("change", [{"hidden_size": 24}, {"channels": (8, 16, 24)}, {"width_stride": 8},
                                    {"input_height": 32}, {"seq_blocks": 1}])
def test_anything_but_growth_is_refused(change):
    with pytest.raises(ValueError, match="only channels, hidden size, blocks and the line context may grow"):
        widen(_arrays(build(OLD)), OLD, replace(OLD, **change))


def test_a_line_context_is_not_taken_away():
    old = replace(OLD, line_context=True)
    with pytest.raises(ValueError, match="may grow"):
        widen(_arrays(build(old)), old, OLD)
