"""Recognition metrics, and the judge both engines share: the exported model read back by the stock
``paddleocr`` package, the way a user will load it.

``accuracy`` is exact match; ``norm_edit_distance`` is the mean of ``edit_distance / max(len(truth),
len(prediction))`` (0 is perfect). PaddleOCR's own ``norm_edit_dis`` is one minus this.

The stock evaluation runs in a subprocess (``python -m ocrbatch.trainer.evaluation``),
which prints one JSON document: paddlex loads its whole pipeline registry and sets process-wide
Paddle state, none of which should leak into the trainer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from ocrbatch.errors import RunFailed


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def text_metrics(predictions: Sequence[str], truths: Sequence[str]) -> dict:
    if not truths:
        return {}
    exact = sum(p == t for p, t in zip(predictions, truths))
    distance = sum(edit_distance(p, t) / max(len(p), len(t), 1) for p, t in zip(predictions, truths))
    return {"accuracy": exact / len(truths), "norm_edit_distance": distance / len(truths)}


def read_labels(label_file: Path, root: Path) -> list[tuple[Path, str]]:
    pairs = []
    for line in label_file.read_text(encoding="utf-8").splitlines():
        path, sep, text = line.partition("\t")
        if sep and path and text:
            pairs.append((root / path, text))
    return pairs


def stock_paddleocr_metrics(model_dir: Path, model_name: str, label_file: Path, root: Path, *,
                            device: str = "cpu", batch_size: int = 32, timeout: float = 1800) -> dict:
    """Evaluate an exported model through ``paddleocr.TextRecognition`` in a fresh process."""
    command = [
        sys.executable, "-m", "ocrbatch.trainer.evaluation",
        "--model-dir", str(model_dir), "--model-name", model_name, "--labels", str(label_file),
        "--root", str(root), "--device", device, "--batch-size", str(batch_size),
    ]
    env = {**os.environ, "PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK": "True"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"evaluating the exported model with stock paddleocr took over {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RunFailed(f"stock paddleocr could not run the exported model: {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def evaluate_in_this_process(args) -> dict:
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    from paddleocr import TextRecognition

    pairs = read_labels(Path(args.labels), Path(args.root))
    recognizer = TextRecognition(model_name=args.model_name, model_dir=args.model_dir, device=args.device)
    started = time.monotonic()
    predictions = []
    for start in range(0, len(pairs), args.batch_size):
        chunk = [str(path) for path, _ in pairs[start : start + args.batch_size]]
        results = recognizer.predict(chunk, batch_size=args.batch_size)
        predictions.extend(result["rec_text"] for result in results)
    seconds = time.monotonic() - started
    metrics = text_metrics(predictions, [text for _, text in pairs])
    return {**metrics, "samples": len(pairs), "seconds": round(seconds, 2),
            "examples": [{"truth": t, "prediction": p} for (_, t), p in zip(pairs[:5], predictions[:5])]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=32)
    result = evaluate_in_this_process(parser.parse_args(argv))
    # paddlex logs to stdout too: the JSON is the last line.
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
