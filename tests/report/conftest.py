"""A published model's folder as the trainer leaves it, made from real (small) images: its metrics,
a history of two attempts with a Spot reclaim between them, held-out findings and the data summary."""

import json
import random
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from ocrbatch.datasets.local_dataset import LocalDataset
from ocrbatch.trainer import findings
from ocrbatch.trainer.history import RunHistory

# The suite runs with --import-mode=importlib, which puts no test folder on sys.path; the browser
# helper shared by this folder's modules lives beside them in report_browser.py.
sys.path.insert(0, str(Path(__file__).parent))

LOOKS = ("seg7", "seg14", "dmd", "lcd")


def draw_crop(path, text, look_index):
    image = Image.new("RGB", (24 + 14 * len(text), 40), (20 + 40 * look_index, 20, 30))
    ImageDraw.Draw(image).text((8, 12), text, fill=(255, 200, 40))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("report-run")
    data, model = root / "data", root / "model"
    model.mkdir()
    rng = random.Random(7)
    lines = []
    for index in range(80):
        look = index % len(LOOKS)
        text = f"{rng.randint(0, 10 ** rng.randint(1, 7)):,}"
        name = f"images/{index:06d}_{LOOKS[look]}{'_photo' if index % 5 == 0 else ''}.jpg"
        draw_crop(data / name, text, look)
        lines.append((name, text))
    (data / "train.txt").write_text("".join(f"{p}\t{t}\n" for p, t in lines[:60]))
    (data / "val.txt").write_text("".join(f"{p}\t{t}\n" for p, t in lines[60:]))
    dataset = LocalDataset(data, "rec", data / "train.txt", data / "val.txt", tuple("0123456789,"), "file:///d/v1")

    val = lines[60:]
    predictions = [t if i % 3 else t.replace("7", "1")[:-1] for i, (_, t) in enumerate(val)]
    found = findings.examine_recognition([p for p, _ in val], [t for _, t in val], predictions,
                                         [0.5 + i / 100 for i in range(len(val))], data)
    (model / "evaluation.json").write_text(json.dumps(found))

    clock = [1_764_480_000.0]
    first = RunHistory(attempt=1, clock=lambda: clock[0])
    first.start(gpu=True)
    for step in range(1, 121):
        clock[0] += 3
        first.step(step, 8 / step ** 0.5)
        if step % 40 == 0:
            first.evaluation(step, {"accuracy": step / 200, "norm_edit_distance": 0.4 - step / 500})
    clock[0] += 300  # reclaimed; the retry starts five minutes later from the checkpoint at step 100
    second = RunHistory(attempt=2, previous=first.to_json(), clock=lambda: clock[0])
    second.start(resumed_from={"epoch": 2, "step": 0, "global_step": 100}, gpu=True, device="Tesla T4",
                 image="1234.dkr.ecr.us-west-2.amazonaws.com/cdk-assets:abc")
    for step in range(101, 241):
        clock[0] += 3
        second.step(step, 8 / step ** 0.5)
        if step % 40 == 0:
            second.evaluation(step, {"accuracy": min(0.9, step / 250), "norm_edit_distance": 0.05})
    second.end("succeeded")
    (model / "history.json").write_text(json.dumps(second.to_json()))

    spec = {"dataset": "file:///d/v1", "output": "file:///runs/r1", "engine": "builtin", "task": "rec",
            "model": None, "epochs": None, "learning_rate": None, "batch_size": None,
            "overrides": {"dropout": "0", "max_train_seconds": "600"}, "from_scratch": False}
    (model / "dataset.json").write_text(json.dumps(
        {"dataset": "file:///d/v1", "spec": spec, "summary": findings.dataset_summary(dataset)}))
    metrics = {"accuracy": found["overall"]["accuracy"], "norm_edit_distance": found["overall"]["norm_edit_distance"],
               "eval_samples": len(val), "epochs": 4, "global_step": 240, "train_seconds": 720.0,
               "images_per_second": 210.5, "parameters": 99000, "train_samples": 60, "val_samples": 20,
               "cost_usd": 0.12}
    (model / "metrics.json").write_text(json.dumps(metrics))
    (model / "config.yml").write_text("learning_rate: 0.003\n")
    files = {name: {"size": (model / name).stat().st_size, "sha256": "0" * 64} for name in
             ("metrics.json", "history.json", "evaluation.json", "dataset.json", "config.yml")}
    (model / "manifest.json").write_text(json.dumps(
        {"format": 1, "files": files, "model_name": "PP-OCRv5_mobile_rec", "engine": "builtin",
         "dataset": "file:///d/v1", "metrics": metrics}))
    return model
