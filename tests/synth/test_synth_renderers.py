"""Renderer variety and the held-out-renderer split: typefaces, pixel fonts, shapes, camera effects."""

import numpy as np
import pytest

from ocrbatch.errors import BadInput, OcrbatchError
from ocrbatch.synth import camera, dotmatrix, generate_dataset, scenes, typefaces
from ocrbatch.synth.generator import look_of, sample_name
from ocrbatch.synth.opencv import cv2
from ocrbatch.synth.scenes import Recipe


def test_train_and_heldout_typefaces_are_disjoint_families():
    train, heldout = typefaces.faces("train"), typefaces.faces("heldout")
    assert len({f.family for f in train}) >= 5 and len({f.family for f in heldout}) >= 3
    assert not {f.family for f in train} & {f.family for f in heldout}
    assert set(typefaces.faces("all")) == set(train) | set(heldout)


def test_a_missing_typeface_family_stops_generation_instead_of_changing_the_data(monkeypatch):
    # Dropping a family quietly would make the same seed draw other crops on another machine.
    families = {**typefaces.FAMILIES, "absent": ("train", "no_such_font_package/files", ("Absent-Regular",))}
    monkeypatch.setattr(typefaces, "FAMILIES", families)
    typefaces.faces.cache_clear()
    try:
        with pytest.raises(OcrbatchError, match="absent typeface is not installed .no_such_font_package."):
            typefaces.faces("train")
        assert typefaces.faces("heldout")  # another renderer set does not need it
    finally:
        typefaces.faces.cache_clear()


def test_segment_and_dot_shapes_differ_between_renderer_sets():
    for kind in ("seg7", "seg14", "seg16"):
        train = {f.shape for f in scenes.font_family(kind, "train")}
        heldout = {f.shape for f in scenes.font_family(kind, "heldout")}
        assert train and heldout and not train & heldout
    assert not set(scenes.DOT_SHAPES["train"]) & set(scenes.DOT_SHAPES["heldout"])


def test_both_renderer_sets_draw_the_other_forms_of_six_seven_and_nine_on_some_displays():
    from ocrbatch.synth.segments import Cell, glyph_masks, glyph_segments

    for kind in ("seg7", "seg14", "seg16"):
        for renderers in ("train", "heldout"):
            drawn = [set(f.variants) for f in scenes.font_family(kind, renderers)]
            for variant in ("tailless", "hooked"):  # some displays of each kind, not all
                assert 0 < sum(variant in v for v in drawn) < len(drawn), (kind, renderers, variant)
        standard, varied = glyph_segments(kind), glyph_segments(kind, ("tailless", "hooked"))
        assert {ch for ch in standard if standard[ch] != varied[ch]} == {"6", "7", "9"}
    assert glyph_segments("seg7", ("tailless", "hooked"))["6"] == tuple("cdefg")
    assert glyph_segments("seg7", ("hooked",))["7"] == tuple("abcf")
    font = scenes.font_family("seg7", "heldout")[0]
    plain = glyph_masks(font.__class__(**{**font.__dict__, "variants": ()}), 40)
    assert any((glyph_masks(font, 40).cell(Cell(d)) != plain.cell(Cell(d))).any() for d in "679")


def test_heldout_dot_matrix_fonts_are_shaded_and_training_fonts_are_not():
    face = typefaces.faces("heldout")[0]
    shaded = typefaces.pixel_text("1,234", face, 12, shades=4)
    assert shaded.dtype == np.float32
    np.testing.assert_allclose(np.round(shaded * 3), shaded * 3, atol=1e-5)  # four levels
    assert ((shaded > 0) & (shaded < 1)).sum() > 5  # anti-aliased edges
    binary = typefaces.pixel_text("1,234", typefaces.faces("train")[0], 12)
    assert binary.dtype == bool
    # No training dot size falls inside a held-out range.
    for low, high in scenes.DMD_DOT_FILLS["heldout"]:
        assert all(top <= low or bottom >= high for bottom, top in scenes.DMD_DOT_FILLS["train"])


def test_every_bar_shape_draws_all_seven_segments_differently():
    from ocrbatch.synth.segments import Cell, SegmentFont, glyph_masks

    eights = {}
    for shape in ("hex", "rect", "round"):
        masks = glyph_masks(SegmentFont("seg7", shape=shape), 40)
        for name in "abcdefg":
            assert (masks.segments[name] > 0.5).sum() > 20, (shape, name)
        eights[shape] = masks.cell(Cell("8")) > 0.5
    assert (eights["rect"] != eights["hex"]).sum() > 10
    assert (eights["round"] != eights["hex"]).sum() > 10


def test_text_mask_box_holds_all_the_ink():
    face = typefaces.faces("train")[0]
    mask, (x0, y0, x1, y1) = typefaces.text_mask("1,234.50", face, 36, tracking=0.1)
    ys, xs = np.nonzero(mask > 0.2)
    assert xs.min() >= x0 - 1 and xs.max() <= x1 + 1 and ys.min() >= y0 - 1 and ys.max() <= y1 + 1
    assert y1 - y0 > 20  # digits about cap height at size 36


@pytest.mark.parametrize("renderers", ["train", "heldout"])
def test_pixel_fonts_draw_ten_different_digits_of_the_asked_height(renderers):
    for face in typefaces.faces(renderers)[:3]:
        grids = [typefaces.pixel_glyph(d, face, 10, 0.5, False) for d in "0123456789"]
        assert all(g.any(axis=1)[:10].sum() >= 8 for g in grids)  # ink spans (nearly) all 10 rows
        assert len({g.tobytes() + bytes(g.shape) for g in grids}) == 10


@pytest.mark.parametrize("shape", dotmatrix.DOT_SHAPES)
def test_dot_shapes_fill_their_pitch_differently(shape):
    sprite = dotmatrix.dot_sprite(9, 0.8, shape=shape)
    assert sprite[4, 4] == 1.0 and sprite[0, 0] < sprite[4, 0] + 1e-6
    corner = {s: dotmatrix.dot_sprite(9, 0.8, shape=s)[1, 1] for s in dotmatrix.DOT_SHAPES}
    assert corner["round"] < corner["rounded"] <= corner["square"]


def test_camera_patterns_and_disc_blur_change_the_picture():
    rng = np.random.default_rng(3)
    image = np.full((48, 160, 3), 0.5, np.float32)
    for effect in (camera.add_scanlines, camera.add_moire):
        out = image.copy()
        effect(out, rng, 0.4)
        assert out.std() > 0.02 and out.max() <= 0.5 + 1e-6
    assert camera._disk_kernel(2.5).sum() == pytest.approx(1.0)


def test_lcd_crops_read_their_label_and_photos_are_named(tmp_path):
    summary = generate_dataset(tmp_path, count=60, seed=4, styles="scores", renderers="heldout", val_fraction=0.0)
    assert summary["renderers"] == "heldout"
    names = [line.split("\t")[0] for line in (tmp_path / "train.txt").read_text().splitlines()]
    looks = [look_of(name) for name in names]
    assert {style for style, _ in looks} == set(scenes.STYLES)
    assert 5 < sum(photo for _, photo in looks) < 40
    assert look_of(sample_name(12, "lcd", 100, photo=True)) == ("lcd", True)


def test_unknown_renderer_set_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="renderers"):
        generate_dataset(tmp_path / "x", count=3, renderers="some")


def test_heldout_recipes_never_draw_training_fonts():
    train_paths = {f.path for f in typefaces.faces("train")}
    seen = set()
    original = typefaces.text_mask

    def spy(text, face, *args, **kwargs):
        seen.add(face.path)
        return original(text, face, *args, **kwargs)

    scenes.typefaces.text_mask = spy
    try:
        for i in range(30):
            scenes.rec_drawing(Recipe("lcd", True, "heldout"), np.random.default_rng([8, i]))
    finally:
        scenes.typefaces.text_mask = original
    assert seen and not seen & train_paths


@pytest.mark.parametrize("renderers", ["train", "heldout"])
def test_dot_matrix_fonts_keep_every_separator_and_tell_comma_from_period(renderers):
    # Thin typefaces at a few rows used to lose the period to the threshold, or draw a comma the
    # same as a period: the label then said what the dots did not show.
    def lowest_row(grid):
        return int(np.flatnonzero((grid > 0).any(axis=1)).max())

    for face in typefaces.faces(renderers):
        for rows in range(8, 17):
            for threshold, shades in ((0.35, 0), (0.6, 0), (0.5, 4)):
                period = typefaces.pixel_glyph(".", face, rows, threshold, False, shades)
                comma = typefaces.pixel_glyph(",", face, rows, threshold, False, shades)
                assert (period > 0).any() and (comma > 0).any(), (face.path, rows, threshold)
                assert lowest_row(comma) > lowest_row(period), (face.path, rows, threshold)


def test_segment_separators_keep_their_ink_on_thin_barred_fonts():
    # Shares of the glyph height squared: thin-barred 14-segment fonts drew a period of 0.010 and a
    # comma of 0.005, which a crop of small text no longer shows.
    from ocrbatch.synth.segment_scenes import REC_GLYPH_PX
    from ocrbatch.synth.segments import glyph_masks

    for kind in ("seg7", "seg14"):
        for font in scenes.font_family(kind, "all"):
            masks = glyph_masks(font, REC_GLYPH_PX)
            assert masks.segments["dp"].sum() >= 0.015 * REC_GLYPH_PX**2, (kind, font)
            assert masks.segments["comma"].sum() >= 0.0075 * REC_GLYPH_PX**2, (kind, font)


def test_resolution_loss_keeps_small_text_legible():
    # A 2x2-pixel dot (a period on text 20 px high) keeps most of its light through the down-sampling.
    image = np.zeros((48, 48, 3), np.float32)
    image[24:26, 24:26] = 1.0
    rng = np.random.default_rng(0)
    small_text = [camera.low_resolution(image, rng, text_px=20.0, low=0.3).max() for _ in range(300)]
    assert min(small_text) > 0.4
    big_text = [camera.low_resolution(image, rng, text_px=200.0, low=0.3).max() for _ in range(300)]
    assert min(big_text) < 0.3  # where the text is large the camera may still lose most resolution


def test_glare_washes_text_out_but_never_away():
    # Dark LCD digits on a light window under strong glare, then a bright exposure (gain 1.4, clipped
    # as the 8-bit conversion clips): uncapped, glare whites out the digits the label keeps.
    window = np.full((48, 160, 3), 0.85, np.float32)
    lit = np.zeros((48, 160), np.float32)
    for x in range(20, 140, 30):
        lit[12:36, x : x + 14] = 1.0
    window[lit > 0.5] = 0.25

    def contrast_after(image):
        grey = np.clip(image.mean(axis=2) * 1.4, 0, 1)
        return float(np.median(grey[lit < 0.05]) - np.median(grey[lit > 0.5]))

    capped, uncapped = [], []
    for seed in range(60):
        for keep, out in ((lit, capped), (lit * 0.4, capped), (None, uncapped)):  # 0.4: dots warped faint
            image = window.copy()
            camera.add_glare(image, np.random.default_rng(seed), strength=0.56, lit=keep, clip=1 / 1.4)
            out.append(contrast_after(image))
    assert min(uncapped) < 0.05  # the failure the cap exists for
    assert min(capped) > 0.15
    dark_display = np.zeros_like(window)
    dark_display[lit > 0.5] = 1.0  # glowing text on black, exposed not to clip, takes the strongest glare
    assert camera.glare_room(dark_display, lit, clip=1.0) > 0.56
    assert camera.glare_room(dark_display, lit, clip=1 / 1.4) < 0.56  # over-exposed, it takes less


def test_the_camera_exposes_for_the_display_not_a_fixed_gain():
    # A drawing that gives off little light (small dots, dim palette) is photographed as bright as a
    # brilliant one: the camera meters, as a phone does. Before, its crops came out dark.
    lit = np.zeros((48, 160), np.float32)
    lit[12:36, 20:140:3] = 1.0  # sparse dots
    exposure = camera.draw_exposure(np.random.default_rng(3))
    outputs = []
    for brightness in (0.35, 0.9):
        image = np.repeat((lit * brightness)[:, :, None], 3, axis=2) + np.float32(0.02)
        outputs.append(np.percentile(camera.expose(image, exposure.metered(image)), 99))
    assert abs(outputs[0] - outputs[1]) < 8 and outputs[0] > 100
    black = np.zeros((48, 160, 3), np.float32)  # nothing to meter: the gain stops at its limit
    assert camera.expose(black + np.float32(0.01), exposure.metered(black)).max() < 30


def test_a_dim_display_is_photographed_no_noisier_than_a_bright_one():
    # Sensor noise is drawn at the photo's level. Drawn before the metered gain, the gain that lifts a
    # dim display multiplied it (up to 4 times): photos of dim displays came out unreadable.
    def high_pass_std(level: float, seed: int) -> float:
        maps = np.zeros((48, 160, 4), np.float32)
        maps[:, :, 1:4] = level  # a flat picture: what is left after a high-pass is noise
        out = scenes.finish(maps, None, np.random.default_rng(seed), 24.0, photo=True).astype(np.float32)
        return float((out - cv2.GaussianBlur(out, (0, 0), 3))[8:-8, 8:-8].std())

    dim = np.mean([high_pass_std(0.25, seed) for seed in range(12)])
    bright = np.mean([high_pass_std(0.9, seed) for seed in range(12)])
    assert dim > 1.0  # the noise is there
    assert dim / bright < 1.5  # before: 3-4 times as strong on the dim display


def test_lcd_outlines_stand_apart_from_the_text_they_surround(monkeypatch):
    # A dark outline around dark text only made it bolder: at 2-3 px it filled the holes of 0, 6, 8
    # and 9, and the label named digits the picture no longer showed.
    from ocrbatch.synth import lcd_scenes
    from ocrbatch.synth.opencv import cv2

    strokes, text_mask = [], typefaces.text_mask

    def recording_text_mask(*args, **kwargs):  # tells which drawings have an outline
        strokes.append(kwargs.get("stroke", 0))
        return text_mask(*args, **kwargs)

    monkeypatch.setattr(typefaces, "text_mask", recording_text_mask)
    outlined = 0
    for seed in range(150):
        strokes.clear()
        drawing = lcd_scenes.lcd_rec_drawing(Recipe("lcd", True, "train"), np.random.default_rng([5, seed]))
        if not any(strokes):
            continue
        outlined += 1
        fill = drawing.maps[:, :, 0]
        luminance = cv2.cvtColor(np.ascontiguousarray(drawing.maps[:, :, 1:4]), cv2.COLOR_BGR2GRAY)
        ring = cv2.dilate((fill > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & (fill < 0.05)
        text, edge = float(np.median(luminance[fill > 0.95])), float(np.median(luminance[ring]))
        assert abs(text - edge) > 0.25, (seed, text, edge)
    assert outlined > 20


def _text_on(background: np.ndarray, text_colour, hidden_from: int | None = None):
    """Six bars of text (a stand-in for digits) on a picture; from column ``hidden_from`` on, drawn in
    the background's own colour. Returns the 8-bit picture and its text map."""
    lit = np.zeros((48, 240), np.float32)
    for x in range(20, 220, 34):
        lit[10:38, x : x + 6] = 1.0
    image = background.copy()
    image[lit > 0.5] = text_colour
    if hidden_from is not None:
        hidden = (lit > 0.5) & (np.arange(240)[None, :] >= hidden_from)
        image[hidden] = background[hidden]
    return image, lit


def test_text_contrast_is_judged_where_it_is_weakest_and_in_colour():
    floor = scenes.MIN_TEXT_CONTRAST["lcd"]
    pink = np.zeros((48, 240, 3), np.uint8) + np.uint8([180, 120, 230])  # BGR
    legible, lit = _text_on(pink, (250, 250, 250))
    assert camera.weakest_contrast(legible, lit, 28.0) > 0.9
    # The last two of six digits gone: over the whole text they would still stand out plenty.
    half_gone, lit = _text_on(pink, (250, 250, 250), hidden_from=150)
    assert camera.weakest_contrast(half_gone, lit, 28.0) < 0.1 * floor
    # Equal lightness, other hue (teal on purple) reads.
    purple = np.zeros((48, 240, 3), np.uint8) + np.uint8([150, 60, 140])
    teal, lit = _text_on(purple, (140, 120, 20))
    grey = cv2.cvtColor(teal, cv2.COLOR_BGR2GRAY)
    assert abs(int(grey[20, 22]) - int(grey[2, 2])) < 15 and camera.weakest_contrast(teal, lit, 28.0) > 0.9
    # So does text of the background's own colour in a dark outline, and light text whose dark outline
    # and light background average out to its own colour.
    outline = cv2.dilate((lit > 0.5).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0  # 3 px
    outlined = purple.copy()
    outlined[outline] = (20, 20, 20)
    outlined[lit > 0.5] = purple[0, 0]
    assert camera.weakest_contrast(outlined, lit, 28.0) > floor
    grey_screen = np.zeros((48, 240, 3), np.uint8) + np.uint8(225)
    averaged = grey_screen.copy()
    averaged[outline] = (25, 25, 25)
    averaged[lit > 0.5] = (125, 125, 125)
    assert camera.weakest_contrast(averaged, lit, 28.0) > 2 * floor
    outlined[outline & (lit < 0.05)] = purple[0, 0]  # the same text without its outline is gone
    assert camera.weakest_contrast(outlined, lit, 28.0) < 0.1 * floor
    assert camera.weakest_contrast(pink, np.zeros((48, 240), np.float32), 28.0) == 0.0  # no text, nothing legible


def test_a_rec_crop_whose_text_vanished_is_drawn_again(monkeypatch):
    recipe = Recipe("lcd", True, "train")
    first, second = (scenes._rec_attempt(recipe, rng, 48) for rng in [np.random.default_rng(4)] * 2)
    verdicts = iter([0.0, 1.0])  # the first attempt fails the check, the second passes
    monkeypatch.setattr(camera, "weakest_contrast", lambda *args: next(verdicts))
    image, label, photo = scenes.render_rec(recipe, np.random.default_rng(4), 48)
    assert label == second[1] and np.array_equal(image, second[0])
    assert first[1] != second[1]
    # Every style has its floor, and a crop that keeps failing is not drawn forever.
    assert set(scenes.MIN_TEXT_CONTRAST) == set(scenes.STYLES)
    monkeypatch.setattr(camera, "weakest_contrast", lambda *args: 0.0)
    assert scenes.render_rec(recipe, np.random.default_rng(4), 48)[1]


def test_training_dot_matrices_vary_dot_brightness_and_heldout_crops_do_not_draw_it():
    from ocrbatch.synth import dmd_scenes

    shading = dmd_scenes.dot_shading(np.random.default_rng(0), (20, 60))
    assert shading.min() >= 0.35 and shading.max() <= 1.0
    levels_per_crop = []
    for seed in range(60):
        drawing = dmd_scenes.dmd_rec_drawing(Recipe("dmd", True, "train"), np.random.default_rng([9, seed]))
        lit = drawing.maps[:, :, 0]
        levels_per_crop.append(np.unique(np.round(lit[lit > 0.5 * lit.max()], 1)).size)
    assert sum(n > 3 for n in levels_per_crop) >= 10  # shaded fills or aged dots: many levels of lit dot
    # A held-out crop draws exactly what it drew before training crops were shaded.
    calls = []
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(dmd_scenes, "dot_shading", lambda *args: calls.append(args) or np.ones(args[1], np.float32))
    try:
        for seed in range(40):
            dmd_scenes.dmd_rec_drawing(Recipe("dmd", True, "heldout"), np.random.default_rng([9, seed]))
    finally:
        monkeypatch.undo()
    assert not calls


def test_a_picture_pixel_is_the_mean_of_the_drawing_it_covers():
    # One lit drawing pixel in every 4x4 block (a dot matrix of tiny dots), shrunk four times: each
    # picture pixel covers one dot, so all read about 1/16. Sampled at points, they read 1/4 (or 0).
    maps = np.zeros((400, 800, 3), np.float32)
    maps[1::4, 1::4] = 1.0
    picture = camera.warp_maps(maps, camera.quad_from_box(0, 0, 800, 400), camera.quad_from_box(0, 0, 200, 100),
                               (200, 100))
    inner = picture[2:-2, 2:-2, 0]
    assert abs(float(inner.mean()) - 1 / 16) < 0.01
    assert float(inner.std()) < 0.02
    # At about the drawing's own scale the warp is untouched: a lit pixel stays lit.
    same = camera.warp_maps(maps, camera.quad_from_box(0, 0, 800, 400), camera.quad_from_box(0, 0, 800, 400),
                            (800, 400))
    np.testing.assert_allclose(same, maps, atol=1e-5)


def test_training_dot_matrices_draw_tiny_dots_outside_the_heldout_sizes(monkeypatch):
    from ocrbatch.synth import dmd_scenes

    drawn = []
    render = dotmatrix.render_dots
    monkeypatch.setattr(dotmatrix, "render_dots",
                        lambda levels, pitch, **kw: drawn.append((kw["fill"], pitch, kw["shape"])) or render(levels, pitch, **kw))
    for seed in range(90):
        dmd_scenes.dmd_rec_drawing(Recipe("dmd", True, "train"), np.random.default_rng([4, seed]))
    (heldout_low, _), = dmd_scenes.DOT_FILLS["heldout"]
    tiny = [(fill, pitch, shape) for fill, pitch, shape in drawn if fill < heldout_low]
    assert 15 <= len(tiny) <= 50  # about a third
    for fill, pitch, shape in tiny:
        assert dotmatrix.dot_sprite(pitch, round(fill, 2), shape=shape).max() > 0.9  # every tiny dot shows


@pytest.mark.parametrize("style", scenes.STYLES)
def test_a_drawing_with_room_has_that_much_more_on_each_side(style):
    recipe = Recipe(style, True, "train")
    plain = scenes.rec_drawing(recipe, np.random.default_rng([3, 1]))
    roomy = scenes.rec_drawing(recipe, np.random.default_rng([3, 1]), room=3.0)
    assert roomy.boxes[0].text == plain.boxes[0].text and roomy.glyph_px == plain.glyph_px
    grown = roomy.maps.shape[1] - plain.maps.shape[1]
    assert abs(grown - 6 * plain.glyph_px) <= 2
    assert roomy.maps.shape[0] == plain.maps.shape[0]


def test_loose_crops_reach_into_the_room_and_stay_within_their_aspect():
    box = scenes.TextBox("120", camera.quad_from_box(300, 50, 360, 90))  # 3 digits, 40 px high

    def size(quad):
        (a, b, c, d) = quad.tolist()
        width = (np.hypot(b[0] - a[0], b[1] - a[1]) + np.hypot(c[0] - d[0], c[1] - d[1])) / 2
        return width, (np.hypot(d[0] - a[0], d[1] - a[1]) + np.hypot(c[0] - b[0], c[1] - b[1])) / 2

    tight = [size(scenes.crop_quad(box, 40, np.random.default_rng(i))) for i in range(200)]
    loose = [size(scenes.crop_quad(box, 40, np.random.default_rng(i), room=5.0)) for i in range(200)]
    assert max(w for w, _ in tight) < 160
    assert max(w for w, _ in loose) > 250  # several digits' width of room beside a 3-digit score
    assert all(w / h <= scenes.LOOSE_ASPECT * 1.15 for w, h in loose)  # (the corner jitter aside)


@pytest.mark.parametrize("renderers", ["train", "heldout"])
def test_scores_of_every_look_group_with_periods_about_as_often_as_with_commas(tmp_path, renderers):
    # With periods four times rarer than commas a model read period scores with a comma (data v12).
    generate_dataset(tmp_path, count=320, seed=5, styles="scores", renderers=renderers, val_fraction=0.0)
    grouped: dict[str, list[str]] = {}
    for line in (tmp_path / "train.txt").read_text().splitlines():
        name, label = line.split("\t")
        separators = set(label) & {",", "."}
        assert len(separators) <= 1, label  # one display, one way of grouping
        if separators:
            grouped.setdefault(look_of(name)[0], []).append(separators.pop())
    assert set(grouped) == set(scenes.STYLES)
    for style, found in grouped.items():
        assert 0.3 < found.count(".") / len(found) < 0.7, (style, len(found), found.count("."))
