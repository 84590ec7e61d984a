"""The paddleocr engine's local CPU default (``cpu_settings``), applied to a generated config when
no GPU trains; ``bench/paddleocr_cpu_speed.py`` measures it and ``bench/README.md`` has the figures.

Batching by width (PaddleOCR's ``ds_width``, a user's choice) needs each train crop's size in the
label file (``write_sized_labels``); the config generation (``contract.generate_config``) writes
that copy beside the dict whenever the final config asks for it, on a CPU or a GPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocrbatch.trainer.engines.paddleocr.contract import TrainingConfig

SIZED_LABELS = "train_sized.txt"  # the train labels with crop sizes, beside the dict
WIDEST_RATIO = (10**4, 1)  # the size written for a crop that cannot be read: batched with the widest


def cpu_settings(config: TrainingConfig, *, cpus: int) -> None:
    """The local CPU default (bench/paddleocr_cpu_speed.py measures it; the README has the figures).

    - One DataLoader worker less than the CPUs: workers decode and augment on the cores the trainer
      computes on, and more of them only take turns.
    - Paddle keeps its one compute thread: few of its CPU kernels run in parallel, and a second
      thread (``--set ocrbatch.cpu_threads=2``, applied by the launcher) measured no faster on 2 cores.
    - PPLCNetV3 trains one kxk branch per layer instead of four: Paddle's CPU depthwise convolution
      (forward and backward) is most of a step, and the branches are summed into one convolution at
      export anyway, so the exported model has the same shape and speed. Pretrained weights' four
      branches are folded into the one when they are loaded (``launcher.fold_branches``).
    - Rec crops stay padded to the full width (320 px). Batching by width (PaddleOCR's ``ds_width``,
      ``--set Train.dataset.ds_width=true``) trains 1.9x faster on score crops but fine-tuned worse
      from full-width weights in the longest comparison (bench/README.md), so it is a choice.
    """
    for section in ("Train", "Eval"):
        workers = config.get(f"{section}.loader.num_workers")
        if isinstance(workers, int) and workers > max(1, cpus - 1):
            config.set(f"{section}.loader.num_workers", max(1, cpus - 1))
    if config.get("Architecture.Backbone.name") == "PPLCNetV3":
        config.set("Architecture.Backbone.conv_kxk_num", 1)


def batches_by_width(config: TrainingConfig) -> bool:
    """PaddleOCR's MultiScaleDataSet with ``ds_width`` sizes each batch to its crops' mean aspect
    ratio, read from ``name<TAB>label<TAB>w<TAB>h`` label lines."""
    return config.get("Train.dataset.name") == "MultiScaleDataSet" and bool(config.get("Train.dataset.ds_width"))


def write_sized_labels(labels: Path, data_dir: Path, out: Path) -> Path:
    """``labels`` with each crop's width and height appended (read from the image's header).

    Blank lines are left out (PaddleOCR's parser would fail on them). A crop that cannot be read
    gets the widest ratio (PaddleOCR then logs it and takes another crop, as without sizes).
    """
    from PIL import Image

    lines = []
    with open(labels, encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            name = line.split("\t", 1)[0]
            if name.startswith("["):  # PaddleOCR's list of alternative files: it reads one of them
                try:
                    name = str(json.loads(name)[0])
                except (ValueError, IndexError, KeyError, TypeError):
                    pass
            try:
                with Image.open(Path(data_dir) / name) as image:
                    width, height = image.size
            except (OSError, ValueError):
                width, height = WIDEST_RATIO
            lines.append(f"{line}\t{width}\t{height}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return out
