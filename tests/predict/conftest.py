"""Models shared by the predict and label tests, trained once per session on generated data.

The detector is the builtin one trained on frames of the ``train`` renderer set; the tests read
frames of the ``heldout`` set, drawn by typefaces, shapes and camera effects it never saw. The
recognizer is a tiny builtin one: the tests judge boxes and files, not how well text is read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("paddle")
pytest.importorskip("cv2")

# A fixed number of steps (not a time budget, whose steps vary with the machine's load), so every run
# trains the same model: 12 epochs of 23 batches, about 150 CPU-seconds.
DET_TRAINING = {"learning_rate": "0.008"}
DET_EPOCHS = 12
TINY_REC = {"channels": "8,16,24,32", "hidden_size": "32", "seq_blocks": "1", "batch_size": "16"}


def _train(tmp: Path, root: Path, task: str, characters: str, overrides: dict, **spec) -> tuple[Path, dict]:
    from ocrbatch.trainer.engines.base import LocalDataset, TrainContext
    from ocrbatch.trainer.engines.builtin import BuiltinEngine
    from ocrbatch.trainer.spec import TrainingSpec

    dataset = LocalDataset(root=root, task=task, train_labels=root / "train.txt", val_labels=root / "val.txt",
                           characters=tuple(sorted(set(characters))), version=f"file://{root}")
    ctx = TrainContext(
        spec=TrainingSpec(dataset=dataset.version, output=f"file://{tmp}/run", task=task, overrides=overrides, **spec),
        dataset=dataset, workdir=tmp / "work", checkpoint_dir=tmp / "checkpoints", export_dir=tmp / "export",
        on_checkpoint=lambda info: None, report=lambda **values: None,
    )
    result = BuiltinEngine().train(ctx)
    return ctx.export_dir, result.metrics


@pytest.fixture(scope="session")
def det_frames(tmp_path_factory) -> Path:
    from ocrbatch.synth import generate_dataset

    root = tmp_path_factory.mktemp("det-frames")
    generate_dataset(root, count=200, seed=11, task="det", renderers="train", val_fraction=0.1)
    return root


@pytest.fixture(scope="session")
def held_out_frames(tmp_path_factory) -> Path:
    from ocrbatch.synth import generate_dataset

    root = tmp_path_factory.mktemp("held-out-frames")
    generate_dataset(root, count=12, seed=12, task="det", renderers="heldout", val_fraction=0.5)
    return root


@pytest.fixture(scope="session")
def detector(tmp_path_factory, det_frames) -> tuple[Path, dict]:
    """(exported model folder, metrics) of the builtin detector."""
    characters = json.loads((det_frames / "synth.json").read_text())["characters"]
    return _train(tmp_path_factory.mktemp("detector"), det_frames, "det", characters, dict(DET_TRAINING),
                  epochs=DET_EPOCHS)


@pytest.fixture(scope="session")
def recognizer(tmp_path_factory) -> Path:
    from ocrbatch.synth import generate_dataset

    root = tmp_path_factory.mktemp("rec-crops")
    summary = generate_dataset(root, count=120, seed=13, task="rec", styles=["seg7"], val_fraction=0.2)
    export, _ = _train(tmp_path_factory.mktemp("recognizer"), root, "rec", summary["characters"], dict(TINY_REC),
                       epochs=1)
    return export


def frame_labels(root: Path, split: str = "train") -> list[tuple[Path, list[list[list[float]]]]]:
    """(image, labelled quads) of a det split."""
    pairs = []
    for line in (root / f"{split}.txt").read_text(encoding="utf-8").splitlines():
        path, _, boxes = line.partition("\t")
        pairs.append((root / path, [box["points"] for box in json.loads(boxes)]))
    return pairs
