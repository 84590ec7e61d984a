"""Held-out evaluation of an exported recognizer with the stock ``paddleocr`` package, the same way
a user will load it: ``TextRecognition(model_name=..., model_dir=...)`` on the val split.

Metrics follow PaddleOCR's RecMetric: ``accuracy`` is exact match, ``norm_edit_distance`` is
1 - mean(edit distance / length of the longer string), so 1.0 is perfect for both.
"""

from __future__ import annotations

import os
from pathlib import Path

BATCH = 64


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def score(predictions: list[str], labels: list[str]) -> dict:
    if not labels:
        return {"accuracy": 0.0, "norm_edit_distance": 0.0, "samples": 0}
    exact = sum(p == t for p, t in zip(predictions, labels))
    distance = sum(edit_distance(p, t) / max(len(p), len(t), 1) for p, t in zip(predictions, labels))
    return {
        "accuracy": exact / len(labels),
        "norm_edit_distance": 1 - distance / len(labels),
        "samples": len(labels),
    }


def read_labels(root: Path, label_file: Path) -> list[tuple[Path, str]]:
    samples = []
    with open(label_file, encoding="utf-8") as handle:
        for line in handle:
            path, sep, text = line.rstrip("\r\n").partition("\t")
            if sep:
                samples.append((Path(root) / path, text))
    return samples


def evaluate_recognizer(model_name: str, model_dir: Path, root: Path, label_file: Path, *, use_gpu: bool) -> dict:
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    from paddleocr import TextRecognition

    recognizer = TextRecognition(model_name=model_name, model_dir=str(model_dir), device="gpu:0" if use_gpu else "cpu")
    samples = read_labels(root, label_file)
    predictions: list[str] = []
    for start in range(0, len(samples), BATCH):
        batch = [str(path) for path, _ in samples[start : start + BATCH]]
        for result in recognizer.predict(batch, batch_size=len(batch)):
            predictions.append(result["rec_text"])
    return score(predictions, [text for _, text in samples])
