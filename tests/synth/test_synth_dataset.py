"""The dataset writer: reproducible bytes, exact splits, valid PaddleOCR label files, safe folders."""

import json
from pathlib import Path

import numpy as np
import pytest

from ocrbatch.errors import BadInput, RunFailed
from ocrbatch.synth import generate_dataset, generator, scenes
from ocrbatch.synth.opencv import cv2
from ocrbatch.synth.scenes import Recipe

NUMERIC = set("0123456789,.")


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read_lines(path: Path) -> list[tuple[str, str]]:
    text = path.read_bytes().decode("utf-8")  # must be UTF-8
    assert text == "" or text.endswith("\n")
    rows = []
    for line in text.splitlines():
        assert line.count("\t") == 1, line
        rows.append(tuple(line.split("\t")))
    return rows


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    a = generate_dataset(tmp_path / "a", count=24, seed=7)
    generate_dataset(tmp_path / "b", count=24, seed=7)
    generate_dataset(tmp_path / "c", count=24, seed=8)
    files_a, files_b, files_c = (folder_bytes(tmp_path / n) for n in "abc")
    assert files_a == files_b
    assert len(files_a) == 24 + 3  # images, train.txt, val.txt, synth.json
    images = [k for k in files_a if k.startswith("images/")]
    assert sum(files_a[k] != files_c.get(k) for k in images) >= 20
    assert a["images_per_second"] > 0


def test_det_frames_are_reproducible_too(tmp_path):
    generate_dataset(tmp_path / "a", count=4, seed=7, task="det")
    generate_dataset(tmp_path / "b", count=4, seed=7, task="det")
    generate_dataset(tmp_path / "c", count=4, seed=9, task="det")
    assert folder_bytes(tmp_path / "a") == folder_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "train.txt").read_bytes() != (tmp_path / "c" / "train.txt").read_bytes()


def test_parallel_workers_write_the_same_bytes(tmp_path, monkeypatch):
    generate_dataset(tmp_path / "one", count=30, seed=3, task="rec", workers=1)
    monkeypatch.setitem(generator.PARALLEL_THRESHOLD, "rec", 1)
    monkeypatch.setitem(generator.CHUNK_SIZES, "rec", 8)
    summary = generate_dataset(tmp_path / "two", count=30, seed=3, task="rec", workers=2)
    assert summary["workers"] == 2
    assert folder_bytes(tmp_path / "one") == folder_bytes(tmp_path / "two")


def test_workers_do_not_fork_a_process_that_loaded_paddle(tmp_path, monkeypatch):
    """A fork copies only the calling thread: a lock one of Paddle's thread pools held (after training
    in the same process) would stay locked in the worker, which then hangs."""
    import sys
    import types

    generate_dataset(tmp_path / "one", count=30, seed=3, task="rec", workers=1)
    monkeypatch.delitem(sys.modules, "paddle", raising=False)  # an earlier test of the suite may have loaded it
    assert generator.start_method() == "fork"
    monkeypatch.setitem(sys.modules, "paddle", types.ModuleType("paddle"))
    assert generator.start_method() == "forkserver"
    monkeypatch.setitem(generator.PARALLEL_THRESHOLD, "rec", 1)
    monkeypatch.setitem(generator.CHUNK_SIZES, "rec", 8)
    summary = generate_dataset(tmp_path / "two", count=30, seed=3, task="rec", workers=2)
    assert summary["workers"] == 2
    assert folder_bytes(tmp_path / "one") == folder_bytes(tmp_path / "two")


def test_a_worker_that_dies_fails_the_run_instead_of_hanging(tmp_path, monkeypatch):
    # A worker is killed from outside, as the kernel's OOM killer would, with the workers started the
    # way the generator starts them. (Forcing fork here once hung CI: forking a process whose other
    # threads hold a lock leaves the child waiting on it forever, the very thing start_method avoids.)
    # The kill waits until every chunk is submitted: a forkserver or spawn executor starts its workers
    # one per submit, and a worker that dies while the next is starting can leave that one outside
    # CPython's clean-up of a broken pool, which then waits on it forever (seen once, 2026-11-30).
    import concurrent.futures
    import multiprocessing
    import os
    import signal
    import threading

    monkeypatch.setitem(generator.PARALLEL_THRESHOLD, "rec", 1)
    monkeypatch.setitem(generator.CHUNK_SIZES, "rec", 8)
    submitted, stop, killed = threading.Event(), threading.Event(), []
    map_all = concurrent.futures.ProcessPoolExecutor.map

    def map_then_signal(self, *args, **kwargs):
        results = map_all(self, *args, **kwargs)  # submits every chunk before it returns
        submitted.set()
        return results

    monkeypatch.setattr(concurrent.futures.ProcessPoolExecutor, "map", map_then_signal)

    def kill_the_first_worker():
        while not stop.is_set() and not submitted.wait(0.01):
            pass
        for child in multiprocessing.active_children():
            if not stop.is_set():
                os.kill(child.pid, signal.SIGKILL)
                killed.append(child.pid)
            break

    killer = threading.Thread(target=kill_the_first_worker)
    killer.start()
    try:
        with pytest.raises(RunFailed, match="worker process ended unexpectedly"):
            generate_dataset(tmp_path / "d", count=3000, seed=3, task="rec", workers=2)
    finally:
        stop.set()
        killer.join()
    assert killed
    assert not (tmp_path / "d" / "train.txt").exists()


@pytest.mark.parametrize("count,fraction,expected_val", [(50, 0.2, 10), (10, 0.1, 1), (7, 0.0, 0), (3, 0.01, 1), (1, 0.5, 0)])
def test_split_is_exact(tmp_path, count, fraction, expected_val):
    summary = generate_dataset(tmp_path / "d", count=count, val_fraction=fraction, styles=["seg7"])
    train, val = read_lines(tmp_path / "d" / "train.txt"), read_lines(tmp_path / "d" / "val.txt")
    assert (len(train), len(val)) == (count - expected_val, expected_val)
    assert summary["splits"] == {"train": count - expected_val, "val": expected_val}
    assert len({p for p, _ in train} | {p for p, _ in val}) == count


def test_rec_label_files_are_valid_paddleocr(tmp_path):
    summary = generate_dataset(tmp_path, count=40, seed=1, height=48)
    chars = set()
    for split in ("train", "val"):
        for path, label in read_lines(tmp_path / f"{split}.txt"):
            assert path.startswith("images/") and path.endswith(".jpg")
            image = cv2.imread(str(tmp_path / path))
            assert image is not None and image.shape[0] == 48 and 24 <= image.shape[1] <= 320
            assert label and label == label.strip() and "  " not in label and len(label) <= 25
            chars |= set(label)
    assert "".join(sorted(chars)) == summary["characters"]
    assert sum(s["train"] + s["val"] for s in summary["per_style"].values()) == 40
    assert json.loads((tmp_path / "synth.json").read_text())["complete"] is True


def test_seg7_style_gives_numeric_score_crops(tmp_path):
    summary = generate_dataset(tmp_path, count=60, seed=2, styles=["seg7"])
    labels = [label for split in ("train", "val") for _, label in read_lines(tmp_path / f"{split}.txt")]
    assert set("".join(labels)) <= NUMERIC
    assert any("," in label for label in labels)
    assert set(summary["per_style"]) == {"seg7"}


def test_scores_preset_is_numeric_in_every_style(tmp_path):
    summary = generate_dataset(tmp_path / "rec", count=60, seed=4, styles=["scores"])
    assert set(summary["characters"]) <= NUMERIC and summary["numeric_only"]
    assert all(s["train"] + s["val"] > 0 for s in summary["per_style"].values())
    det = generate_dataset(tmp_path / "det", count=12, seed=4, styles="scores", task="det")
    assert set(det["characters"]) <= NUMERIC


def test_det_labels_are_quads_inside_the_image(tmp_path):
    generate_dataset(tmp_path, count=12, seed=5, task="det", val_fraction=0.25)
    for split in ("train", "val"):
        for path, column in read_lines(tmp_path / f"{split}.txt"):
            image = cv2.imread(str(tmp_path / path))
            h, w = image.shape[:2]
            boxes = json.loads(column)
            assert boxes
            for box in boxes:
                assert box["transcription"]
                points = np.array(box["points"])
                assert points.shape == (4, 2) and points.dtype.kind == "i"
                assert (points >= 0).all() and (points[:, 0] < w).all() and (points[:, 1] < h).all()
                # clockwise from top-left, and a real area
                x, y = points[:, 0], points[:, 1]
                assert 0.5 * (x @ np.roll(y, -1) - y @ np.roll(x, -1)) > 20


@pytest.mark.parametrize("style", scenes.STYLES)
@pytest.mark.parametrize("numeric", [False, True])
def test_det_boxes_cover_exactly_the_drawn_text(style, numeric):
    """In drawing space every lit pixel lies in a box, and every box holds lit pixels."""
    for i in range(6):
        rng = np.random.default_rng([11, i])
        frame = scenes.dmd_frame if style == "dmd" else scenes.segment_frame
        panel, _, _ = frame(Recipe(style, numeric), rng)
        lit = panel.maps[:, :, 0] > 0.05
        covered = np.zeros_like(lit)
        for box in panel.boxes:
            (x0, y0), (x1, y1) = box.quad[0], box.quad[2]
            region = lit[int(y0) : int(np.ceil(y1)) + 1, int(x0) : int(np.ceil(x1)) + 1]
            assert region.any(), box.text
            covered[max(int(y0) - 1, 0) : int(np.ceil(y1)) + 2, max(int(x0) - 1, 0) : int(np.ceil(x1)) + 2] = True
            if numeric:
                assert set(box.text) <= NUMERIC
        assert not (lit & ~covered).any()


def test_rec_crop_shows_its_text_centred():
    """Undistorted geometry: the lit text sits inside the crop, away from its edges."""
    for i in range(20):
        drawing = scenes.rec_drawing(Recipe(scenes.STYLES[i % 4]), np.random.default_rng([9, i]))
        (box,) = drawing.boxes
        lit = drawing.maps[:, :, 0] > 0.05
        ys, xs = np.nonzero(lit)
        (x0, y0), (x1, y1) = box.quad[0], box.quad[2]
        assert xs.min() >= x0 - 1 and xs.max() <= x1 + 1 and ys.min() >= y0 - 1 and ys.max() <= y1 + 1


def test_refuses_foreign_folder_unless_forced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BadInput, match="not empty"):
        generate_dataset(tmp_path, count=2)
    generate_dataset(tmp_path, count=2, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_rerun_replaces_a_previous_synth_output(tmp_path):
    generate_dataset(tmp_path, count=12, seed=1)
    generate_dataset(tmp_path, count=3, seed=1, task="det")
    assert len(list((tmp_path / "images").iterdir())) == 3


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"count": 0}, "count"),
        ({"count": 5, "task": "cls"}, "task"),
        ({"count": 5, "val_fraction": 1.0}, "val_fraction"),
        ({"count": 5, "styles": ["seg7", "vfd"]}, "unknown style 'vfd'"),
        ({"count": 5, "styles": ["scores", "seg7"]}, "preset"),
        ({"count": 5, "styles": []}, "at least one"),
        ({"count": 5, "height": 8}, "height"),
        ({"count": 5, "workers": 0}, "workers"),
        ({"count": 5, "seed": -1}, "seed"),
    ],
)
def test_bad_arguments_are_bad_input(tmp_path, kwargs, message):
    with pytest.raises(BadInput, match=message):
        generate_dataset(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("photo", [False, True])
def test_rec_crop_never_cuts_a_character(photo):
    """Through the crop's perspective, the text box stays inside the output for every style."""
    for i in range(400):
        rng = np.random.default_rng([12, i])
        drawing = scenes.rec_drawing(Recipe(scenes.STYLES[i % 4]), rng)
        (box,) = drawing.boxes
        src = scenes.crop_quad(box, drawing.glyph_px, rng, photo)
        corners = scenes.camera.project(box.quad, src, scenes.camera.quad_from_box(0, 0, 1, 1))
        x, y = corners[:, 0], corners[:, 1]
        assert (x >= -0.001).all() and (x <= 1.001).all(), (i, box.text)
        # tight crops may shave up to 3% of a glyph's height, by design
        assert (y >= -0.04).all() and (y <= 1.04).all(), (i, box.text)
