"""A PPOCRLabel folder to a recognition dataset: ocrbatch's cut against PaddleOCR's own.

``--frames`` generated display frames (synth ``--task det``: 512-768 px wide, several boxes each) are
laid out as PPOCRLabel leaves a folder (``Label.txt`` + ``fileState.txt``, nothing exported). Then,
each as a whole process:

    peer        what PPOCRLabel's "Export Recognition Result" does, scripted: OpenCV reads each photo,
                PaddleOCR's ``get_rotate_crop_image`` (from the real tree) cuts each box, OpenCV
                writes it as a JPEG. Timed twice: its loop alone, and as a whole process (its
                imports, paddle among them, take most of that).
    ocrbatch    ``ocrbatch validate DIR`` with an empty crop cache: every photo hashed and checked,
                every box cut (Pillow) into the cache, every crop hashed, the held-out split chosen
    again       ``ocrbatch validate DIR`` once more: the crops come from the cache

For each: wall time and CPU time (user + sys), and both as a ratio to the peer's. Run: ``.venv/bin/python bench/ppocrlabel_bench.py
--frames 300``. Nothing is asserted; the load average is printed with the table (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TREE = REPO.parent / "shared" / "paddleocr" / "src"

PEER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[2])
import cv2, numpy as np
from tools.infer.utility import get_rotate_crop_image
folder, out = sys.argv[1], sys.argv[3]
started, cpu = time.perf_counter(), time.process_time()
count = 0
for line in open(f"{folder}/Label.txt", encoding="utf-8"):
    key, boxes = line.rstrip("\n").split("\t")
    image = cv2.imread(f"{folder}/{key.split('/', 1)[1]}")
    for index, box in enumerate(json.loads(boxes)):
        crop = get_rotate_crop_image(image, np.array(box["points"], np.float32))
        cv2.imwrite(f"{out}/{key.split('/', 1)[1].rsplit('.', 1)[0]}_crop_{index}.jpg", crop)
        count += 1
print(json.dumps({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "crops": count}))
"""


def make_folder(root: Path, frames: int) -> tuple[Path, int]:
    sys.path.insert(0, str(REPO))
    from ocrbatch.datasets import ppocrlabel
    from ocrbatch.datasets.ppocrlabel import Box
    from ocrbatch.synth import generate_dataset

    generate_dataset(root / "frames", count=frames, seed=7, task="det", val_fraction=0.0)
    folder = root / "photos"
    folder.mkdir()
    labelled = []
    for line in (root / "frames" / "train.txt").read_text(encoding="utf-8").splitlines():
        path, label = line.split("\t")
        shutil.copyfile(root / "frames" / path, folder / Path(path).name)
        labelled.append((Path(path).name, [Box(b["transcription"], tuple(map(tuple, b["points"]))) for b in json.loads(label)]))
    ppocrlabel.write_label_file(folder, labelled)
    ppocrlabel.write_file_state(folder, [name for name, _ in labelled])
    return folder, sum(len(boxes) for _, boxes in labelled)


def timed(command: list[str], env: dict) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="ppocrlabel-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        folder, boxes = make_folder(root, args.frames)
        env = {**os.environ, "OCRBATCH_CACHE_DIR": str(root / "cache"), "PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK": "True"}
        ocrbatch = [str(Path(sys.executable).with_name("ocrbatch")), "validate", str(folder), "--json"]
        load_before = os.getloadavg()
        (root / "peer").mkdir(exist_ok=True)
        wall, cpu, out = timed([sys.executable, "-c", PEER, str(folder), str(TREE), str(root / "peer")], env)
        peer = json.loads(out.strip().splitlines()[-1])
        rows = [("peer: cv2 + PaddleOCR get_rotate_crop_image (loop only)", peer["seconds"], peer["cpu"]),
                ("peer, whole process (imports paddle)", wall, cpu)]
        rows.append(("ocrbatch validate, cold crop cache", *timed(ocrbatch, env)[:2]))
        rows.append(("ocrbatch validate, warm crop cache", *timed(ocrbatch, env)[:2]))
        load_after = os.getloadavg()
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{args.frames} frames, {boxes} boxes ({peer['crops']} cut by the peer)")
    print(f"{'step':58} {'wall s':>8} {'cpu s':>8} {'wall':>8} {'cpu':>8}")
    for name, wall, cpu in rows:
        print(f"{name:58} {wall:8.2f} {cpu:8.2f} {wall / rows[0][1]:7.2f}x {cpu / rows[0][2]:7.2f}x")
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} (1 min); {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
