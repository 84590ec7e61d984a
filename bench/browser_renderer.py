"""Scores drawn by another renderer: a web browser. Judges a score reader on crops that none of our
generator's code drew.

Chromium (headless) lays out and rasterizes scores with Skia, in the typeface families of the held-out
renderer set (which the shipped base never saw), as two looks our generator draws differently:

- ``lcd``: text on gradient screens, with CSS glow, outlines and letter spacing;
- ``dots``: the same fonts seen through a CSS mask of round dots (3-5 px pitch): a dot-matrix look made
  by masking a smooth font, where our DMD renderer lights the cells of a pixel font.

The crops are clean screenshots (no camera), loose around the text. Measurement only: nothing here
feeds training. Needs ``chromium`` on the PATH (Debian: ``apt install chromium``).

    .venv/bin/python bench/browser_renderer.py --model ./pinball-model
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from generalization import tally  # bench/ is the script's folder, so first on sys.path

CARD_W, CARD_H, COLUMNS, ROWS = 412, 76, 3, 40  # one page: 120 crops, 8 px apart
GAP = 8


def score(rng: random.Random) -> str:
    from ocrbatch.synth.texts import format_score

    digits = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(0, 9)))
    return format_score(int(digits), rng.choice([",", ",", ".", ""]))


def card(rng: random.Random, family: str) -> tuple[str, str]:
    """(look, inline CSS of the text) for one crop."""
    hue = rng.randint(0, 359)
    style = [f"font-family:'{family}'", f"font-size:{rng.randint(34, 50)}px",
             f"letter-spacing:{rng.uniform(-1, 4):.1f}px", f"color:hsl({hue},{rng.randint(60, 100)}%,{rng.randint(55, 75)}%)"]
    if rng.random() < 0.35:
        pitch = rng.choice([3, 4, 5])
        style.append(f"-webkit-mask-image:radial-gradient(circle,black {rng.randint(40, 55)}%,transparent "
                     f"{rng.randint(58, 70)}%);-webkit-mask-size:{pitch}px {pitch}px")
        return "dots", ";".join(style)
    if rng.random() < 0.4:
        style.append(f"text-shadow:0 0 {rng.randint(3, 10)}px hsl({hue},100%,60%)")
    if rng.random() < 0.3:
        style.append(f"-webkit-text-stroke:{rng.choice([1, 2])}px hsl({(hue + 180) % 360},80%,15%)")
    return "lcd", ";".join(style)


def draw_page(rng: random.Random, faces, folder: Path) -> list[tuple[Path, str, str, str]]:
    """Render one page of cards with Chromium and cut it into crops: (path, label, look, family)."""
    from PIL import Image

    fonts = "".join(f"@font-face{{font-family:'{face.family}-{i}';src:url('file://{face.path}')}}"
                    for i, face in enumerate(faces))
    cards, divs = [], []
    for n in range(COLUMNS * ROWS):
        index = rng.randrange(len(faces))
        look, style = card(rng, f"{faces[index].family}-{index}")
        text = score(rng)
        x, y = (n % COLUMNS) * (CARD_W + GAP), (n // COLUMNS) * (CARD_H + GAP)
        shades = [f"hsl({rng.randint(0, 359)},60%,{rng.randint(4, 22)}%)" for _ in range(2)]
        divs.append(f"<div style='left:{x}px;top:{y}px;background:linear-gradient({rng.randint(0, 180)}deg,"
                    f"{shades[0]},{shades[1]})'><span style=\"{style}\">{text}</span></div>")
        cards.append((x, y, text, look, faces[index].family))
    page = folder / "page.html"
    page.write_text(f"<html><head><style>{fonts}body{{margin:0;background:#000}}div{{position:absolute;"
                    f"width:{CARD_W}px;height:{CARD_H}px;display:flex;align-items:center;justify-content:center;"
                    f"overflow:hidden}}</style></head><body>{''.join(divs)}</body></html>")
    width, height = COLUMNS * (CARD_W + GAP), ROWS * (CARD_H + GAP)
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--allow-file-access-from-files", f"--window-size={width},{height}",
                    f"--screenshot={folder / 'page.png'}", page.as_uri()],
                   check=True, capture_output=True, timeout=180)
    shot = Image.open(folder / "page.png").convert("RGB")
    crops = []
    for n, (x, y, text, look, family) in enumerate(cards):
        path = folder / f"{n:04d}_{look}.png"
        shot.crop((x, y, x + CARD_W, y + CARD_H)).save(path)
        crops.append((path, text, look, family))
    return crops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="exported recognizer folder to judge")
    parser.add_argument("--pages", type=int, default=3, help="pages of 120 crops")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--workdir", type=Path, help="keep the pages and crops here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = parser.parse_args()
    if shutil.which("chromium") is None:
        print("error: chromium is not on the PATH (Debian: apt install chromium)", file=sys.stderr)
        return 2

    from ocrbatch.predict import predict_images
    from ocrbatch.synth import typefaces

    faces = typefaces.faces("heldout")
    rng = random.Random(args.seed)
    with contextlib.nullcontext(args.workdir) if args.workdir else tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        crops = []
        for page in range(args.pages):
            folder = root / f"page{page}"
            folder.mkdir(parents=True, exist_ok=True)
            crops += draw_page(rng, faces, folder)
        readings = predict_images(args.model, [path for path, *_ in crops], batch_size=64)
    table = tally([((look, family, "all"), label, reading.text)
                   for (_, label, look, family), reading in zip(crops, readings)])
    misses = [(f"{path.parent.name}/{path.name}", label, reading.text)
              for (path, label, _, _), reading in zip(crops, readings) if reading.text != label]
    if args.json:
        print(json.dumps({"model": str(args.model), "seed": args.seed, "results": table, "misses": misses}, indent=1))
        return 0
    print(f"{'group':18} {'crops':>5} {'exact':>7} {'digits':>7}")
    for key, row in table.items():
        print(f"{key:18} {row['n']:5d} {100 * row['exact']:6.1f}% {100 * row['digits']:6.1f}%")
    for name, label, text in misses[:20]:
        print(f"  {name}: {label!r} read {text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
