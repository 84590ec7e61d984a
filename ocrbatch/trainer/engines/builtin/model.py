"""The recognizer network: a compact CNN that reads a 48- or 32-pixel-high text line into CTC frames.

Input: ``[N, 3, H, W]`` images (H = ``input_height``, 48 or 32) normalised like PaddleOCR's RecResizeImg ((x/255 - 0.5) / 0.5), any
width. Output: ``[N, W/s, num_classes]`` scores, one frame per ``s = width_stride`` pixels of width
(4, or 8 as PaddleOCR's own rec models: half the frames for less compute); class 0 is the CTC
blank. Training reads logits; the exported graph ends in a softmax, which is what PaddleOCR's
``CTCLabelDecode`` expects.

Everything is a 2-D convolution on purpose: the sequence part runs on ``[N, C, 1, T]`` tensors, so
the exported static graph uses only ops that Paddle Inference runs on every backend (a Conv1D in
NLC layout exported fine but crashed at inference).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

INPUT_HEIGHT = 48
WIDTH_STRIDE = 4  # pixels of input width per output frame, unless the config halves the frames
STOCK_MIN_WIDTH = 320  # paddleocr pads every line to at least this (RecResizeImg image_shape [3, 48, 320])


@dataclass(frozen=True)
class ModelConfig:
    num_classes: int  # blank + dictionary characters + space
    channels: tuple[int, ...] = (16, 32, 48, 64)  # the four image stages
    hidden_size: int = 96  # width of the sequence part
    seq_blocks: int = 3  # residual (1 x 5) convolution blocks along the sequence, dilated 1, 2, 4, ...
    dropout: float = 0.1
    width_stride: int = WIDTH_STRIDE  # input pixels per output frame: 4, or 8 (half the frames, cheaper)
    input_height: int = INPUT_HEIGHT  # rows of the input line: 48 (PaddleOCR's), or 32 (half the pixels)

    def to_json(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}

    @classmethod
    def from_json(cls, data: dict) -> "ModelConfig":
        return cls(**{**data, "channels": tuple(data["channels"])})


class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, kernel=3, stride=1, padding=None, groups=1, dilation=1):
        if padding is None:
            padding = (kernel[0] // 2, kernel[1] // 2) if isinstance(kernel, tuple) else kernel // 2
        super().__init__(
            nn.Conv2D(cin, cout, kernel, stride=stride, padding=padding, groups=groups, dilation=dilation,
                      bias_attr=False),
            nn.BatchNorm2D(cout),
            nn.ReLU(),
        )


class SequenceBlock(nn.Layer):
    """Residual context along the text line: dilated depthwise (1 x 5), then pointwise convolution.

    Dilations double from block to block, so a few cheap blocks let every frame see most of a score
    (a separator's kind, say, is easier to tell from its neighbours three digits away).
    """

    def __init__(self, channels: int, dropout: float, dilation: int):
        super().__init__()
        self.context = ConvBN(channels, channels, (1, 5), padding=(0, 2 * dilation), groups=channels,
                              dilation=(1, dilation))
        self.mix = nn.Sequential(
            nn.Conv2D(channels, channels, 1, bias_attr=False), nn.BatchNorm2D(channels), nn.ReLU()
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return x + self.dropout(self.mix(self.context(x)))


class CTCRecognizer(nn.Layer):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c1, c2, c3, c4 = config.channels
        self.features = nn.Sequential(
            ConvBN(3, c1, 3, stride=2),  # 24 x W/2
            ConvBN(c1, c2, 3, stride=2),  # 12 x W/4
            # 6 x W/4 (or W/8): height shrinks; width keeps its frames, or halves them at stride 8
            ConvBN(c2, c3, 3, stride=(2, config.width_stride // WIDTH_STRIDE)),
            ConvBN(c3, c4, 3, stride=(2, 1)),  # 3 x W/4
            # 1 x W/4: the remaining rows (height / 16) are read out
            ConvBN(c4, config.hidden_size, (config.input_height // 16, 1), padding=0),
        )
        self.sequence = nn.Sequential(
            *[SequenceBlock(config.hidden_size, config.dropout, 2**i) for i in range(config.seq_blocks)]
        )
        self.classifier = nn.Conv2D(config.hidden_size, config.num_classes, 1)

    def forward(self, images):
        x = self.sequence(self.features(images))
        logits = self.classifier(x)  # [N, K, 1, T]
        return logits.squeeze(2).transpose([0, 2, 1])  # [N, T, K]


class InferenceModel(nn.Layer):
    """What is exported: the recognizer followed by a softmax over classes."""

    def __init__(self, recognizer: CTCRecognizer):
        super().__init__()
        self.recognizer = recognizer

    def forward(self, images):
        return F.softmax(self.recognizer(images), axis=-1)


def count_parameters(model: nn.Layer) -> int:
    return int(sum(int(p.size) for p in model.parameters()))


def build(config: ModelConfig) -> CTCRecognizer:
    return CTCRecognizer(config)

