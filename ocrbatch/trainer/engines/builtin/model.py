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
    # A block after the sequence blocks that shows every frame a summary of the whole line (LineContext)
    line_context: bool = False

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


class LineContext(nn.Layer):
    """Every frame's features mixed with a summary of the whole line, so that one reading holds together.

    A score groups its digits with one separator, but the sequence blocks see a few digits each way, so a
    photo read one group at a time came out as ``4.479,503``: a quarter to a third of the misses of the
    base shipped on 2026-12-02. The summary is the maximum of each channel over the line, because
    stock paddleocr pads every line to 320 px and a maximum does not change with how many padding
    frames there are (a mean or an attention average would). The summary and each frame meet before a
    ReLU, so the line can change how a frame's own evidence is read, not only add a constant. The last
    convolution starts at zero: a block added to a trained network starts as an identity.
    """

    def __init__(self, channels: int):
        super().__init__()
        inner = channels // 2
        self.frame = nn.Conv2D(channels, inner, 1)
        self.line = nn.Conv2D(channels, inner, 1, bias_attr=False)
        zero = paddle.ParamAttr(initializer=nn.initializer.Constant(0.0))
        self.out = nn.Conv2D(inner, channels, 1, weight_attr=zero, bias_attr=zero)

    def forward(self, x):  # [N, C, 1, T]
        # [N, C, 1, 1]; an adaptive pool, because Paddle's CPU backward of x.max(axis=-1) took 28 ms a
        # batch of 32 (a fifth of the whole step), the pool's 1 ms
        summary = F.adaptive_max_pool2d(x, 1)
        return x + self.out(F.relu(self.frame(x) + self.line(summary)))


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
        self.line_context = LineContext(config.hidden_size) if config.line_context else None
        self.classifier = nn.Conv2D(config.hidden_size, config.num_classes, 1)

    def forward(self, images):
        x = self.sequence(self.features(images))
        if self.line_context is not None:
            x = self.line_context(x)
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

