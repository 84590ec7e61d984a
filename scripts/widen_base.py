"""Grow a recognizer base into a wider or deeper network that reads exactly as the base does.

A base trained for hours reads displays well; a bigger network trained from random weights would need those
hours again. Widening keeps what the base knows (the Net2Net idea): every new channel starts as a copy of
an old one, and the layer that reads it splits the old channel's input weight between the copies, so the
wider network computes the same function. The split is drawn at random for each reading output, so the
copies get different gradients and drift apart once training goes on (with equal halves they would stay
twins). A new sequence block comes from a freshly built network with its last BatchNorm scaled to almost
nothing, so it starts as an identity on its residual path and only adds to the reading as it learns. A
line-context block (``--line-context``, model.LineContext) starts as an identity by construction.

Only channels, hidden size and the number of sequence blocks may grow; width stride and input height
change what the network sees, and nothing shrinks.

    .venv/bin/python scripts/widen_base.py /tmp/widened --channels 32,64,96,128 --hidden-size 128 --seq-blocks 4
    .venv/bin/python scripts/widen_base.py /tmp/with-line --line-context
    .venv/bin/python scripts/pinball_base.py --workdir W --out W/base --set init_from=/tmp/widened
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

# What a new block's last BatchNorm is scaled by: small enough that the widened network reads as the base
# (logits move by about 1e-2 of a scale near 40), large enough that its gradients are not zero.
NEW_BLOCK_SCALE = 0.01
GROWN = ("channels", "hidden_size", "seq_blocks", "line_context")  # the ModelConfig fields that may grow
BN_KEYS = ("weight", "bias", "_mean", "_variance")


def widen(state: dict, old, new, seed: int = 0) -> dict:
    """The state dict of network shape ``new`` (a ModelConfig) that computes what ``state`` (of shape ``old``)
    does; raises ValueError for any change other than growth of channels, hidden size or blocks."""
    if (replace(new, **{key: getattr(old, key) for key in GROWN}) != old or len(new.channels) != len(old.channels)
            or any(n < o for n, o in zip(_sizes(new), _sizes(old)))):
        raise ValueError("only channels, hidden size, blocks and the line context may grow")

    rng = np.random.default_rng(seed)
    state = {key: np.asarray(value) for key, value in state.items()}
    # Which old channel each new one copies, per stage: the old ones in order, then random repeats.
    maps = [_copies(o, n, rng) for o, n in zip((*old.channels, old.hidden_size), (*new.channels, new.hidden_size))]
    hidden = maps[-1]
    out: dict = {}

    reads = [None, *maps[:-1]]  # the first stage reads the three colour planes as they are
    for stage, (inputs, outputs) in enumerate(zip(reads, maps)):
        _conv_bn(state, out, f"features.{stage}", outputs, inputs, rng)
    for block in range(old.seq_blocks):
        prefix = f"sequence.{block}"
        _conv_bn(state, out, f"{prefix}.context", hidden, None, rng)  # depthwise: each channel its own filter
        _conv_bn(state, out, f"{prefix}.mix", hidden, hidden, rng)
    if old.line_context:  # the summary's and the frame's halves grow with the hidden size
        inner = _copies(old.hidden_size // 2, new.hidden_size // 2, rng)
        for name in ("frame", "line"):
            out[f"line_context.{name}.weight"] = _split_inputs(state[f"line_context.{name}.weight"][inner], hidden, rng)
        out["line_context.frame.bias"] = state["line_context.frame.bias"][inner]
        out["line_context.out.weight"] = _split_inputs(state["line_context.out.weight"][hidden], inner, rng)
        out["line_context.out.bias"] = state["line_context.out.bias"][hidden]
    out["classifier.weight"] = _split_inputs(state["classifier.weight"], hidden, rng)
    out["classifier.bias"] = state["classifier.bias"]

    if new.seq_blocks > old.seq_blocks or new.line_context > old.line_context:
        import paddle

        from ocrbatch.trainer.engines.builtin.model import build

        paddle.seed(seed)
        fresh = {key: value.numpy() for key, value in build(new).state_dict().items()}
        for block in range(old.seq_blocks, new.seq_blocks):
            prefix = f"sequence.{block}."
            out.update({key: value for key, value in fresh.items() if key.startswith(prefix)})
            out[f"{prefix}mix.1.weight"] = out[f"{prefix}mix.1.weight"] * NEW_BLOCK_SCALE
        if new.line_context > old.line_context:  # its last convolution starts at zero: nothing to scale
            out.update({key: value for key, value in fresh.items() if key.startswith("line_context.")})
    return out


def _sizes(config) -> tuple[int, ...]:
    return (*config.channels, config.hidden_size, config.seq_blocks, int(config.line_context))


def _copies(old: int, new: int, rng) -> np.ndarray:
    return np.concatenate([np.arange(old), rng.integers(0, old, new - old)])


def _conv_bn(state: dict, out: dict, prefix: str, outputs: np.ndarray, inputs, rng) -> None:
    """A ConvBN (conv ``.0``, BatchNorm ``.1``) whose output channels follow ``outputs`` and whose input
    channels follow ``inputs`` (None: the inputs did not grow, or the conv is depthwise)."""
    weight = state[f"{prefix}.0.weight"][outputs]
    out[f"{prefix}.0.weight"] = weight if inputs is None else _split_inputs(weight, inputs, rng)
    for key in BN_KEYS:
        out[f"{prefix}.1.{key}"] = state[f"{prefix}.1.{key}"][outputs]


def _split_inputs(weight: np.ndarray, inputs: np.ndarray, rng) -> np.ndarray:
    """``weight`` [out, in_old, ...] read through copied inputs: each old input's weight is shared among
    its copies in random positive parts that sum to one for every output."""
    widened = weight[:, inputs]
    parts = rng.uniform(0.5, 1.5, size=widened.shape[:2])
    owners = np.zeros((len(inputs), weight.shape[1]))
    owners[np.arange(len(inputs)), inputs] = 1.0
    totals = parts @ owners  # [out, in_old]: the parts of each old input's copies, summed
    shares = parts / totals[:, inputs]
    return (widened * shares.reshape(shares.shape + (1,) * (widened.ndim - 2))).astype(weight.dtype)


def _channels(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers") from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the widened base (weights.pdparams, weights.json)")
    parser.add_argument("--base", default="pinball-scores", help="a shipped base's name or a base folder")
    parser.add_argument("--channels", type=_channels, help="the four image stages, e.g. 32,64,96,128")
    parser.add_argument("--hidden-size", type=int, help="width of the sequence part")
    parser.add_argument("--seq-blocks", type=int, help="number of sequence blocks")
    parser.add_argument("--line-context", action="store_const", const=True, default=None,
                        help="add the block that shows every frame the whole line")
    parser.add_argument("--seed", type=int, default=0, help="draws which channels are copied and the splits")
    args = parser.parse_args()

    import paddle

    from ocrbatch.errors import BadInput
    from ocrbatch.trainer.engines.builtin import warm_start
    from ocrbatch.trainer.engines.builtin.data import Charset
    from ocrbatch.trainer.engines.builtin.model import ModelConfig

    try:
        folder = warm_start.resolve(args.base)
        meta = warm_start.read_meta(folder)
    except BadInput as err:
        parser.error(str(err))
    old = ModelConfig.from_json(meta["model"])
    new = replace(old, **{key: getattr(args, key) for key in GROWN if getattr(args, key) is not None})
    try:
        state = widen(paddle.load(str(folder / warm_start.WEIGHTS_NAME)), old, new, seed=args.seed)
    except ValueError as err:
        parser.error(str(err))
    trained = {"built_by": "scripts/widen_base.py", "seed": args.seed,
               "widened_from": {key: getattr(old, key) for key in GROWN}, "init_from": args.base,
               "init_trained": meta.get("trained", {})}
    warm_start.save(args.out, {key: paddle.to_tensor(value) for key, value in state.items()}, new,
                    Charset(tuple(meta["characters"])), trained)
    def shape(config):
        return f"{config.channels}/{config.hidden_size}/{config.seq_blocks} blocks" + (
            " + line context" if config.line_context else "")

    print(f"wrote {args.out}: {shape(old)} -> {shape(new)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
