"""The first-run demo: generate pinball score data, run the whole pipeline locally, read some scores.

It is the same path a user's own data takes (`synth` -> `pipeline --local` -> `predict`), not a
special case: the dataset is published to the local store, the job is the trainer running as a local
process, the model is downloaded and verified, and the stock ``paddleocr`` package reads held-out images.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Callable

from ocrbatch.errors import RunFailed
from ocrbatch.jobs.backend import JobBackend
from ocrbatch.layout import METRICS_NAME

# The builtin engine stops at this many seconds of training (its own override key).
TIME_BUDGET_KEY = "max_train_seconds"
SAMPLES = 8
# What the demo reads: scores (digits with comma, period or no separators) on every display look
# (7-segment, 14/16-segment, dot-matrix, LCD fonts) and as phone photos, from every renderer set.
STYLES = "scores"
RENDERERS = "all"
# Training from scratch (scripts/pinball_base.py trains the shipped base with it; the bench's
# --from-scratch). A few hundred CPU-seconds are far too short to overfit 20,000 varied crops: no
# dropout, and a four times higher peak learning rate. bench/generalization.py at 200 s of
# training-thread CPU, own held-out / held-out renderers: engine defaults (dropout 0.1, 0.003) 64 / 60 %;
# dropout 0 with 0.006: 69 / 66 %; dropout 0 with 0.012: 76 / 73 %. The warm-up takes a fifth of the
# budget: with the default twentieth, CTC's all-blank plateau lasted 300 to over 1,000 steps depending
# on the seed (200 CPU-s, own held-out 29-68 %, four runs); with a fifth it lasted 269-330 steps and four
# seeds read 72.6-76.0 % (bench/README.md, "The first epoch").
SCRATCH_RECIPE: dict[str, str] = {"dropout": "0", "learning_rate": "0.012", "warmup_fraction": "0.2"}
# What the demo trains (bench/generalization.py trains the same): the shipped base, which has read crops
# of the train renderer set only (what, and for how long: "trained" in its weights.json), fine-tuned on
# the demo's own crops of every renderer set at a lower rate that keeps what the base knows
# (bench/README.md, "A base to start from"). From the sixth base, 0.003 read 0.4 points less of the
# bench's own split than the base alone and 93.5 % of the browser's drawings against the base's 95.8 %
# (two seeds each); 0.0015 read as much as the base alone on the bench and 95.4 % of the browser's
# ("The sixth base"). From the base of data v11 the same: 96.4 / 94.3 % against 96.3 / 94.4 % alone,
# and 95.6 % of the browser's drawings for both seeds, where the base alone reads 95.3 % ("Data v11").
BASE = "pinball-scores"
RECIPE: dict[str, str] = {**SCRATCH_RECIPE, "init_from": BASE, "learning_rate": "0.0015", "warmup_fraction": "0.05"}
# Whole frames (--frames): the builtin detector, on frames of the same looks (scores only).
FRAME_COUNT = 400
FRAMES_READ = 4  # frames of the held-out renderer set read at the end
DET_RECIPE: dict[str, str] = {"learning_rate": "0.008"}


def run_demo(
    *,
    output_dir: Path,
    count: int,
    train_seconds: int,
    seed: int,
    force: bool,
    backend: JobBackend,
    work_dir: Path,
    log: Callable[[str], None],
) -> dict:
    """Generate data into ``work_dir`` (kept for the next run), train on ``backend``, read samples."""
    from ocrbatch.jobs.dataset_choice import DatasetChoice
    from ocrbatch.jobs.monitor import JobMonitor
    from ocrbatch.jobs.pipeline import Pipeline
    from ocrbatch.jobs.submission import TrainingOptions
    from ocrbatch.predict import model_name_of, predict_images
    from ocrbatch.synth import DATA_VERSION, generate_dataset

    data_dir = Path(work_dir) / f"pinball-scores-v{DATA_VERSION}-{count}-{seed}"
    if not (data_dir / "train.txt").is_file():
        log(f"generating {count} pinball score crops in {data_dir}")
        generate_dataset(data_dir, count=count, seed=seed, task="rec", styles=STYLES, renderers=RENDERERS)

    monitor = JobMonitor(backend, emit=log)
    pipeline = Pipeline(backend=backend, follow=monitor.follow, step=log)
    options = TrainingOptions(
        engine="builtin",
        overrides={**RECIPE, TIME_BUDGET_KEY: str(train_seconds)},
        queue="cpu",
        job_name="pinball-demo",
    )
    result = pipeline.run(DatasetChoice(data_dir, name="pinball-scores"), options, output_dir, force=force)
    if result["status"] != "SUCCEEDED":
        raise RunFailed(f"demo job {result['job_id']} {result['status']}: {result['status_reason']}")

    model_dir = Path(result["model_dir"]).resolve()
    metrics = json.loads((model_dir / METRICS_NAME).read_text())
    samples = _held_out_samples(data_dir, seed)
    predictions = predict_images(model_dir, [data_dir / path for path, _ in samples])

    return {
        "accuracy": metrics.get("accuracy"),
        "val_images": metrics.get("eval_samples"),
        "train_seconds": metrics.get("train_seconds", 0.0),
        "init_from": metrics.get("init_from"),  # the base it started from (None: from scratch)
        "job_id": result["job_id"],
        "dataset": result["dataset"],
        "model_dir": str(model_dir),
        "report": result.get("report"),
        "samples": [
            {"image": str(data_dir / path), "label": label, "text": p.text, "score": p.score, "correct": p.text == label}
            for (path, label), p in zip(samples, predictions)
        ],
        "python": [
            "from paddleocr import TextRecognition",
            f"model = TextRecognition(model_name={model_name_of(model_dir)!r}, model_dir={str(model_dir)!r})",
        ],
    }


def run_frames_loop(
    *,
    rec_model_dir: Path,
    output_dir: Path,
    train_seconds: int,
    seed: int,
    force: bool,
    backend: JobBackend,
    work_dir: Path,
    log: Callable[[str], None],
) -> dict:
    """The loop on whole frames: train the builtin detector on generated frames, read frames of the
    held-out renderers with detector + recognizer, draw them, and pre-label them for PPOCRLabel."""
    import shutil

    from ocrbatch.jobs.dataset_choice import DatasetChoice
    from ocrbatch.jobs.monitor import JobMonitor
    from ocrbatch.jobs.pipeline import Pipeline
    from ocrbatch.jobs.submission import TrainingOptions
    from ocrbatch.predict.drawing import draw_readings
    from ocrbatch.predict.frames import FrameReader
    from ocrbatch.predict.prelabel import label_folder
    from ocrbatch.synth import DATA_VERSION, generate_dataset

    data_dir = Path(work_dir) / f"pinball-frames-v{DATA_VERSION}-{FRAME_COUNT}-{seed}"
    if not (data_dir / "train.txt").is_file():
        log(f"generating {FRAME_COUNT} pinball display frames in {data_dir}")
        generate_dataset(data_dir, count=FRAME_COUNT, seed=seed, task="det", styles=STYLES, renderers="train")
    pipeline = Pipeline(backend=backend, follow=JobMonitor(backend, emit=log).follow, step=log)
    options = TrainingOptions(engine="builtin", task="det", queue="cpu", job_name="pinball-demo-detector",
                              overrides={**DET_RECIPE, TIME_BUDGET_KEY: str(train_seconds)})
    det_output = Path(str(output_dir) + "-detector")
    result = pipeline.run(DatasetChoice(data_dir, name="pinball-frames"), options, det_output, force=force)
    if result["status"] != "SUCCEEDED":
        raise RunFailed(f"demo detector job {result['job_id']} {result['status']}: {result['status_reason']}")
    det_dir = Path(result["model_dir"]).resolve()
    metrics = json.loads((det_dir / METRICS_NAME).read_text())

    photos = Path(work_dir) / "frames-to-label" / "photos"  # as a user's folder of new photos
    if photos.parent.exists():
        shutil.rmtree(photos.parent)
    held_out = Path(work_dir) / f"pinball-frames-heldout-{seed}"
    generate_dataset(held_out, count=FRAMES_READ, seed=seed + 1, task="det", styles=STYLES,
                     renderers="heldout", val_fraction=0.25, force=True)
    photos.mkdir(parents=True)
    for image in sorted((held_out / "images").iterdir()):
        shutil.copy(image, photos / image.name)
    reader = FrameReader(det_dir, Path(rec_model_dir))
    readings = reader.read(sorted(photos.iterdir()))
    drawn = draw_readings(readings, Path(str(output_dir) + "-frames"))
    labelled = label_folder(photos, Path(rec_model_dir), det_dir, force=True,
                            models={"rec": {"path": str(rec_model_dir)}, "det": {"path": str(det_dir)}})
    return {
        "det_model_dir": str(det_dir),
        "det_job_id": result["job_id"],
        "det_hmean": metrics.get("hmean"),
        "det_precision": metrics.get("precision"),
        "det_recall": metrics.get("recall"),
        "det_train_seconds": metrics.get("train_seconds", 0.0),
        "frames": [reading.to_json() for reading in readings],
        "drawn": [str(path) for path in drawn],
        "labelled": {k: labelled[k] for k in ("folder", "images", "boxes", "below_half_confidence")},
        "python": reader.python,
    }


def frames_how_to(model_dir: Path) -> list[str]:
    """The loop on whole frames, as commands (what --frames runs)."""
    return [
        "ocrbatch synth ./pinball-frames --task det --styles scores --count 400",
        "ocrbatch pipeline --training-data ./pinball-frames --engine builtin --task det "
        "--set max_train_seconds=300 --queue cpu --output-dir ./pinball-detector",
        f"ocrbatch predict --det-model ./pinball-detector --model {model_dir} PHOTO.jpg --draw ./drawn",
        f"ocrbatch label --det-model ./pinball-detector --model {model_dir} ./new-photos",
        "(correct ./new-photos in PPOCRLabel, then) ocrbatch upload ./new-photos",
    ]


def _held_out_samples(data_dir: Path, seed: int) -> list[tuple[str, str]]:
    lines = [line.split("\t", 1) for line in (data_dir / "val.txt").read_text(encoding="utf-8").splitlines() if line]
    return random.Random(seed).sample([(p, label) for p, label in lines], min(SAMPLES, len(lines)))
