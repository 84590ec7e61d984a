"""Export the builtin recognizer as the inference model stock ``paddleocr`` loads.

Writes ``inference.json`` (PIR graph) + ``inference.pdiparams`` with ``paddle.jit.save`` and an
``inference.yml`` in the shape paddlex's ``TextRecRunnerPredictor`` reads: ``Global.model_name`` (a
registered stock name whose pipeline matches ours), ``PreProcess.transform_ops`` limited to the ops it
knows (``DecodeImage``, ``RecResizeImg``, ``KeepKeys``) and ``PostProcess`` ``CTCLabelDecode`` with the
dictionary. paddlex resizes each line to the model's input height (48, or 32) keeping its aspect ratio
and pads it with zeros to at least 320 px (``RecResizeImg image_shape [3, 48, 320]``), reading BGR
because of ``DecodeImage``.
"""

from __future__ import annotations

from pathlib import Path

import paddle
import yaml

from ocrbatch.trainer.engines.builtin.data import Charset
from ocrbatch.trainer.engines.builtin.model import STOCK_MIN_WIDTH, CTCRecognizer, InferenceModel

GRAPH_FILES = ("inference.json", "inference.pdiparams", "inference.yml")


def inference_config(model_name: str, charset: Charset, input_height: int) -> dict:
    return {
        "Global": {"model_name": model_name},
        "PreProcess": {
            "transform_ops": [
                {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
                {"RecResizeImg": {"image_shape": [3, input_height, STOCK_MIN_WIDTH]}},
                {"KeepKeys": {"keep_keys": ["image"]}},
            ]
        },
        "PostProcess": {"name": "CTCLabelDecode", "character_dict": list(charset.characters)},
    }


def export_inference_model(recognizer: CTCRecognizer, export_dir: Path, model_name: str,
                           charset: Charset) -> list[Path]:
    """Save graph, weights and inference.yml into ``export_dir``; returns the files written."""
    export_dir.mkdir(parents=True, exist_ok=True)
    model = InferenceModel(recognizer)
    model.eval()
    spec = [paddle.static.InputSpec(shape=[None, 3, recognizer.config.input_height, None], dtype="float32", name="x")]
    static = paddle.jit.to_static(model, input_spec=spec, full_graph=True)
    paddle.jit.save(static, str(export_dir / "inference"))
    config = inference_config(model_name, charset, recognizer.config.input_height)
    (export_dir / "inference.yml").write_text(
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    written = [export_dir / name for name in GRAPH_FILES]
    missing = [path.name for path in written if not path.exists()]
    if missing:  # paddle without PIR writes inference.pdmodel instead of .json
        legacy = export_dir / "inference.pdmodel"
        if missing == ["inference.json"] and legacy.exists():
            return [legacy, *written[1:]]
        raise RuntimeError(f"paddle.jit.save did not write {', '.join(missing)} in {export_dir}")
    return written
