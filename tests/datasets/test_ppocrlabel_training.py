"""A PPOCRLabel folder trains as it is: generated display frames labelled in PPOCRLabel's files (no
crops exported, so ocrbatch cuts them from the boxes), `pipeline --local` with the builtin engine:
validate, hold out val, upload, train, download a model the stock paddleocr package loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocrbatch.cli import app
from ocrbatch.datasets import ppocrlabel
from ocrbatch.datasets.ppocrlabel import Box

pytest.importorskip("paddle")
pytest.importorskip("cv2")
pytestmark = pytest.mark.slow

runner = CliRunner()
TINY = ["--set", "channels=8,16,24,32", "--set", "hidden_size=32", "--set", "seq_blocks=1", "--set", "batch_size=16"]


def ppocrlabel_folder_from_frames(frames: Path, folder: Path) -> Path:
    """Generated det frames, moved into one folder with PPOCRLabel's Label.txt and fileState.txt
    (every frame checked but the last: it must be left out)."""
    folder.mkdir(parents=True)
    labelled = []
    for split in ("train", "val"):
        for line in (frames / f"{split}.txt").read_text(encoding="utf-8").splitlines():
            path, label = line.split("\t")
            name = Path(path).name
            shutil.copyfile(frames / path, folder / name)
            boxes = [Box(b["transcription"], tuple(map(tuple, b["points"]))) for b in json.loads(label)]
            labelled.append((name, boxes))
    ppocrlabel.write_label_file(folder, labelled)
    ppocrlabel.write_file_state(folder, [name for name, _ in labelled[:-1]])
    return folder


def test_a_ppocrlabel_folder_validates_uploads_and_trains(tmp_path, monkeypatch):
    from ocrbatch.synth import generate_dataset

    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    generate_dataset(tmp_path / "frames", count=48, seed=3, task="det", styles=["seg7"], val_fraction=0.1)
    folder = ppocrlabel_folder_from_frames(tmp_path / "frames", tmp_path / "photos")
    env = {"OCRBATCH_HOME": str(tmp_path / "home"), "OCRBATCH_BACKEND": "local"}

    checked = runner.invoke(app, ["validate", str(folder), "--json"], env=env)
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert report["task"] == "rec" and report["source"]["unchecked_images"] == 1
    assert report["split"]["val_images"] == 2  # 5 % of the 47 checked photos, rounded

    result = runner.invoke(
        app, ["pipeline", "--training-data", str(folder), "--epochs", "2", *TINY,
              "--output-dir", str(tmp_path / "model"), "--json"], env=env,
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "SUCCEEDED"
    assert "no val file: held out 2 of 47 images" in result.stderr
    model = tmp_path / "model"
    assert {"inference.json", "inference.pdiparams", "inference.yml"} <= {p.name for p in model.iterdir()}
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["eval_samples"] == report["counts"]["val"]  # evaluated on the held-out photos' crops
