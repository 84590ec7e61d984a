"""``--engine paddleocr`` on PaddleOCR's real training code (``<repo>/../shared/paddleocr/src``), through
the commands a user types, in local mode, on tiny generated data:

- rec from scratch: train -> checkpoint mirrored to the store -> export -> the stock ``paddleocr``
  package loads the export and reads images -> published artifact with its manifest;
- rec fine-tuned from ``PP-OCRv5_mobile_rec_pretrained.pdparams`` served from ``PADDLEOCR_WEIGHTS``
  (made by the first run with the official weights' four backbone branches, folded into the one a CPU
  trains), stopped by SIGTERM mid-epoch as a Spot notice would: the launcher saves
  ``latest`` at the next step, the retried attempt resumes at that step of that epoch and finishes;
- det from scratch, evaluated by tools/eval.py and read by the stock package.

Small on purpose (15 rec crops to train on, batches of at most 8): the real model costs seconds per step on a CPU.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ocrbatch.cli import app
from tests.polling import wait_for

TREE = Path(__file__).resolve().parents[2].parent / "shared" / "paddleocr" / "src"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (TREE / "tools" / "train.py").is_file(), reason=f"no PaddleOCR tree at {TREE}"),
]
for module in ("paddle", "paddleocr", "cv2", "shapely", "pyclipper", "skimage", "albumentations", "lmdb", "rapidfuzz"):
    pytest.importorskip(module)

REC = "PP-OCRv5_mobile_rec"
REC_CROPS = 20  # 15 to train on, in batches of at most 8 (the sampler's scales vary the batch size)
# On a CPU the backbone trains one branch per layer (local_cpu.cpu_settings). The from-scratch run trains
# the four of the official weights instead, so that fine-tuning from its weights folds them into one.
FOUR_BRANCHES = ("--set", "Architecture.Backbone.conv_kxk_num=4")
runner = CliRunner()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("paddleocr-real")
    values = {
        "PADDLEOCR_HOME": str(TREE),
        "PADDLEOCR_WEIGHTS": str(root / "weights"),
        "OCRBATCH_HOME": str(root / "home"),
        "OCRBATCH_BACKEND": "local",
        "OCRBATCH_CACHE_DIR": str(root / "cache"),
        "PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK": "True",
    }
    patch = pytest.MonkeyPatch()
    for key, value in values.items():
        patch.setenv(key, value)
    (root / "weights").mkdir()
    yield root
    patch.undo()


def cli(*args: str, expect: int = 0):
    result = runner.invoke(app, list(args))
    assert result.exit_code == expect, (args, result.exit_code, result.stdout, result.stderr)
    return result


def dataset(root: Path, task: str, count: int) -> Path:
    from ocrbatch.synth import generate_dataset

    folder = root / f"{task}-data"
    if not folder.exists():
        generate_dataset(folder, count=count, seed=7, task=task, styles=["seg7"], val_fraction=0.25)
    return folder


def job_dir(env: Path, job_id: str) -> Path:
    return env / "home" / "jobs" / job_id


def run_dir(env: Path, job_id: str) -> Path:
    run_uri = json.loads((job_dir(env, job_id) / "job.json").read_text())["spec"]["output"]
    return Path(run_uri.removeprefix("file://"))


def stored_checkpoint(env: Path, job_id: str) -> tuple[dict, Path]:
    """The checkpoint the store points to (what a retried attempt restores), and its folder."""
    checkpoints = run_dir(env, job_id) / "checkpoints"
    pointer = json.loads((checkpoints / "current.json").read_text())
    folder = next(p.parent for p in checkpoints.rglob("latest.pdparams"))
    return pointer, folder


def read_images(model_dir: Path, images: list[Path], task: str) -> list[dict]:
    import paddleocr

    model_cls = paddleocr.TextRecognition if task == "rec" else paddleocr.TextDetection
    name = json.loads((model_dir / "manifest.json").read_text())["model_name"]
    # paddle 3.3.1's oneDNN executor cannot run the exported det graph ("ConvertPirAttribute2RuntimeAttribute
    # not support pir::ArrayAttribute<pir::DoubleAttribute>"); the plain CPU executor reads it.
    extra = {"enable_mkldnn": False} if task == "det" else {}
    model = model_cls(model_name=name, model_dir=str(model_dir), device="cpu", **extra)
    return [result.json["res"] for result in model.predict([str(p) for p in images])]


def val_images(data: Path, count: int) -> list[Path]:
    return [data / line.split("\t")[0] for line in (data / "val.txt").read_text().splitlines()[:count]]


def test_rec_from_scratch_trains_checkpoints_exports_reads_and_publishes(env):
    data = dataset(env, "rec", REC_CROPS)
    result = json.loads(cli(
        "pipeline", "--training-data", str(data), "--engine", "paddleocr", "--from-scratch",
        "--epochs", "2", "--batch-size", "8", "--queue", "cpu", "--set", "Global.print_batch_step=1",
        *FOUR_BRANCHES, "--output-dir", str(env / "rec-model"), "--json",
    ).stdout)
    assert result["status"] == "SUCCEEDED", result

    pointer, checkpoint = stored_checkpoint(env, result["job_id"])
    assert pointer["info"]["engine"] == "paddleocr" and pointer["info"]["epoch"] == 2
    log = (job_dir(env, result["job_id"]) / "log.txt").read_text()
    assert f"epoch: [2/2], global_step: {2 * steps_per_epoch(log)}," in log
    assert "_pretrained.pdparams" not in log  # from scratch (the export loads best_accuracy, nothing else)

    model_dir = env / "rec-model"
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["model_name"] == REC and manifest["engine"] == "paddleocr"
    assert {"inference.json", "inference.pdiparams", "inference.yml", "dict.txt", "config.yml",
            "metrics.json"} <= set(manifest["files"])
    characters = set((model_dir / "dict.txt").read_text().split()) | {" "}
    read = read_images(model_dir, val_images(data, 2), "rec")
    assert len(read) == 2 and all(set(r["rec_text"]) <= characters and 0 <= r["rec_score"] <= 1 for r in read)

    # Served as the model's pretrained weights for the fine-tuning test.
    shutil.copyfile(checkpoint / "latest.pdparams", env / "weights" / f"{REC}_pretrained.pdparams")


def steps_per_epoch(log: str) -> int:
    return int(re.search(r"train dataloader has (\d+) iters", log).group(1))


def test_rec_fine_tunes_from_weights_and_a_sigterm_mid_epoch_resumes_at_that_step(env):
    weights = env / "weights" / f"{REC}_pretrained.pdparams"
    if not weights.is_file():
        pytest.skip("needs the weights of the from-scratch test")
    data = dataset(env, "rec", REC_CROPS)
    job_id = json.loads(cli(
        "submit", "--dataset", str(data), "--engine", "paddleocr", "--epochs", "2", "--batch-size", "8",
        "--queue", "cpu", "--set", "Global.print_batch_step=1", "--json",
    ).stdout)["job_id"]
    log_file = job_dir(env, job_id) / "log.txt"
    # Stop during epoch 2, after its first step, as a Spot notice would.
    steps = wait_for(lambda: log_file.exists() and "iters" in log_file.read_text() and
                     steps_per_epoch(log_file.read_text()), what="the train loader", timeout=900)
    wait_for(lambda: f"epoch: [2/2], global_step: {steps + 1}," in log_file.read_text(), what="epoch 2", timeout=900)
    record = json.loads((job_dir(env, job_id) / "job.json").read_text())
    os.kill(record["trainer_pid"], signal.SIGTERM)

    cli("monitor", job_id, "--no-logs")
    record = json.loads((job_dir(env, job_id) / "job.json").read_text())
    assert record["status"] == "SUCCEEDED" and len(record["attempts"]) == 2, record
    first, second = log_file.read_text().split("--- attempt 2 ---")

    # Fine-tuned: the four branches of the weights folded into the one trained, then PaddleOCR loaded
    # every weight of the folded copy.
    folded = re.search(r"ocrbatch launcher: folded the parallel branches of (\d+) layers of (\S+)\.pdparams", first)
    assert folded and int(folded.group(1)) > 10 and folded.group(2) == str(weights.with_suffix("")), first[-3000:]
    loaded = re.search(r"load pretrain successful from \S+", first.split(folded.group(0), 1)[1])
    assert loaded and loaded.group(0).endswith(f"{REC}_pretrained"), first[-3000:]  # the folded copy
    assert "not matched" not in first and "not in model" not in first
    # The stop saved latest at the next step boundary, within epoch 2.
    saved = re.search(r"ocrbatch launcher: saved latest at epoch 2, step (\d+) of it \(global_step (\d+)\)", first)
    assert saved, first[-3000:]
    steps_done, global_step = int(saved.group(1)), int(saved.group(2))
    assert 1 <= steps_done < steps and global_step == steps + steps_done
    # The retry resumed there: same epoch, the next step, the best metric of the checkpoint.
    assert f"ocrbatch launcher: resuming at epoch 2, step {steps_done} of it, global_step {global_step}" in second
    assert f"epoch: [2/2], global_step: {global_step + 1}," in second
    assert "epoch: [1/2]" not in second and f"epoch: [2/2], global_step: {2 * steps}," in second
    # A resume loads the checkpoint, not the weights (the export after it loads best_accuracy).
    assert loaded.group(0) not in second and "folded the parallel branches" not in second

    pointer, _ = stored_checkpoint(env, job_id)
    assert pointer["info"]["epoch"] == 2


def test_det_from_scratch_trains_exports_evaluates_and_reads(env):
    data = dataset(env, "det", 8)  # 6 frames: 3 steps of 2
    result = json.loads(cli(
        "pipeline", "--training-data", str(data), "--engine", "paddleocr", "--task", "det", "--from-scratch",
        "--epochs", "1", "--batch-size", "2", "--queue", "cpu",
        # smaller training crops than the config's 640 px: the test checks the plumbing, not accuracy
        "--set", "Train.dataset.transforms.4.EastRandomCropData.size=[320,320]",
        "--output-dir", str(env / "det-model"), "--json",
    ).stdout)
    assert result["status"] == "SUCCEEDED", result
    metrics = json.loads((env / "det-model" / "metrics.json").read_text())
    assert 0 <= metrics["hmean"] <= 1 and metrics["accuracy"] == metrics["hmean"]
    manifest = json.loads((env / "det-model" / "manifest.json").read_text())
    assert manifest["model_name"] == "PP-OCRv5_mobile_det"
    read = read_images(env / "det-model", val_images(data, 1), "det")
    assert len(read) == 1 and "dt_polys" in read[0]
    # The run's page: held-out frames with their labelled and predicted boxes, drawn by the stock package.
    found = json.loads((env / "det-model" / "evaluation.json").read_text())
    assert found["task"] == "det" and found["frames"][0]["image"].startswith("data:image/jpeg;base64,")
    assert found["frames"][0]["labelled"] >= 1 and "report.html" in manifest["files"]
