"""What a model folder is: an ocrbatch artifact or any PaddleOCR inference folder, read by its ``inference.yml``.

``Global.model_name`` names the stock model whose runner paddlex uses; ``PostProcess.name`` says the
task (``CTCLabelDecode``... a recognizer, ``DBPostProcess``... a detector); a detector's resize and
post-processing settings are what the stock pipeline must be given to read frames as the model expects.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ocrbatch.errors import BadInput

DET_POSTPROCESS = ("DBPostProcess",)


def inference_config(model_dir: Path) -> dict:
    config = Path(model_dir) / "inference.yml"
    if not config.is_file():
        raise BadInput(f"{model_dir} is not a model folder (no inference.yml)")
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise BadInput(f"{config} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{config} is not an inference config (a mapping)")
    return data


def model_name_of(model_dir: Path) -> str:
    name = (inference_config(model_dir).get("Global") or {}).get("model_name")
    if not name:
        raise BadInput(f"{Path(model_dir) / 'inference.yml'} has no Global.model_name")
    return name


def model_task(model_dir: Path) -> str:
    """``det`` or ``rec``, by the post-processing the model's config names."""
    post = (inference_config(model_dir).get("PostProcess") or {}).get("name", "")
    return "det" if post in DET_POSTPROCESS else "rec"


def require_task(model_dir: Path, task: str, option: str) -> None:
    found = model_task(model_dir)
    if found != task:
        kinds = {"det": "a detection", "rec": "a recognition"}
        raise BadInput(f"{option} {model_dir} is {kinds[found]} model; it needs {kinds[task]} model")


def detector_settings(model_dir: Path) -> dict:
    """The stock pipeline's ``text_det_*`` arguments that reproduce the detector's own config: the
    pipeline otherwise applies its defaults (long side 64 px minimum, box threshold 0.6, ...)."""
    config = inference_config(model_dir)
    resize = next((op["DetResizeForTest"] for op in (config.get("PreProcess") or {}).get("transform_ops", [])
                   if isinstance(op, dict) and op.get("DetResizeForTest")), {}) or {}
    post = config.get("PostProcess") or {}
    settings = {
        "text_det_limit_side_len": resize.get("resize_long", resize.get("limit_side_len")),
        "text_det_limit_type": resize.get("limit_type", "max" if "resize_long" in resize else None),
        "text_det_thresh": post.get("thresh"),
        "text_det_box_thresh": post.get("box_thresh"),
        "text_det_unclip_ratio": post.get("unclip_ratio"),
    }
    return {key: value for key, value in settings.items() if value is not None}
