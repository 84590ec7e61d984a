"""The builtin text detector: a small fully convolutional net that maps a frame to a text probability map.

Input: ``[N, 3, H, W]`` BGR images normalised with ImageNet's mean and deviation (paddlex's
``NormalizeImage`` defaults), H and W multiples of 32 (``DetResizeForTest`` rounds to them). Output:
``[N, 1, H/2, W/2]`` probabilities that a pixel lies in the shrunk core of a text line, which is what
the stock ``DBPostProcess`` turns into boxes: it thresholds the map, scores each region, grows it back
by ``unclip_ratio`` and scales it to the image, whatever the map's resolution.

Five stride-2 stages (to 1/32, so a whole display is in view) and a top-down path that adds each
stage back in at 1/4; a light head upsamples to 1/2 where a 20-pixel line is still several map
pixels tall after shrinking. It is DB's probability branch only: no threshold branch, which DB uses
as a training aid and inference never reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ocrbatch.trainer.engines.builtin.model import ConvBN


@dataclass(frozen=True)
class DetModelConfig:
    channels: tuple[int, ...] = (16, 24, 32, 64, 96)  # the stages at 1/2 .. 1/32
    neck: int = 24  # width of the top-down path

    def to_json(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}

    @classmethod
    def from_json(cls, data: dict) -> "DetModelConfig":
        return cls(**{**data, "channels": tuple(data["channels"])})


class TextDetector(nn.Layer):
    def __init__(self, config: DetModelConfig):
        super().__init__()
        c = config.channels
        stages, cin = [], 3
        for i, cout in enumerate(c):
            layers = [ConvBN(cin, cout, 3, stride=2)]
            if i >= 1:  # one more 3x3 at each stage below 1/2: receptive field and depth for little cost
                layers.append(ConvBN(cout, cout, 3, dilation=2 if i >= 3 else 1, padding=2 if i >= 3 else 1))
            stages.append(nn.Sequential(*layers))
            cin = cout
        self.stages = nn.LayerList(stages)
        # lateral 1x1 projections of the stages at 1/4 .. 1/32 into the neck's width
        self.laterals = nn.LayerList([nn.Conv2D(ch, config.neck, 1) for ch in c[1:]])
        # Upsampling by transposed convolution, not interpolation: paddle's oneDNN executor (stock
        # paddleocr's default on CPU) cannot run an exported interpolate op's scale attribute.
        self.ups = nn.LayerList([_upsample(config.neck) for _ in c[2:]])
        self.fuse = ConvBN(config.neck, config.neck, 3)
        self.skip = nn.Conv2D(c[0], config.neck // 2, 1)  # the 1/2 stage's detail for the head
        self.reduce = nn.Conv2D(config.neck, config.neck // 2, 1)
        self.up_half = _upsample(config.neck // 2)
        self.head = nn.Conv2D(config.neck // 2, 1, 1)

    def forward(self, x):
        """Logits of the probability map, ``[N, 1, H/2, W/2]``."""
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        top = self.laterals[-1](features[-1])
        for up, lateral, feature in zip(self.ups, self.laterals[-2::-1], features[-2:0:-1]):
            top = up(top) + lateral(feature)
        top = self.fuse(top)
        half = self.up_half(self.reduce(top)) + self.skip(features[0])
        return self.head(F.relu(half))


def _upsample(channels: int) -> nn.Layer:
    """x2, each channel on its own (a learned nearest-neighbour upsampling)."""
    return nn.Conv2DTranspose(channels, channels, 2, stride=2, groups=channels)


class InferenceDetector(nn.Layer):
    """What is exported: the probabilities, as ``DBPostProcess`` reads them."""

    def __init__(self, detector: TextDetector):
        super().__init__()
        self.detector = detector

    def forward(self, x):
        return F.sigmoid(self.detector(x))


def build(config: DetModelConfig) -> TextDetector:
    return TextDetector(config)


def count_parameters(model: nn.Layer) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def export_inference_model(detector: TextDetector, export_dir, *, config: dict) -> None:
    """Save the graph and weights (``inference.json`` + ``.pdiparams``) and ``inference.yml``."""
    import yaml

    export_dir.mkdir(parents=True, exist_ok=True)
    model = InferenceDetector(detector)
    model.eval()
    spec = [paddle.static.InputSpec(shape=[None, 3, None, None], dtype="float32", name="x")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), str(export_dir / "inference"))
    (export_dir / "inference.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    if not (export_dir / "inference.pdiparams").exists():
        raise RuntimeError(f"paddle.jit.save did not write inference.pdiparams in {export_dir}")
