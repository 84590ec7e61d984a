"""Glyph data and rasterisers: what a character lights is what gets drawn (no augmentation)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocrbatch.synth import dotmatrix, segments, texts
from ocrbatch.synth.segments import Cell, SegmentFont

FONT7 = SegmentFont("seg7", width=0.55, thickness=0.13, gap=0.02, slant=0.1, spacing=0.3)
PX = 60


def segment_centre_values(font: SegmentFont, cell: Cell) -> dict[str, float]:
    """Lit value at the centre of every segment of one rendered cell."""
    line = segments.render_line([cell], font, PX)
    values = {}
    for name, poly in segments.segment_polygons(font).items():
        cx, cy = poly.mean(axis=0)
        x = (cx + font.slant * (1 - cy)) * PX + line.origin[0]
        y = cy * PX + line.origin[1]
        values[name] = float(line.lit[int(round(y)), int(round(x))])
    return values


def lit_segments(font: SegmentFont, cell: Cell) -> set[str]:
    return {name for name, value in segment_centre_values(font, cell).items() if value > 0.5}


def test_eight_lights_all_seven_segments():
    assert lit_segments(FONT7, Cell("8")) == set("abcdefg")


def test_one_lights_only_b_and_c():
    values = segment_centre_values(FONT7, Cell("1"))
    assert {n for n, v in values.items() if v > 0.5} == {"b", "c"}
    assert all(v == 0.0 for n, v in values.items() if n not in ("b", "c"))


@pytest.mark.parametrize("digit", "0123456789")
def test_every_digit_lights_its_segment_map(digit):
    assert lit_segments(FONT7, Cell(digit)) == set(segments.SEVEN_SEGMENT_GLYPHS[digit])


@pytest.mark.parametrize("kind", ["seg14", "seg16"])
def test_alphanumeric_glyphs_light_their_segment_maps(kind):
    font = SegmentFont(kind, width=0.64, thickness=0.1, gap=0.015, slant=0.0, spacing=0.3)
    table = segments.glyph_segments(kind)
    for ch in "A0MSW5KX":
        assert lit_segments(font, Cell(ch)) == set(table[ch]), ch


def test_comma_lights_dot_and_tail_period_only_dot():
    assert lit_segments(FONT7, Cell("1", period=True, comma=True)) == {"b", "c", "dp", "comma"}
    assert lit_segments(FONT7, Cell("1", period=True)) == {"b", "c", "dp"}


def test_unlit_structure_is_drawn_as_ghost():
    line = segments.render_line([Cell(" ")], FONT7, PX, separator_positions=[False])
    assert line.lit.max() == 0.0
    assert line.ghost.max() == pytest.approx(1.0, abs=0.01)


def test_cells_carry_separators_and_labels_round_trip():
    cells = segments.cells_from_text("1,234,560")
    assert [c.char for c in cells] == list("1234560")
    assert [i for i, c in enumerate(cells) if c.comma] == [0, 3]
    assert segments.text_from_cells(cells) == "1,234,560"
    assert segments.text_from_cells(segments.cells_from_text("  BALL   3 ")) == "BALL 3"
    assert segments.text_from_cells(segments.cells_from_text("1.234")) == "1.234"


def test_line_box_surrounds_every_lit_pixel():
    cells = segments.cells_from_text("98,760")
    line = segments.render_line(cells, FONT7, 40, margin=(20, 10))
    x0, y0, x1, y1 = line.box(0, len(cells) - 1, cells)
    ys, xs = np.nonzero(line.lit > 0.05)
    assert xs.min() >= x0 - 1 and xs.max() <= x1 + 1
    assert ys.min() >= y0 - 1 and ys.max() <= y1 + 1


def test_every_message_and_score_character_has_a_glyph():
    rng = np.random.default_rng(0)
    alnum = set(segments.charset("seg14")) & set(segments.charset("seg16")) & set(dotmatrix.charset())
    for _ in range(300):
        assert set(texts.message_text(rng, max_length=20)) <= alnum
        assert set(texts.score_text(rng, texts.pick_separator(rng))) <= set(segments.charset("seg7"))


def test_scores_use_thousands_separators():
    assert texts.format_score(1234560, ",") == "1,234,560"
    assert texts.format_score(1234560, ".") == "1.234.560"
    assert texts.format_score(1234560, "") == "1234560"
    assert texts.format_score(999, ",") == "999"


def test_dot_font_glyphs_are_rectangular_seven_rows():
    for ch, rows in dotmatrix.FONT_5X7.items():
        assert len(rows) == dotmatrix.GLYPH_HEIGHT, ch
        assert len({len(r) for r in rows}) == 1, ch


def test_dot_text_lights_the_font_bitmap():
    grid = dotmatrix.text_dots("1")
    expected = np.array([[c == "#" for c in row] for row in dotmatrix.FONT_5X7["1"]])
    assert (grid == expected).all()
    big = dotmatrix.text_dots("10", scale=2)
    assert big.shape == (14, (5 + 1 + 5) * 2)


def test_dots_render_round_dots_at_pitch():
    levels = np.zeros((3, 4), np.float32)
    levels[1, 2] = 1.0
    render = dotmatrix.render_dots(levels, 6)
    assert render.lit.shape == (18, 24)
    ys, xs = np.nonzero(render.lit > 0.5)
    assert 6 <= ys.min() and ys.max() < 12 and 12 <= xs.min() and xs.max() < 18
    assert render.lit[6, 12] < 0.5  # dots are round: the cell corner stays dark
    assert render.ghost.sum() > render.lit.sum() * 11


def test_missing_opencv_is_one_clear_error(monkeypatch):
    import sys

    from ocrbatch.errors import OcrbatchError
    from ocrbatch.synth import opencv

    monkeypatch.setitem(sys.modules, "cv2", None)  # makes `import cv2` raise ImportError
    with pytest.raises(OcrbatchError, match="pip install opencv-python-headless"):
        opencv.load_cv2()


@given(st.integers(min_value=0, max_value=10**10 - 1), st.sampled_from([",", ".", ""]))
def test_any_score_label_round_trips_through_display_cells(value, separator):
    label = texts.format_score(value, separator)
    cells = segments.cells_from_text(label)
    assert len(cells) == len(str(value))  # separators never take a position of their own
    assert segments.text_from_cells(cells) == label


def test_weighted_pick_follows_the_weights():
    rng = np.random.default_rng(0)
    picks = [texts.pick_weighted(rng, ("never", "often", "rarely"), (0.0, 3.0, 4.0)) for _ in range(4000)]
    assert "never" not in picks  # zero weight
    assert 0.7 < picks.count("often") / len(picks) < 0.8


def test_wide_glow_blurred_at_half_resolution_matches_a_full_blur():
    from ocrbatch.synth import looks
    from ocrbatch.synth.opencv import cv2

    line = segments.render_line(segments.cells_from_text("8,765"), FONT7, 36, margin=(20, 20))
    look = looks.emissive_look(np.random.default_rng(3))
    for text_px in (12.0, 30.0, 45.0, 60.0):  # the fast path starts at sigma 2.5 px
        sigma = max(look.halo_sigma * text_px, 0.5)
        full = cv2.GaussianBlur(line.lit, (0, 0), sigma)
        assert np.abs(looks.halo_map(line.lit, look, text_px) - full).max() < 0.03
