"""Starting a recognizer from trained weights instead of from scratch (``init_from``).

A few minutes of CPU are far too few to learn pinball displays from nothing, and a user's own folder of
photos is far too small; both learn much more when they start from a recognizer that already reads
displays. ``init_from`` names one of the bases shipped in ``bases/`` (``pinball-scores``) or a folder
holding the same two files:

    weights.pdparams   the recognizer's state dict
    weights.json       {"format": 1, "characters": [...], "model": ModelConfig, "trained": {how}}

The network takes the base's shape (channels, hidden size, blocks, stride, input height) for every shape
setting the run does not name; one it names must agree with the base (``with_base_shape``). The
classifier is matched character by character, so a dataset with other characters keeps what the base
knows of the shared ones and learns the new ones from scratch. Only a fresh run starts from the base:
a resumed run continues from its own checkpoint. Which folder a name means: ``bases/__init__.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
import paddle

from ocrbatch.digests import sha256_file
from ocrbatch.errors import BadInput
from ocrbatch.trainer.engines.builtin.bases import BASES_DIR, META_NAME, WEIGHTS_NAME, resolve, shipped_bases
from ocrbatch.trainer.engines.builtin.data import Charset
from ocrbatch.trainer.engines.builtin.model import ModelConfig
from ocrbatch.trainer.engines.builtin.settings import setting_name

__all__ = ["BASES_DIR", "META_NAME", "WEIGHTS_NAME", "load_into", "read_meta", "resolve", "save", "shipped_bases",
           "with_base_shape"]

FORMAT = 1
CLASSIFIER = ("classifier.weight", "classifier.bias")  # rows follow the character set
SHAPE_KEYS = ("channels", "hidden_size", "seq_blocks", "width_stride", "input_height", "line_context")


def read_meta(folder: Path) -> dict:
    try:
        meta = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError("format")
        meta["characters"], meta["model"] = list(meta["characters"]), dict(meta["model"])
    except (OSError, ValueError, KeyError, TypeError):
        raise BadInput(f"{folder / META_NAME} is not a builtin recognizer's weights description") from None
    return meta


def with_base_shape(settings, named: Iterable[str]):
    """``settings`` (whose ``init_from`` is set) with the base's network shape wherever the run's own
    overrides (``named``, keys as given) leave the shape open: a base trained at another width is used
    by naming it alone. A shape the run names is kept, and ``load_into`` refuses it if it disagrees."""
    base = ModelConfig.from_json(read_meta(resolve(settings.init_from))["model"])
    named = {setting_name(key) for key in named}
    return replace(settings, **{key: getattr(base, key) for key in SHAPE_KEYS if key not in named})


def load_into(model: paddle.nn.Layer, config: ModelConfig, charset: Charset, folder: Path) -> dict:
    """Copy the weights in ``folder`` into ``model``; returns what is known of them (for metrics)."""
    meta = read_meta(folder)
    base_config = ModelConfig.from_json(meta["model"])
    differs = [key for key in SHAPE_KEYS if getattr(base_config, key) != getattr(config, key)]
    if differs:
        wanted = ", ".join(f"{key}={_text(getattr(base_config, key))}" for key in differs)
        raise BadInput(f"init_from {folder} has another network shape; train with {wanted}")
    if meta.get("sha256") and sha256_file(folder / WEIGHTS_NAME) != meta["sha256"]:
        raise BadInput(f"{folder / WEIGHTS_NAME} does not match its {META_NAME} (truncated or replaced)")
    try:
        weights = paddle.load(str(folder / WEIGHTS_NAME))
    except Exception as err:  # paddle raises assorted types for a corrupt pickle
        raise BadInput(f"cannot load {folder / WEIGHTS_NAME}: {err}") from None

    state = model.state_dict()
    # Class rows of the base for each class of this run: blank and space always, characters by name.
    base_classes = ["<blank>", *meta["characters"], " "]
    own_classes = ["<blank>", *charset.characters, " "]
    rows = {i: base_classes.index(name) for i, name in enumerate(own_classes) if name in base_classes}
    for key, value in state.items():
        if key not in weights:
            raise BadInput(f"{folder / WEIGHTS_NAME} lacks {key}")
        source = np.asarray(weights[key])
        if key in CLASSIFIER:
            target = value.numpy().copy()
            for own, base in rows.items():
                target[own] = source[base]
            source = target
        if tuple(source.shape) != tuple(value.shape):
            raise BadInput(f"{folder / WEIGHTS_NAME}: {key} has shape {list(source.shape)}, expected {list(value.shape)}")
        value.set_value(source.astype(value.numpy().dtype))
    return {"init_from": str(folder.name if folder.parent == BASES_DIR else folder),
            "init_characters_known": len(rows) - 2, "init_trained": meta.get("trained", {})}


def save(folder: Path, state_dict: dict, config: ModelConfig, charset: Charset, trained: dict) -> None:
    """Write ``state_dict`` as a base other runs can start from."""
    folder.mkdir(parents=True, exist_ok=True)
    paddle.save(state_dict, str(folder / WEIGHTS_NAME))
    meta = {"format": FORMAT, "characters": list(charset.characters), "model": config.to_json(),
            "sha256": sha256_file(folder / WEIGHTS_NAME), "trained": trained}
    (folder / META_NAME).write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _text(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
