"""What a run's page shows beyond the numbers, worked out where the images are (in the trainer):
the held-out evaluation by group with its worst mistakes and the character confusions behind them,
detection frames with their boxes, and a summary of the dataset with sample images.

Images travel inside the JSON as small JPEG data: URIs, so the page built from it is one file.

Groups: the display look when the dataset says it (images in several folders: the folder; crops named
by ``ocrbatch synth``: their look, photo-like crops as "photo"), and the label length always.
"""

from __future__ import annotations

import base64
import io
import json
import random
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Sequence

from ocrbatch.trainer.evaluation import edit_distance, text_metrics

WORST = 24  # mistakes kept with their crops
CONFUSIONS = 20
SAMPLES = 12  # sample images of the training split
THUMB_HEIGHT = 48  # what a rec model reads
THUMB_MAX_WIDTH = 360
FRAME_WIDTH = 480
DET_FRAMES = 6  # held-out detection frames drawn with their boxes
LENGTH_GROUPS = 10  # label lengths shown one by one up to this many, else as ranges


# --- images ----------------------------------------------------------------------------------------


def image_uri(image, *, quality: int = 85) -> str:
    """A PIL image as a JPEG data: URI."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail_uri(path: Path, *, height: int = THUMB_HEIGHT, max_width: int = THUMB_MAX_WIDTH) -> str | None:
    """A crop scaled to ``height`` (at most ``max_width`` wide) as a data: URI; None when unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            scale = min(height / image.height, max_width / image.width)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            return image_uri(image.convert("RGB").resize(size, Image.Resampling.LANCZOS))
    except Exception:  # noqa: BLE001 - one image the page cannot show is no reason to lose the page
        return None


def frame_uri(path: Path, labelled: Sequence, predicted: Sequence = (), *, width: int = FRAME_WIDTH) -> str | None:
    """A detection frame with its labelled boxes (blue) and predicted boxes (orange) drawn on it."""
    from PIL import Image, ImageDraw

    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
    except Exception:  # noqa: BLE001 - as in thumbnail_uri
        return None
    scale = min(1.0, width / image.width)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    draw = ImageDraw.Draw(image)
    for boxes, colour in ((labelled, (40, 120, 255)), (predicted, (255, 140, 0))):
        for box in boxes:
            points = [(float(x) * scale, float(y) * scale) for x, y in box]
            if len(points) >= 3:
                draw.polygon(points, outline=colour, width=2)
    return image_uri(image)


# --- groups ----------------------------------------------------------------------------------------


def looks_of(paths: Sequence[str]) -> list[str] | None:
    """Each image's look when the dataset says it (see the module docstring), else None."""
    folders = [str(PurePosixPath(p).parent) for p in paths]
    if len(set(folders)) > 1:
        return folders
    try:
        from ocrbatch.synth import STYLES
        from ocrbatch.synth.generator import look_of
    except ImportError:  # the generator needs OpenCV; without it, no generated data either
        return None
    looks = []
    for path in paths:
        try:
            style, photo = look_of(path)
        except IndexError:
            return None
        if style not in STYLES:
            return None
        looks.append("photo" if photo else style)
    return looks if len(set(looks)) > 1 else None


def length_groups(lengths: Sequence[int]) -> list[str]:
    """Label lengths as group names: each length, or equal ranges when there are many."""
    if not lengths:
        return []
    low, high = min(lengths), max(lengths)
    if high - low < LENGTH_GROUPS:
        return [str(n) for n in lengths]
    width = -(-(high - low + 1) // LENGTH_GROUPS)
    names = []
    for n in lengths:
        start = low + (n - low) // width * width
        names.append(f"{start}-{start + width - 1}")
    return names


def by_group(names: Sequence[str], predictions: Sequence[str], truths: Sequence[str]) -> list[dict]:
    """Exact match and edit distance per group, groups in a natural order (numbers as numbers)."""
    members: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        members.setdefault(name, []).append(index)

    def order(name: str):
        head = name.split("-")[0]
        return (0, int(head), name) if head.isdigit() else (1, 0, name)

    rows = []
    for name in sorted(members, key=order):
        chosen = members[name]
        metrics = text_metrics([predictions[i] for i in chosen], [truths[i] for i in chosen])
        rows.append({"group": name, "samples": len(chosen), **{k: round(v, 5) for k, v in metrics.items()}})
    return rows


# --- mistakes --------------------------------------------------------------------------------------


def edit_operations(truth: str, prediction: str) -> list[tuple[str, str]]:
    """The character edits that turn ``truth`` into ``prediction``: (truth char, predicted char) pairs,
    "" for a character missed (deleted) or added (inserted)."""
    rows, cols = len(truth) + 1, len(prediction) + 1
    cost = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        cost[i][0] = i
    for j in range(cols):
        cost[0][j] = j
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i][j] = min(cost[i - 1][j] + 1, cost[i][j - 1] + 1,
                             cost[i - 1][j - 1] + (truth[i - 1] != prediction[j - 1]))
    edits = []
    i, j = len(truth), len(prediction)
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (truth[i - 1] != prediction[j - 1]):
            if truth[i - 1] != prediction[j - 1]:
                edits.append((truth[i - 1], prediction[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            edits.append((truth[i - 1], ""))
            i -= 1
        else:
            edits.append(("", prediction[j - 1]))
            j -= 1
    return edits[::-1]


def examine_recognition(paths: Sequence[str], truths: Sequence[str], predictions: Sequence[str],
                        scores: Sequence[float], root: Path) -> dict:
    """The held-out evaluation of a recognizer: overall, by group, worst mistakes, confusions."""
    overall = text_metrics(predictions, truths)
    groups = {"label length": by_group(length_groups([len(t) for t in truths]), predictions, truths)}
    looks = looks_of(paths)
    if looks:
        groups = {"look": by_group(looks, predictions, truths), **groups}
    wrong = [i for i, (p, t) in enumerate(zip(predictions, truths)) if p != t]
    # Worst first: the most of the text wrong, and among those the most confidently wrong.
    wrong.sort(key=lambda i: (-edit_distance(predictions[i], truths[i]) / max(len(predictions[i]), len(truths[i]), 1),
                              -scores[i], paths[i]))
    mistakes = []
    for i in wrong[:WORST]:
        mistakes.append({"path": paths[i], "image": thumbnail_uri(root / paths[i]), "truth": truths[i],
                         "prediction": predictions[i], "score": round(float(scores[i]), 4),
                         "edit_distance": edit_distance(predictions[i], truths[i])})
    confusions = Counter(edit for i in wrong for edit in edit_operations(truths[i], predictions[i]))
    return {
        "task": "rec",
        "samples": len(truths),
        "mistakes_total": len(wrong),
        "overall": {k: round(v, 5) for k, v in overall.items()},
        "groups": groups,
        "mistakes": mistakes,
        "confusions": [{"truth": t, "prediction": p, "count": n} for (t, p), n in confusions.most_common(CONFUSIONS)],
    }


# --- the dataset -----------------------------------------------------------------------------------


def read_pairs(label_file: Path | None) -> list[tuple[str, str]]:
    """(relative image path, label) of a PaddleOCR label file; none when it does not exist."""
    if not label_file or not Path(label_file).is_file():
        return []
    pairs = []
    for line in Path(label_file).read_text(encoding="utf-8").splitlines():
        path, sep, label = line.partition("\t")
        if sep and path and label:
            pairs.append((path, label))
    return pairs


def det_boxes(label: str) -> list[dict]:
    try:
        boxes = json.loads(label)
    except ValueError:
        return []
    return [b for b in boxes if isinstance(b, dict)] if isinstance(boxes, list) else []


def dataset_summary(dataset, *, seed: int = 0) -> dict:
    """Counts per split, the character histogram, label lengths and sample images of ``dataset`` (a
    LocalDataset)."""
    splits = {"train": read_pairs(dataset.train_labels), "val": read_pairs(dataset.val_labels)}
    det = dataset.task == "det"
    texts = []
    for pairs in splits.values():
        for _, label in pairs:
            if det:
                texts.extend(str(box.get("transcription", "")) for box in det_boxes(label))
            else:
                texts.append(label)
    chosen = random.Random(seed).sample(splits["train"], min(SAMPLES, len(splits["train"])))
    samples = []
    for path, label in chosen:
        if det:
            boxes = det_boxes(label)
            uri = frame_uri(dataset.root / path, [b.get("points") or [] for b in boxes], width=320)
            label = " | ".join(b.get("transcription", "") for b in boxes)
        else:
            uri = thumbnail_uri(dataset.root / path)
        samples.append({"path": path, "image": uri, "label": label})
    counts = {name: len(pairs) for name, pairs in splits.items()}
    if det:
        counts["boxes"] = len(texts)
    return {
        "task": dataset.task,
        "counts": counts,
        "characters": dict(Counter("".join(texts)).most_common()),
        "label_lengths": dict(sorted(Counter(len(t) for t in texts).items())),
        "samples": samples,
    }
