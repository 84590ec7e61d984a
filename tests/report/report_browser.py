"""Opens a page in Debian's headless chromium through Playwright's Python API (never `playwright
install`: the browser is the system's, /usr/bin/chromium, which `scripts/dev setup` installs) and
reports what a reader would see: console errors, images that did not render or hold nothing, and
content wider than the window."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

# For every <img>: its natural size, and how many distinct colours a 64x64 drawing of it has (1: blank).
IMAGES = """
() => Array.from(document.images).map((img) => {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 64;
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff"; context.fillRect(0, 0, 64, 64);
  let colours = 0;
  if (img.complete && img.naturalWidth > 0) {
    context.drawImage(img, 0, 0, 64, 64);
    const pixels = context.getImageData(0, 0, 64, 64).data;
    const seen = new Set();
    for (let i = 0; i < pixels.length; i += 4) seen.add(pixels[i] << 16 | pixels[i + 1] << 8 | pixels[i + 2]);
    colours = seen.size;
  }
  return {alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight, colours};
})
"""
# Elements whose right edge lies past the window (what makes a phone scroll sideways).
OVERFLOW = """
() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const element of document.querySelectorAll("body *")) {
    if (element.closest(".scroll")) continue;  // tables scroll inside their own box, on purpose
    const box = element.getBoundingClientRect();
    if (box.right > width + 1) wide.push(element.tagName + "." + element.className + " " + Math.round(box.right));
  }
  return {page: document.documentElement.scrollWidth, window: width, wide: wide.slice(0, 10)};
}
"""


def need_browser():
    """Skip with the reason when this machine has no browser or no Playwright (`scripts/dev setup` installs both)."""
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip("no /usr/bin/chromium: run `bash scripts/dev setup` (apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")


def inspect_page(page_file: Path, screenshots: Path) -> dict:
    """Load ``page_file`` at the laptop and the phone width; what it showed, per width."""
    sync_api = need_browser()
    screenshots.mkdir(parents=True, exist_ok=True)
    seen = {}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            for name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
                context = browser.new_context(viewport=viewport)
                page = context.new_page()
                errors: list[str] = []
                page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
                page.on("pageerror", lambda error: errors.append(str(error)))
                requests: list[str] = []
                page.on("request", lambda request: requests.append(request.url))
                page.goto(page_file.resolve().as_uri(), wait_until="load")
                shot = screenshots / f"report-{name}.png"
                page.screenshot(path=str(shot), full_page=True)
                seen[name] = {"errors": errors, "images": page.evaluate(IMAGES), "overflow": page.evaluate(OVERFLOW),
                              "requests": [r for r in requests if not r.startswith(("file:", "data:"))],
                              "screenshot": shot, "title": page.title()}
                context.close()
        finally:
            browser.close()
    return seen
