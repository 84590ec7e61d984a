"""Training engines. Each turns a fetched dataset into checkpoints and an exported inference model."""

from __future__ import annotations

from dataclasses import replace

from ocrbatch.errors import BadInput
from ocrbatch.trainer.spec import TrainingSpec


def get_engine(name: str):
    """Import lazily: the paddleocr engine needs a PaddleOCR checkout that only the image has."""
    if name == "builtin":
        from ocrbatch.trainer.engines.builtin import BuiltinEngine

        return BuiltinEngine()
    if name == "paddleocr":
        from ocrbatch.trainer.engines.paddleocr import PaddleOCREngine

        return PaddleOCREngine()
    raise BadInput(f"unknown engine {name!r}")


def check_spec(spec: TrainingSpec) -> None:
    """Refuse, at submit time, what the engine would refuse when the job starts.

    A typo in an override must cost a one-line error now, not a GPU job that waits for capacity,
    starts, and then fails.
    """
    if spec.engine == "builtin" and spec.task == "det":
        from ocrbatch.trainer.engines.builtin.det_settings import det_settings_from_spec

        det_settings_from_spec(spec)
    elif spec.engine == "builtin":
        from ocrbatch.trainer.engines.builtin.settings import settings_from_spec

        settings_from_spec(spec)
    elif spec.engine == "paddleocr":
        from ocrbatch.trainer.engines.paddleocr import contract

        if spec.model and contract.model_task(spec.model) != spec.task:
            raise BadInput(f"model {spec.model} is not a {spec.task} model")
        owned = sorted(set(spec.overrides) & set(contract.ENGINE_KEYS))
        if owned:
            raise BadInput(f"{', '.join(owned)} cannot be overridden: the engine sets it")


def spec_for_job(spec: TrainingSpec) -> TrainingSpec:
    """``spec`` as its job should carry it: a builtin ``init_from`` folder checked and made absolute,
    or refused for a job on AWS (``bases.for_job``). Everything else as it is."""
    init_from = spec.overrides.get("init_from")
    if spec.engine != "builtin" or spec.task != "rec" or not init_from:
        return spec
    from ocrbatch.trainer.engines.builtin.bases import for_job

    carried = for_job(init_from, on_aws=spec.output.startswith("s3://"))
    return spec if carried == init_from else replace(spec, overrides={**spec.overrides, "init_from": carried})
