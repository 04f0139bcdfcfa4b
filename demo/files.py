"""The app's files: uploads read within the app's limits, results written as PNGs and zips, and the sweep that
deletes them once they are MAX_AGE_S old.

Each request writes into a folder of its own under OUT_ROOT, inside Gradio's upload folder: Gradio serves files
from there as they are, where it would hash and copy a result from anywhere else. A daemon thread
(sweep_on_schedule) deletes the folders once they are MAX_AGE_S old, and the prediction cache's expired entries.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Protocol

import gradio as gr
import numpy as np
from gradio.utils import get_upload_folder
from PIL import Image

import colorizer
from colorizer.imageio import Limits, fast_png_bytes

# Lower than the library's: a public server shares its memory. COLORIZER_MAX_* environment variables override.
LIMITS = Limits.from_env(Limits(max_pixels=50_000_000, max_file_mb=25))
OUT_ROOT = Path(get_upload_folder()) / "colorizer-app"
MAX_AGE_S = 3600  # uploads, result files and cached predictions are deleted once this old
SWEEP_EVERY_S = 600  # how often the app looks for what is that old
PREVIEW_SIDE = int(os.environ.get("COLORIZER_PREVIEW_SIDE", 1600))  # long side of the page's images, px


class Expires(Protocol):
    """Anything whose old entries a sweep drops (demo.cache.PredictionCache)."""

    def expire(self) -> None: ...


def load_photo(path: str | None) -> np.ndarray:
    """An uploaded file -> uint8 HxW (gray) or HxWx3 (RGB) array (within LIMITS, checked before decoding), or a
    gr.Error that names the file (not the server's path to it) and says what is wrong."""
    if not path:
        raise gr.Error("Please upload a photo first.")
    try:
        return colorizer.open_image(path, LIMITS)
    except colorizer.ImageError as e:
        raise gr.Error(f"{Path(path).name}: {e.reason}.") from None


def new_out_dir() -> Path:
    """A fresh folder for one request's files (random name). Old folders go on sweep_on_schedule's schedule:
    sweeping here too would stat every folder of the last hour on every request."""
    OUT_ROOT.mkdir(parents=True, exist_ok=True)
    out = OUT_ROOT / uuid.uuid4().hex
    out.mkdir()
    return out


def sweep(cache: Expires | None = None) -> None:
    """Delete request folders under OUT_ROOT older than MAX_AGE_S, and the cache's expired entries."""
    now = time.time()
    for old in OUT_ROOT.iterdir() if OUT_ROOT.is_dir() else ():
        with contextlib.suppress(FileNotFoundError):  # another thread's sweep got there first
            if now - old.stat().st_mtime > MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
    if cache is not None:
        cache.expire()


def sweep_on_schedule(cache: Expires, every_s: float = SWEEP_EVERY_S) -> threading.Event:
    """Run `sweep` now and then every `every_s` seconds in a daemon thread, so that files and predictions go
    on time even when no request comes (Gradio's delete_cache does the same for its copies). Set the
    returned event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            sweep(cache)
            stop.wait(every_s)

    threading.Thread(target=loop, name="colorizer-sweep", daemon=True).start()
    return stop


def write_png(path: Path, image: np.ndarray, text: dict[str, str] | None = None) -> str:
    """Write RGB uint8 HxWx3 (or gray uint8 HxW) as a tagged lossless PNG (colorizer.imageio.fast_png_bytes); its
    path as a string."""
    path.write_bytes(fast_png_bytes(image, text))
    return str(path)


def downscaled(image: np.ndarray, side: int) -> np.ndarray | None:
    """RGB uint8 HxWx3 (or gray uint8 HxW) -> a copy whose long side is `side` px (bilinear, Pillow's reducing
    gap: box-filtered first, so no aliasing), or None if the image is no larger than that."""
    h, w = image.shape[:2]
    if max(h, w) <= side:
        return None
    size = (side, max(1, round(h * side / w))) if w >= h else (max(1, round(w * side / h)), side)
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def write_result(path: Path, image: np.ndarray, text: dict[str, str] | None, preview: bool) -> tuple[str, str]:
    """Write a full-resolution tagged PNG of RGB uint8 HxWx3 (or gray HxW) and, if `preview` and the image's long
    side exceeds PREVIEW_SIDE, a copy that size beside it ('<stem>_preview.png') for the page. Returns (full PNG,
    page image) paths: the same file twice when there is no preview."""
    full = write_png(path, image, text)
    small = downscaled(image, PREVIEW_SIDE) if preview else None
    return full, full if small is None else write_png(path.with_name(f"{path.stem}_preview.png"), small, text)


def write_zip(path: Path, files: list[str]) -> str:
    """A zip (stored: PNGs are compressed already) of the files, by base name; its path as a string."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for f in files:
            z.write(f, Path(f).name)
    return str(path)
