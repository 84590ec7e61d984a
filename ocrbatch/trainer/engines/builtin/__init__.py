"""Engine ``builtin``: our own compact CTC text recognizer in plain paddlepaddle, trained from scratch
(and, for ``--task det``, a small text detector: ``det_training.py``).

``BuiltinEngine().train(ctx)`` trains on ``ctx.dataset`` (resuming from ``ctx.checkpoint_dir``),
exports the best weights into ``ctx.export_dir`` as an inference model the stock ``paddleocr``
package loads (with the training weights beside it, for ``init_from``), evaluates that exported
model through ``paddleocr.TextRecognition`` on the val split and returns its metrics. Settings and
the override keys it honours: ``settings.py``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from ocrbatch.layout import EVALUATION_NAME
from ocrbatch.trainer.engines.base import TrainContext, TrainResult

__all__ = ["BuiltinEngine"]


class BuiltinEngine:
    name = "builtin"

    def train(self, ctx: TrainContext) -> TrainResult:
        if ctx.spec.task == "det":
            from ocrbatch.trainer.engines.builtin.det_settings import det_settings_from_spec
            from ocrbatch.trainer.engines.builtin.det_training import train_detector

            return train_detector(ctx, det_settings_from_spec(ctx.spec))
        # Imported here: paddle is heavy, and only needed once training actually starts.
        from ocrbatch.trainer.engines.builtin import checkpoints, warm_start
        from ocrbatch.trainer.evaluation import stock_paddleocr_metrics
        from ocrbatch.trainer.engines.builtin.export import export_inference_model
        from ocrbatch.trainer.engines.builtin.model import build, count_parameters
        from ocrbatch.trainer.engines.builtin.settings import settings_from_spec, write_config
        from ocrbatch.trainer.engines.builtin.training import Trainer

        settings = settings_from_spec(ctx.spec)
        if settings.init_from:
            settings = warm_start.with_base_shape(settings, ctx.spec.overrides)
        charset = _charset(ctx, settings.character_dict_path)
        trainer = Trainer(ctx, settings, charset)  # reads and checks the labels before any training
        own_dir = ctx.workdir / "builtin"
        own_dir.mkdir(parents=True, exist_ok=True)
        dict_file = own_dir / "dict.txt"
        charset.write(dict_file)
        config_file = own_dir / "config.yml"
        write_config(config_file, replace(settings, batch_size=trainer.batch_size), epochs=trainer.epochs,
                     dataset=ctx.dataset.version, characters=len(charset.characters),
                     model=trainer.model_config.to_json())

        state = trainer.run()

        recognizer = build(trainer.model_config)
        best = checkpoints.load_best_weights(ctx.checkpoint_dir, recognizer, trainer.identity)
        export_inference_model(recognizer, ctx.export_dir, settings.model_name, charset)
        charset.write(ctx.export_dir / "dict.txt")

        metrics = {}
        if trainer.val.widths.size:
            started = time.monotonic()
            stock = stock_paddleocr_metrics(
                ctx.export_dir, settings.model_name, Path(ctx.dataset.val_labels), ctx.dataset.root,
                device="gpu" if ctx.use_gpu else "cpu", findings=ctx.export_dir / EVALUATION_NAME,
            )
            metrics = {
                "accuracy": stock["accuracy"], "norm_edit_distance": stock["norm_edit_distance"],
                "eval_samples": stock["samples"], "eval_seconds": round(time.monotonic() - started, 2),
            }
        trained_images = state.global_step * trainer.batch_size
        metrics.update({
            # Whole epochs, or a fraction when a time budget ended training mid-epoch.
            "epochs": round(state.epoch + state.step / trainer.steps_per_epoch, 3) if state.step else state.epoch,
            "epochs_planned": trainer.epochs,
            "global_step": state.global_step,
            "train_seconds": round(state.train_seconds, 2),
            "images_per_second": round(trained_images / max(state.train_seconds, 1e-9), 1),
            "best_epoch": best.get("epoch", state.best_epoch),
            "val_accuracy_during_training": best.get("accuracy"),
            "parameters": count_parameters(recognizer),
            "train_samples": int(trainer.train.widths.size),
            "val_samples": int(trainer.val.widths.size),
            "skipped_samples": trainer.skipped,
            "resumed_from": trainer.resumed_from,
            **state.warm_start,
        })
        # The training weights go with the export, so a later run can start from this model
        # (``init_from=<its folder>``) rather than from the shipped base or from scratch.
        warm_start.save(ctx.export_dir, recognizer.state_dict(), trainer.model_config, charset, {
            "dataset": ctx.dataset.version,
            **{key: metrics.get(key) for key in ("init_from", "epochs", "global_step", "accuracy", "eval_samples")},
        })
        return TrainResult(model_name=settings.model_name, metrics=metrics, dict_file=dict_file,
                           config_file=config_file)


def _charset(ctx: TrainContext, dict_path: str | None):
    from ocrbatch.trainer.engines.builtin.data import Charset

    if dict_path:
        path = Path(dict_path)
        return Charset.from_dict_file(path if path.is_absolute() else ctx.dataset.root / path)
    return Charset.from_characters(ctx.dataset.characters)
