"""The held-out split of a folder without a val file: chosen by content, so the same on every upload
whatever the file order; stratified; an explicit val file always wins."""

from __future__ import annotations

import random

import pytest

from dataset_builders import image_bytes, make_dataset
from ocrbatch.datasets import fetch_dataset, publish_dataset, validate_dataset
from ocrbatch.datasets.label_lines import Sample
from ocrbatch.datasets.split import hold_out
from ocrbatch.errors import BadInput
from ocrbatch.storage import LocalStore


def rec_folder(folder, labels, *, order=None, prefix="img"):
    """One PNG per label; train.txt lists them in ``order`` (indexes), no val file."""
    (folder / "imgs").mkdir(parents=True, exist_ok=True)
    lines = []
    for number, label in enumerate(labels):
        rel = f"imgs/{prefix}{number:04d}.png"
        (folder / rel).write_bytes(image_bytes(number))
        lines.append(f"{rel}\t{label}\n")
    order = order if order is not None else range(len(labels))
    (folder / "train.txt").write_text("".join(lines[i] for i in order), encoding="utf-8")
    return folder


def held(report):
    return sorted((s.image, s.label) for s in report.samples["val"])


def contents(report):
    return sorted((report.images[s.image].sha256, s.label) for s in report.samples["val"])


LABELS = [f"{n * 7919 % 100000:,}" for n in range(60)]


def test_same_split_every_time_whatever_the_order_and_the_names(tmp_path):
    first = validate_dataset(rec_folder(tmp_path / "a", LABELS))
    assert first.ok, first.errors
    assert first.counts["val"] == 3 and first.counts["train"] == 57  # 5 % of 60
    assert held(validate_dataset(tmp_path / "a")) == held(first)

    for seed in range(3):
        order = list(range(len(LABELS)))
        random.Random(seed).shuffle(order)
        shuffled = validate_dataset(rec_folder(tmp_path / f"s{seed}", LABELS, order=order))
        assert held(shuffled) == held(first)
    renamed = validate_dataset(rec_folder(tmp_path / "r", LABELS, prefix="renamed-"))
    assert contents(renamed) == contents(first)  # chosen by content, not by name


def test_re_upload_and_reordered_upload_give_the_same_val_file(tmp_path):
    store = LocalStore(tmp_path / "store")
    first = publish_dataset(store, rec_folder(tmp_path / "a", LABELS), name="scores")
    assert first.split["val_images"] == 3 and first.split["fraction"] == 0.05
    assert publish_dataset(store, tmp_path / "a", name="scores").reused  # same version id
    order = list(reversed(range(len(LABELS))))
    second = publish_dataset(store, rec_folder(tmp_path / "b", LABELS, order=order), name="scores")
    val = [fetch_dataset(store, v.ref, tmp_path / f"f{i}").val_labels.read_bytes() for i, v in enumerate((first, second))]
    assert val[0] == val[1] and len(val[0].splitlines()) == 3


def test_fraction_and_at_least_one_image(tmp_path):
    folder = rec_folder(tmp_path / "d", LABELS[:40])
    assert validate_dataset(folder, val_fraction=0.25).counts["val"] == 10
    assert validate_dataset(folder, val_fraction=0.001).counts["val"] == 1
    two = validate_dataset(rec_folder(tmp_path / "two", LABELS[:2]), val_fraction=0.9)
    assert (two.counts["train"], two.counts["val"]) == (1, 1)  # one is always left to train on
    one = validate_dataset(rec_folder(tmp_path / "one", LABELS[:1]))
    assert [str(p) for p in one.errors] == [".: no val file, and 1 image(s): too few to hold any out for val: add images, or a val.txt"]
    for bad in (0, 1, -0.1, 1.5, float("nan")):
        with pytest.raises(BadInput, match="--val-fraction must be between 0 and 1"):
            validate_dataset(folder, val_fraction=bad)


def test_an_explicit_val_file_always_wins(tmp_path):
    folder = make_dataset(tmp_path / "d")
    report = validate_dataset(folder, val_fraction=0.5)
    assert report.split is None and report.counts["val"] == 3
    assert "val.txt: is the val split: --val-fraction ignored (a val file always wins)" in [str(w) for w in report.warnings]


def test_a_rare_look_is_held_out_too(tmp_path):
    # 36 two-digit scores and 4 long ones: a tenth held out takes from both, in proportion.
    labels = [f"{n % 90 + 10}" for n in range(36)] + ["1,234,567", "2,345,678", "3,456,789", "4,567,890"]
    report = validate_dataset(rec_folder(tmp_path / "d", labels), val_fraction=0.1)
    kinds = sorted(len(label) for _image, label in held(report))
    assert kinds == [2, 2, 2, 9] and report.split.strata == 2


def test_identical_images_stay_on_one_side(tmp_path):
    samples = [Sample(f"img{n}.png", "12", n) for n in range(20)]
    content = {f"img{n}.png": f"sha{n % 10}" for n in range(20)}  # each content twice, under two names
    train, val, how = hold_out(samples, "rec", content=content, fraction=0.2)
    assert how.units == 10 and how.val_units == 2 and len(val) == 4
    assert {content[s.image] for s in val}.isdisjoint({content[s.image] for s in train})


def test_grouped_crops_stay_with_their_photo():
    samples = [Sample(f"crop_img/p{n // 3}_crop_{n % 3}.png", str(n), n) for n in range(30)]
    content = {s.image: f"sha-{s.image}" for s in samples}
    groups = {s.image: f"p{s.line // 3}.jpg" for s in samples}
    train, val, how = hold_out(samples, "rec", content=content, groups=groups, fraction=0.2)
    assert how.units == 10 and how.val_units == 2 and len(val) == 6
    assert {groups[s.image] for s in val}.isdisjoint({groups[s.image] for s in train})
    assert [s.line for s in train] == sorted(s.line for s in train)  # train keeps the file's order
