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


def run_stock_paddleocr(command: list[str], *, timeout: float, doing: str, subject: str) -> dict:
    """Run ``command`` (a ``python -m`` judge that prints one JSON document last) in a fresh process:
    its JSON, or one line saying what ``doing`` took too long or why ``subject`` could not be run."""
    env = {**os.environ, "PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK": "True"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"{doing} with stock paddleocr took over {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RunFailed(f"stock paddleocr could not run {subject}: {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def stock_paddleocr_metrics(model_dir: Path, model_name: str, label_file: Path, root: Path, *,
                            device: str = "cpu", batch_size: int = 32, timeout: float = 1800,
                            findings: Path | None = None) -> dict:
    """Evaluate an exported model through ``paddleocr.TextRecognition`` in a fresh process; with
    ``findings``, also write there what the run's page shows of it (``ocrbatch.trainer.findings``)."""
    command = [
        sys.executable, "-m", "ocrbatch.trainer.evaluation",
        "--model-dir", str(model_dir), "--model-name", model_name, "--labels", str(label_file),
        "--root", str(root), "--device", device, "--batch-size", str(batch_size),
    ]
    if findings is not None:
        command += ["--findings", str(findings)]
    return run_stock_paddleocr(command, timeout=timeout, doing="evaluating the exported model",
                               subject="the exported model")


def stock_detection_frames(model_dir: Path, model_name: str, label_file: Path, root: Path, findings: Path, *,
                           device: str = "cpu", timeout: float = 600) -> dict:
    """Run an exported detector through ``paddleocr.TextDetection`` on a few held-out frames, in a fresh
    process, and write them with their labelled and predicted boxes drawn to ``findings``."""
    command = [
        sys.executable, "-m", "ocrbatch.trainer.evaluation", "--task", "det",
        "--model-dir", str(model_dir), "--model-name", model_name, "--labels", str(label_file),
        "--root", str(root), "--device", device, "--findings", str(findings),
    ]
    return run_stock_paddleocr(command, timeout=timeout, doing="drawing detection frames",
                               subject="the exported detector")


def detection_frames_in_this_process(args) -> dict:
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    from paddleocr import TextDetection

    from ocrbatch.trainer.findings import DET_FRAMES, det_boxes, frame_uri

    root = Path(args.root)
    pairs = read_labels(Path(args.labels), root)[:DET_FRAMES]
    # paddle 3.3.1's oneDNN executor cannot run an exported det graph on CPU; its plain executor can.
    plain = {"enable_mkldnn": False} if args.device == "cpu" else {}
    detector = TextDetection(model_name=args.model_name, model_dir=args.model_dir, device=args.device, **plain)
    frames = []
    for (path, label), result in zip(pairs, detector.predict([str(p) for p, _ in pairs], batch_size=1)):
        labelled = [box.get("points") or [] for box in det_boxes(label)]
        predicted = [[[float(x), float(y)] for x, y in poly] for poly in result["dt_polys"]]
        frames.append({"path": path.relative_to(root).as_posix(), "image": frame_uri(path, labelled, predicted),
                       "labelled": len(labelled), "predicted": len(predicted)})
    Path(args.findings).write_text(json.dumps({"task": "det", "frames": frames}), encoding="utf-8")
    return {"frames": len(frames)}


def evaluate_in_this_process(args) -> dict:
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    from paddleocr import TextRecognition

    pairs = read_labels(Path(args.labels), Path(args.root))
    recognizer = TextRecognition(model_name=args.model_name, model_dir=args.model_dir, device=args.device)
    started = time.monotonic()
    predictions, scores = [], []
    for start in range(0, len(pairs), args.batch_size):
        chunk = [str(path) for path, _ in pairs[start : start + args.batch_size]]
        for result in recognizer.predict(chunk, batch_size=args.batch_size):
            predictions.append(str(result["rec_text"]))
            scores.append(float(result["rec_score"]))
    seconds = time.monotonic() - started
    metrics = text_metrics(predictions, [text for _, text in pairs])
    if args.findings:
        from ocrbatch.trainer.findings import examine_recognition

        root = Path(args.root)
        found = examine_recognition([path.relative_to(root).as_posix() for path, _ in pairs],
                                    [text for _, text in pairs], predictions, scores, root)
        Path(args.findings).write_text(json.dumps(found, ensure_ascii=False), encoding="utf-8")
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
    parser.add_argument("--findings", help="write the held-out findings (by group, worst mistakes) here")
    parser.add_argument("--task", choices=("rec", "det"), default="rec",
                        help="det: draw a few frames with their boxes into --findings (metrics come from tools/eval.py)")
    args = parser.parse_args(argv)
    result = detection_frames_in_this_process(args) if args.task == "det" else evaluate_in_this_process(args)
    # paddlex logs to stdout too: the JSON is the last line.
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
