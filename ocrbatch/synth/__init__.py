"""Synthetic pinball display data: labelled images drawn from glyph data defined in this package.

No system fonts and no network: typefaces come from font packages installed with the train extra.
Modules, from the glyphs up:

    segments.py        7/14/16-segment glyph geometry (pointed, square or round bars), rasteriser
    typefaces.py       outline fonts for LCD scores and DMD pixel fonts; train vs held-out families
    dotmatrix.py       the 5x7 DMD bitmap font and round/rounded/square dot rendering
    texts.py           what displays say (scores with their separators, game messages); label rules
    looks.py           colours: plasma/LED/VFD glow with ghosting, LCD segments and shadow
    camera.py          perspective, blur, glare, scanlines/moire, noise, exposure, JPEG
    drawings.py        what a style draws before the camera: recipe, text boxes, maps, display panels
    segment_scenes.py  7/14/16-segment displays (rec drawings and backbox frames), segment fonts
    dmd_scenes.py      dot-matrix displays (rec drawings and 128x32 frames)
    lcd_scenes.py      modern LCD screens: outline-font scores over busy backgrounds
    scenes.py          one rec crop or one det frame per style; renderer sets; photo-like crops
    generator.py       the dataset writer (``generate_dataset``), parallel and reproducible

Importing this package needs OpenCV (``cv2``); without it the import raises a one-line error.
"""

from ocrbatch.synth.generator import DATA_VERSION, PRESETS, TASKS, generate_dataset
from ocrbatch.synth.scenes import STYLES

__all__ = ["generate_dataset", "DATA_VERSION", "STYLES", "PRESETS", "TASKS"]
