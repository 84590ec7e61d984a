"""The dataset writer: N samples -> a PaddleOCR dataset folder, in parallel, byte-for-byte reproducible.

Layout written (paths in label files are relative to the folder)::

    images/000000_seg7.jpg ...
    train.txt, val.txt      rec: ``images/x.jpg<TAB>label``
                            det: ``images/x.jpg<TAB>[{"transcription": ..., "points": [[x, y] x 4]}]``
    synth.json              what generated the folder (written first, so a rerun recognises it)

Sample i draws from its own generator seeded by (seed, i), so any worker can make any sample and
the result never depends on the number of workers. The label files are written last: an interrupted
run leaves no label file to train on.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ocrbatch.errors import BadInput, RunFailed
from ocrbatch.tasks import TASKS
from ocrbatch.synth import camera, scenes
from ocrbatch.synth.opencv import cv2
from ocrbatch.synth.scenes import STYLES, Recipe

PRESETS = {"all": (STYLES, False), "scores": (STYLES, True)}
MARKER = "synth.json"
GENERATOR_NAME = "ocrbatch synth"
FORMAT_VERSION = 2  # the layout of what is written (label files, synth.json)
# What is drawn: bumped whenever the same seed draws other crops, so that no cached data folder (the
# demo's, a bench --workdir) is taken for the current generator's. Recorded in synth.json.
DATA_VERSION = 13
# Below these counts, starting worker processes (~0.5 s each) costs more than it saves.
PARALLEL_THRESHOLD = {"rec": 400, "det": 24}
CHUNK_SIZES = {"rec": 256, "det": 16}  # samples per task handed to a worker

Progress = Callable[[int, int], None]


def resolve_styles(styles: Sequence[str] | str | None) -> tuple[list[str], bool]:
    """Style names (or one preset) -> (styles, numeric_only). Raises BadInput on unknown names."""
    if styles is None:
        return list(STYLES), False
    names = [s.strip() for s in (styles.split(",") if isinstance(styles, str) else styles) if s and s.strip()]
    if not names:
        raise BadInput(f"styles must name at least one of {', '.join(STYLES)} (or a preset: {', '.join(PRESETS)})")
    presets = [n for n in names if n in PRESETS]
    if presets:
        if len(names) > 1:
            raise BadInput(f"preset {presets[0]!r} cannot be combined with other styles")
        chosen, numeric = PRESETS[presets[0]]
        return list(chosen), numeric
    unknown = [n for n in names if n not in STYLES]
    if unknown:
        raise BadInput(f"unknown style {unknown[0]!r}: choose from {', '.join(STYLES)} (or a preset: {', '.join(PRESETS)})")
    return list(dict.fromkeys(names)), False


def validation_indices(count: int, val_fraction: float) -> int:
    """How many samples go to val: the rounded fraction, at least one when asked for any."""
    if val_fraction <= 0 or count < 2:
        return 0
    return min(max(1, round(count * val_fraction)), count - 1)


def is_val(index: int, count: int, n_val: int) -> bool:
    """Val samples are spread evenly over the indices, so the split is exact and order-free."""
    return (index + 1) * n_val // count > index * n_val // count


def check_out_dir(out_dir: Path, force: bool) -> bool:
    """Refuse to write into someone's folder; returns whether it holds a previous synth output."""
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"output {out_dir} exists and is not a folder")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return False
    marker = out_dir / MARKER
    if marker.is_file():
        try:
            previous = json.loads(marker.read_text(encoding="utf-8")).get("generator") == GENERATOR_NAME
        except (ValueError, OSError, AttributeError):
            previous = False
        if previous:
            return True
    if not force:
        raise BadInput(f"output folder {out_dir} is not empty and was not made by ocrbatch synth (use --force to write into it)")
    return False


def sample_name(index: int, style: str, count: int, photo: bool = False) -> str:
    """``images/000042_dmd.jpg``; photo-like rec crops end in ``_photo.jpg`` (what benchmarks group by)."""
    return f"images/{index:0{max(6, len(str(count - 1)))}d}_{style}{'_photo' if photo else ''}.jpg"


def look_of(path: str) -> tuple[str, bool]:
    """(style, photo) of a generated image path: the inverse of ``sample_name``."""
    parts = Path(path).stem.split("_")
    return parts[1], parts[-1] == "photo"


def make_sample(index: int, seed: int, task: str, recipes: Sequence[Recipe], height: int) -> tuple[bytes, str, str, str, bool]:
    """(jpeg, style, label column, characters, photo) of sample ``index``: pure function of its arguments."""
    rng = np.random.default_rng([seed, index])
    recipe = recipes[int(rng.integers(len(recipes)))]
    photo = False
    if task == "rec":
        image, label, photo = scenes.render_rec(recipe, rng, height)
        column, chars = label, label
    else:
        while True:
            image, boxes = scenes.render_det(recipe, rng)
            if boxes:
                break
        column = json.dumps([{"transcription": b.text, "points": b.quad.astype(int).tolist()} for b in boxes], ensure_ascii=False)
        chars = "".join(b.text for b in boxes)
    return camera.encode_jpeg(image, scenes.jpeg_quality(rng, photo)), recipe.style, column, chars, photo


def write_chunk(job: tuple) -> list[tuple[int, str, str, str]]:
    """Render and write samples [start, stop); returns (index, style, line, characters) per sample."""
    out_dir, start, stop, seed, task, recipes, height, count = job
    rows, files = [], []
    for index in range(start, stop):
        data, style, column, chars, photo = make_sample(index, seed, task, recipes, height)
        name = sample_name(index, style, count, photo)
        files.append((name, data))
        rows.append((index, style, f"{name}\t{column}", chars))
    # Render the whole chunk, then write it: each loop keeps its own code and data hot in the CPU
    # caches (about 7% less CPU here than alternating one render with one file write).
    for name, data in files:
        write_file(os.path.join(out_dir, name), data)
    return rows


def write_file(path: str, data: bytes) -> None:
    """open, one write, close: no pathlib objects or buffered file per image, at thousands a second."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:  # a regular file takes it all at once; the loop only guards short writes
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would only contend
    _reuse_freed_memory()


def _reuse_freed_memory() -> None:
    """Let glibc keep freed blocks for reuse (holding at most ~64 MiB spare) instead of handing each
    one over 128 KiB back to the kernel: every det frame's multi-megabyte arrays were otherwise
    page-faulted in afresh, which was 40% of a frame's CPU time. Elsewhere than glibc: nothing done.
    A run with one worker renders in the calling process, which keeps the setting afterwards.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 32 << 20)  # the largest glibc accepts; frames' arrays are under 10 MiB
    mallopt(m_trim_threshold, 64 << 20)
    mallopt(m_top_pad, 16 << 20)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def generate_dataset(
    out_dir: Path,
    *,
    count: int,
    seed: int = 0,
    task: str = "rec",
    val_fraction: float = 0.1,
    styles: Sequence[str] | None = None,
    workers: int | None = None,
    height: int = 48,
    renderers: str = "all",
    force: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Write a synthetic pinball display dataset into ``out_dir`` and return its summary.

    ``styles``: any of seg7, seg14, dmd, lcd, or one preset: "all" (default) or "scores" (every
    style, score texts only). seg7 alone is always scores: characters 0-9 plus "," and ".".
    Labels are the lit characters, separators included ("1,234,560"; see ``texts``).
    ``height`` is the rec crop height (width follows the text, at most height*320/48); det frames
    are 512-768 px wide. ``val_fraction`` 0 writes an empty val.txt. An existing non-empty folder
    is refused unless it is a previous synth output (which is replaced) or ``force`` is set (files
    are written beside what is there). ``renderers``: train, heldout or all (default): which
    typefaces, segment and dot shapes and camera effects are drawn (see ``scenes``); a model judged
    on ``heldout`` data should be trained on ``train`` data. ``progress(done, total)`` is called after each chunk.

    Returns the summary: the settings, ``splits`` {train, val}, ``per_style`` {style: {train,
    val}}, ``characters`` (sorted, as one string), ``workers``, ``seconds``, ``images_per_second``.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        raise BadInput(f"count must be a positive integer, got {count!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BadInput(f"seed must be a non-negative integer, got {seed!r}")
    if task not in TASKS:
        raise BadInput(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if not (0 <= val_fraction < 1):
        raise BadInput(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if isinstance(height, bool) or not isinstance(height, int) or not (16 <= height <= 256):
        raise BadInput(f"height must be an integer in [16, 256], got {height!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers <= 0):
        raise BadInput(f"workers must be a positive integer, got {workers!r}")
    if renderers not in scenes.RENDERER_SETS:
        raise BadInput(f"renderers must be one of {', '.join(scenes.RENDERER_SETS)}, got {renderers!r}")
    style_names, numeric = resolve_styles(styles)
    recipes = tuple(Recipe(s, numeric, renderers) for s in style_names)
    out_dir = Path(out_dir)

    previous = check_out_dir(out_dir, force)
    if previous:
        shutil.rmtree(out_dir / "images", ignore_errors=True)
        for name in ("train.txt", "val.txt"):
            (out_dir / name).unlink(missing_ok=True)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    settings = {
        "generator": GENERATOR_NAME,
        "format_version": FORMAT_VERSION,
        "data_version": DATA_VERSION,
        "task": task,
        "count": count,
        "seed": seed,
        "styles": style_names,
        "numeric_only": numeric,
        "renderers": renderers,
        "val_fraction": val_fraction,
        "height": height if task == "rec" else None,
    }
    (out_dir / MARKER).write_text(json.dumps({**settings, "complete": False}, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    chunk = CHUNK_SIZES[task]
    jobs = [
        (str(out_dir), start, min(start + chunk, count), seed, task, recipes, height, count)
        for start in range(0, count, chunk)
    ]
    workers = 1 if count < PARALLEL_THRESHOLD[task] else min(workers or default_workers(), len(jobs))
    n_val = validation_indices(count, val_fraction)
    lines: dict[str, list[str]] = {"train": [], "val": []}
    per_style = {s: {"train": 0, "val": 0} for s in style_names}
    characters: Counter[str] = Counter()
    started = time.perf_counter()
    done = 0
    for rows in _run(jobs, workers):
        for index, style, line, chars in rows:
            split = "val" if is_val(index, count, n_val) else "train"
            lines[split].append(line)
            per_style[style][split] += 1
            characters.update(chars)
        done += len(rows)
        if progress:
            progress(done, count)
    for split, split_lines in lines.items():
        temporary = out_dir / f".{split}.txt.partial"
        temporary.write_text("".join(line + "\n" for line in split_lines), encoding="utf-8")
        temporary.replace(out_dir / f"{split}.txt")
    seconds = time.perf_counter() - started
    summary = {
        **settings,
        "out_dir": str(out_dir),
        "splits": {split: len(split_lines) for split, split_lines in lines.items()},
        "per_style": per_style,
        "characters": "".join(sorted(characters)),
        "label_files": {"train": "train.txt", "val": "val.txt"},
    }
    (out_dir / MARKER).write_text(
        json.dumps({k: v for k, v in summary.items() if k != "out_dir"} | {"complete": True}, indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    return summary | {
        "workers": workers,
        "seconds": round(seconds, 3),
        "images_per_second": round(count / seconds, 1) if seconds > 0 else None,
    }


def _run(jobs: list[tuple], workers: int):
    """Yield each chunk's rows in order, from this process or from a pool of worker processes."""
    if workers <= 1:
        threads = cv2.getNumThreads()
        _init_worker()
        try:
            for job in jobs:
                yield write_chunk(job)
        finally:
            cv2.setNumThreads(threads)
        return
    method = start_method()
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # The server imports this module once; each worker forks from it warm, not from a fresh interpreter.
        context.set_forkserver_preload([__name__])
    try:
        # Not multiprocessing.Pool: it silently restarts a worker that dies, forever, so a worker that
        # cannot start would hang the run; the executor says so instead.
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
            yield from pool.map(write_chunk, jobs)
    except BrokenProcessPool as err:
        raise RunFailed(f"a synth worker process ended unexpectedly ({method} start): {err}") from None


def start_method() -> str:
    """How worker processes start: fork, unless Paddle is loaded in this process (then forkserver).

    fork starts at once and, unlike spawn, does not re-run the caller's script (a script without a
    ``__main__`` guard would otherwise recurse). But a fork copies only the forking thread: a lock
    that one of Paddle's thread pools (OpenMP, its own) held stays locked in the child, which then
    hangs (seen when a test trained a model and a later one generated data in the same process).
    A forkserver is a clean process that never imported Paddle. NumPy's and OpenCV's thread pools
    re-initialise themselves in a forked child; Paddle's do not. spawn only where neither exists.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and "paddle" not in sys.modules:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"
