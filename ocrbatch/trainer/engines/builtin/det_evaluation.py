"""Detection metrics, judged the way a user loads the model: stock ``paddleocr.TextDetection``.

A found box matches a labelled one when their intersection over union is at least 0.5 (each box
matches at most once, best overlaps first); precision, recall and their harmonic mean (hmean) follow,
as in PaddleOCR's det evaluation. Boxes labelled ``###`` are left out of both counts. Runs in a
subprocess, as the recognizer's evaluation does (paddlex sets process-wide state).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ocrbatch.trainer.evaluation import run_stock_paddleocr

IOU_MATCH = 0.5


def polygon_iou(a, b) -> float:
    from shapely.geometry import Polygon

    pa, pb = Polygon(a).buffer(0), Polygon(b).buffer(0)
    union = pa.union(pb).area
    return pa.intersection(pb).area / union if union else 0.0


def match_boxes(found: list, truth: list, threshold: float = IOU_MATCH) -> int:
    """How many found boxes match a labelled box one to one at IoU >= threshold (best overlaps first)."""
    pairs = sorted(((polygon_iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)),
                   reverse=True)
    used_found, used_truth = set(), set()
    for iou, i, j in pairs:
        if iou < threshold:
            break
        if i not in used_found and j not in used_truth:
            used_found.add(i)
            used_truth.add(j)
    return len(used_found)


def det_metrics(found_per_frame: list[list], truth_per_frame: list[list]) -> dict:
    found = sum(len(f) for f in found_per_frame)
    truth = sum(len(t) for t in truth_per_frame)
    matched = sum(match_boxes(f, t) for f, t in zip(found_per_frame, truth_per_frame))
    precision = matched / found if found else 0.0
    recall = matched / truth if truth else 0.0
    hmean = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "hmean": hmean, "found": found, "labelled": truth,
            "matched": matched, "frames": len(truth_per_frame)}


def stock_det_metrics(model_dir: Path, label_file: Path, root: Path, *, device: str = "cpu",
                      timeout: float = 1800) -> dict:
    command = [sys.executable, "-m", "ocrbatch.trainer.engines.builtin.det_evaluation",
               "--model-dir", str(model_dir), "--labels", str(label_file), "--root", str(root), "--device", device]
    return run_stock_paddleocr(command, timeout=timeout, doing="evaluating the exported detector",
                               subject="the exported detector")


def _evaluate(args) -> dict:
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    import yaml
    from paddleocr import TextDetection

    from ocrbatch.trainer.engines.builtin.det_data import IGNORE_TEXT, read_det_labels

    entries = read_det_labels(Path(args.labels))
    name = yaml.safe_load((Path(args.model_dir) / "inference.yml").read_text())["Global"]["model_name"]
    detector = TextDetection(model_name=name, model_dir=args.model_dir, device=args.device)
    found = [[poly.tolist() for poly in result["dt_polys"]]
             for result in detector.predict([str(Path(args.root) / path) for path, _ in entries], batch_size=1)]
    truth = [[box["points"] for box in boxes if box.get("transcription") != IGNORE_TEXT] for _, boxes in entries]
    return det_metrics(found, truth)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag in ("--model-dir", "--labels", "--root"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--device", default="cpu")
    result = _evaluate(parser.parse_args(argv))
    sys.stdout.write("\n" + json.dumps(result) + "\n")  # paddlex logs to stdout too: the JSON is last


if __name__ == "__main__":
    main()
