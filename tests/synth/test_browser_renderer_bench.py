"""bench/browser_renderer.py: the scores it asks the browser to draw, and its refusal without a browser."""

import random
import re

from tests.bench_scripts import load_bench_script


def test_the_browser_draws_scores_a_display_would_show():
    score = load_bench_script("browser_renderer").score
    rng = random.Random(1)
    drawn = [score(rng) for _ in range(600)]
    for text in drawn:  # one kind of separator, every three digits from the right, or none
        assert re.fullmatch(r"[1-9]\d{0,2}(,\d{3})*|[1-9]\d{0,2}(\.\d{3})*|[1-9]\d{0,9}", text), text
        assert 1 <= len(re.sub(r"\D", "", text)) <= 10
    assert any("," in t for t in drawn) and any("." in t for t in drawn)
    assert any(len(t) >= 4 and t.isdigit() for t in drawn)


def test_without_chromium_it_says_so_in_one_line_and_fails(monkeypatch, capsys, tmp_path):
    bench = load_bench_script("browser_renderer")
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    monkeypatch.setattr("sys.argv", ["browser_renderer.py", "--model", str(tmp_path)])
    assert bench.main() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "chromium" in err
