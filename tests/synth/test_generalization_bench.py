"""bench/generalization.py's scoring: per look, exact match and digits with the separators left out."""

from tests.bench_scripts import load_bench_script


def test_a_separator_miss_counts_against_exact_match_but_not_digits():
    per_look = load_bench_script("generalization").per_look
    table = per_look([
        ("images/000001_seg7.jpg", "1,234", "1,234"),          # right
        ("images/000002_seg7_photo.jpg", "5.678", "5,678"),    # separator only
        ("images/000003_dmd.jpg", "90,120", "90,170"),         # a wrong digit
        ("images/000004_lcd.jpg", "3,300", "33,00"),           # separator moved: the digits are right
    ])
    assert table["seg7"] == {"n": 2, "exact": 0.5, "digits": 1.0}
    assert table["photo"] == {"n": 1, "exact": 0.0, "digits": 1.0}
    assert table["dmd"] == {"n": 1, "exact": 0.0, "digits": 0.0}
    assert table["all"] == {"n": 4, "exact": 0.25, "digits": 0.75}


def test_a_workdir_of_another_generator_version_is_drawn_again(tmp_path):
    import json

    from ocrbatch.synth import DATA_VERSION

    generate = load_bench_script("generalization").generate
    settings = {"count": 12, "seed": 3, "styles": ["seg7"], "renderers": "train", "val_fraction": 0.25}
    first = generate(tmp_path / "data", **settings)
    assert first["data_version"] == DATA_VERSION
    marker, labels = tmp_path / "data" / "synth.json", tmp_path / "data" / "train.txt"
    written = labels.stat().st_mtime_ns
    generate(tmp_path / "data", **settings)
    assert labels.stat().st_mtime_ns == written  # same generator: the crops are reused
    stale = {**json.loads(marker.read_text()), "data_version": DATA_VERSION - 1}
    marker.write_text(json.dumps(stale))
    labels.write_text("images/stale.jpg\t0\n")
    generate(tmp_path / "data", **settings)
    assert json.loads(marker.read_text())["data_version"] == DATA_VERSION
    assert "stale.jpg" not in labels.read_text()
