"""The builtin detector (``--engine builtin --task det``): trains on generated frames, exports what the
stock text-detection predictor loads, is judged on the val frames, and refuses bad settings early."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from ocrbatch.errors import BadInput
from ocrbatch.trainer.spec import TrainingSpec


@pytest.mark.slow
def test_training_exports_a_detector_judged_by_stock_paddleocr(detector):
    det_dir, metrics = detector
    assert {"inference.json", "inference.pdiparams", "inference.yml"} <= {p.name for p in det_dir.iterdir()}
    assert metrics["accuracy"] == metrics["hmean"] and 0 <= metrics["hmean"] <= 1
    assert metrics["eval_samples"] == metrics["val_samples"] > 0
    assert metrics["global_step"] == 12 * 23 and metrics["epochs"] == 12  # 180 training frames, batches of 8
    config = yaml.safe_load((det_dir / "inference.yml").read_text())
    assert config["PostProcess"]["name"] == "DBPostProcess"


def test_inference_yml_uses_only_what_the_stock_predictor_reads():
    from paddlex.inference.models.text_detection.predictor import TextDetRunnerPredictor, _TEXT_DET_MAX_LIMIT_MODELS

    from ocrbatch.trainer.engines.builtin.det_settings import DetSettings
    from ocrbatch.trainer.engines.builtin.det_training import inference_config

    config = inference_config(DetSettings(side=640))
    ops = [next(iter(op)) for op in config["PreProcess"]["transform_ops"]]
    assert set(ops) <= set(TextDetRunnerPredictor._FUNC_MAP)
    # for these names paddlex takes the long side from resize_long (and refuses limit_side_len beside it)
    assert config["Global"]["model_name"] in _TEXT_DET_MAX_LIMIT_MODELS
    assert config["PreProcess"]["transform_ops"][1] == {"DetResizeForTest": {"resize_long": 640}}


def test_a_shrunk_box_stays_inside_and_unclipping_restores_its_size():
    import pyclipper

    from ocrbatch.synth.opencv import cv2
    from ocrbatch.trainer.engines.builtin.det_data import UNCLIP_RATIO, shrink

    box = np.array([[100, 50], [300, 50], [300, 80], [100, 80]], dtype=np.float32)
    core = shrink(box)
    assert core is not None
    assert (core.min(axis=0) > box.min(axis=0)).all() and (core.max(axis=0) < box.max(axis=0)).all()
    # what DBPostProcess does to a found region: grow it by area * unclip_ratio / perimeter
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(np.round(core).astype(np.int64).tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    grown = np.asarray(offset.Execute(cv2.contourArea(core) * UNCLIP_RATIO / cv2.arcLength(core, True))[0])
    height = grown[:, 1].max() - grown[:, 1].min()
    assert 0.8 * 30 <= height <= 1.25 * 30


def test_the_builtin_engine_takes_det_and_refuses_bad_settings_before_training():
    from ocrbatch.trainer.engines import check_spec

    spec = dict(dataset="file:///d", output="file:///o", engine="builtin", task="det")
    check_spec(TrainingSpec(**spec, overrides={"side": "640", "crop": "256", "max_train_seconds": "60"}))
    with pytest.raises(BadInput, match="does not know override 'hidden_size'"):
        check_spec(TrainingSpec(**spec, overrides={"hidden_size": "32"}))
    with pytest.raises(BadInput, match="crop must be a multiple of 32"):
        check_spec(TrainingSpec(**spec, overrides={"crop": "700"}))
    with pytest.raises(BadInput, match="side must be a multiple of 32"):
        check_spec(TrainingSpec(**spec, overrides={"side": "500"}))


def test_batches_are_a_pure_function_of_the_seed(tmp_path):
    from ocrbatch.synth.opencv import cv2
    from ocrbatch.trainer.engines.builtin import det_data

    image = np.full((240, 320, 3), 30, dtype=np.uint8)
    cv2.rectangle(image, (60, 100), (260, 140), (0, 0, 255), -1)
    cv2.imwrite(str(tmp_path / "f.png"), image)
    frames = det_data.load_frames(tmp_path, [("f.png", [{"transcription": "1", "points": [[60, 100], [260, 100], [260, 140], [60, 140]]}])], 256)
    one = det_data.training_batch(frames, [0, 0], 256, 128, np.random.default_rng([1, 2, 3]))
    two = det_data.training_batch(frames, [0, 0], 256, 128, np.random.default_rng([1, 2, 3]))
    assert all(np.array_equal(a, b) for a, b in zip(one, two))
    images, targets, weights = one
    assert images.shape == (2, 3, 128, 128) and targets.shape == weights.shape == (2, 1, 64, 64)
    assert targets.max() == 1.0


def test_progress_under_a_time_budget_promises_no_placeholder_epoch_count():
    from types import SimpleNamespace

    from ocrbatch.trainer.engines.builtin.det_training import DetTrainer

    planned = DetTrainer.planned_epochs.fget
    assert planned(SimpleNamespace(settings=SimpleNamespace(epochs=None, max_train_seconds=300), epochs=10000)) is None
    assert planned(SimpleNamespace(settings=SimpleNamespace(epochs=4, max_train_seconds=300), epochs=4)) == 4
    assert planned(SimpleNamespace(settings=SimpleNamespace(epochs=None, max_train_seconds=None), epochs=131)) == 131
