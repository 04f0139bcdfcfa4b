"""A real browser (Debian's Chromium, driven by Playwright) uploads a photo and waits for both results.

Saves tests/artifacts/app.png; with UPDATE_SCREENSHOT=1 it also refreshes docs/screenshot.png for the README.
"""

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (.ci/run installs it)")


@pytest.mark.slow
def test_upload_click_and_compare_in_a_browser(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        page.goto(app_url)
        page.locator("input[type=file]").first.set_input_files(str(ROOT / "demo/examples/chelsea_cat_gray.jpg"))
        page.get_by_role("button", name="Colorize", exact=True).click()
        page.get_by_text("running on").wait_for(timeout=120_000)
        # The two result sliders are the first two image sliders; each shows (before, after).
        results = page.locator(".results").first.locator("img")
        results.nth(3).wait_for(timeout=60_000)
        afters = [results.nth(1), results.nth(3)]
        for img in afters:
            assert img.is_visible()
        pixels = []
        for img in afters:
            body = page.request.get(img.get_attribute("src")).body()
            pixels.append(np.asarray(Image.open(io.BytesIO(body)).convert("RGB")).astype(int))
        assert pixels[0].shape == pixels[1].shape == (300, 451, 3)
        assert np.abs(pixels[0] - pixels[1]).mean() > 0.5  # the CNN and the GAN pictures differ
        page.wait_for_timeout(1000)  # let the sliders settle before the picture
        out = ROOT / "tests" / "artifacts"
        out.mkdir(exist_ok=True)
        page.screenshot(path=str(out / "app.png"), full_page=True)
        if os.environ.get("UPDATE_SCREENSHOT"):
            (ROOT / "docs").mkdir(exist_ok=True)
            page.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=False)
        # Ticking the repair box re-renders with the restorer and shows the luminance before / after.
        page.get_by_label("Repair scratches, dust and grain first").check()
        page.get_by_text("restored in").wait_for(timeout=120_000)
        pair = page.get_by_text("Restoration: luminance before / after")
        pair.wait_for(timeout=60_000)
        assert pair.is_visible()
        # Ticking "The print is cracked" runs the crack filler before the restorer: a new prediction, a new line.
        line = page.get_by_text("restored in")
        before = line.inner_text()
        page.get_by_label("The print is cracked").check()
        for _ in range(120):
            if line.count() and line.inner_text() != before:
                break
            page.wait_for_timeout(500)
        assert line.inner_text() != before and pair.is_visible()
        browser.close()
