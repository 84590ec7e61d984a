"""The builtin detector's settings: defaults and the override keys it honours (``--task det``).

Spec fields ``epochs``, ``learning_rate`` and ``batch_size`` apply; override keys are the fields of
DetSettings (a ``Global.`` prefix is accepted). Any other key is refused before training starts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from ocrbatch.errors import BadInput
from ocrbatch.trainer.engines.builtin.settings import setting_name
from ocrbatch.trainer.spec import TrainingSpec

# A registered stock detection model whose runner paddlex uses for a local static graph; the
# exported inference.yml names it so stock paddleocr applies DetResizeForTest and DBPostProcess.
DET_MODEL_NAME = "PP-OCRv5_mobile_det"


@dataclass(frozen=True)
class DetSettings:
    epochs: int | None = None  # None: as many as max_train_seconds allows (or 200)
    batch_size: int = 8
    learning_rate: float = 0.004  # peak of the one-cycle schedule (AdamW)
    weight_decay: float = 0.0001
    warmup_fraction: float = 0.05
    max_train_seconds: float | None = None
    budget_clock: str = "wall"  # what max_train_seconds counts: wall, or cpu seconds of the training thread
    side: int = 512  # the long side frames are resized to, in training and (inference.yml) at inference
    crop: int = 320  # training windows cut from the resized frames (the net is fully convolutional)
    checkpoint_every_seconds: float = 120.0
    seed: int = 1234
    cpu_threads: int = 1
    channels: tuple[int, ...] = (16, 24, 32, 64, 96)
    neck: int = 24
    # DBPostProcess: pixels above `thresh` form regions; a region is kept when its mean probability is
    # above `box_thresh`. Higher than DB's usual 0.3 / 0.5: a detector trained for minutes leaves a
    # haze of 0.2-0.4 around displays, which at 0.3 merged lines into one box (on 24 held-out-renderer
    # frames, an undertrained model: hmean 0.36 at 0.3 / 0.5, 0.38 at 0.5 / 0.6).
    thresh: float = 0.5
    box_thresh: float = 0.6
    model_name: str = DET_MODEL_NAME

    def to_config(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}


_OPTIONAL = {"epochs": int, "max_train_seconds": float}


def det_settings_from_spec(spec: TrainingSpec) -> DetSettings:
    known = {f.name: f for f in fields(DetSettings)}
    values: dict = {}
    for key, raw in spec.overrides.items():
        name = setting_name(key)
        if name not in known:
            raise BadInput(f"the builtin detector does not know override {key!r}; known: {', '.join(known)}")
        values[name] = _parse(name, known[name].default, str(raw).strip())
    for name in ("epochs", "batch_size", "learning_rate"):
        if getattr(spec, name) is not None:
            values[name] = getattr(spec, name)
    settings = replace(DetSettings(), **values)
    _check(settings)
    return settings


def _parse(name: str, default, text: str):
    try:
        if default is None:
            return None if text.lower() in ("", "none", "null") else _OPTIONAL[name](text)
        if isinstance(default, tuple):
            return tuple(int(part) for part in text.strip("[]()").split(",") if part.strip())
        return type(default)(text)
    except ValueError as err:
        raise BadInput(f"override {name}={text!r} is not valid: {err}") from None


def _check(s: DetSettings) -> None:
    for name in ("batch_size", "learning_rate", "checkpoint_every_seconds", "neck"):
        if not getattr(s, name) > 0:
            raise BadInput(f"{name} must be positive, got {getattr(s, name)!r}")
    for name in ("epochs", "max_train_seconds"):
        if getattr(s, name) is not None and getattr(s, name) <= 0:
            raise BadInput(f"{name} must be positive, got {getattr(s, name)!r}")
    if s.side % 32 or not 128 <= s.side <= 2048:
        raise BadInput(f"side must be a multiple of 32 from 128 to 2048, got {s.side}")
    if s.crop % 32 or not 64 <= s.crop <= s.side:
        raise BadInput(f"crop must be a multiple of 32 from 64 to side ({s.side}), got {s.crop}")
    if len(s.channels) != 5 or min(s.channels) <= 0:
        raise BadInput(f"channels must be five positive integers, got {list(s.channels)}")
    if not 0 <= s.warmup_fraction < 1 or not 0 < s.box_thresh < 1 or not 0 < s.thresh < 1:
        raise BadInput("warmup_fraction must be in [0, 1), thresh and box_thresh in (0, 1)")
    if s.budget_clock not in ("wall", "cpu"):
        raise BadInput(f"budget_clock must be wall or cpu, got {s.budget_clock!r}")
