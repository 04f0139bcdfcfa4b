"""What the app does per request, apart from the layout: limits, the prediction cache, rendering to files.

The models run once per (photo content, render size); the cache keeps their ab predictions so that the
colour controls (boost, brightness, CNN/GAN blend, mark) only redo the cheap full-resolution merge.
Nothing per request is stored on shared objects except that bounded, locked cache, whose entries expire
after MAX_AGE_S like the request folders under OUT_ROOT (see `sweep`). Results are written once, as fast
lossless PNGs, straight into Gradio's cache folder, so that Gradio serves them without hashing or copying.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import shutil
import threading
import time
import uuid
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import gradio as gr
import numpy as np
from gradio.utils import get_upload_folder
from PIL import Image, ImageDraw, ImageFont

import colorizer
from colorizer.color import gray_to_rgb
from colorizer.compare import own_colours_text
from colorizer.imageio import Limits, fast_png_bytes
from colorizer.pipeline import SupportsRestore, to_gray
from colorizer.restore import changed_share

# Lower than the library's: a public server shares its memory. COLORIZER_MAX_* environment variables override.
LIMITS = Limits.from_env(Limits(max_pixels=50_000_000, max_file_mb=25))
# Inside Gradio's own cache folder: Gradio serves files from there as they are, where it would hash and copy
# a result from anywhere else (about a fifth of a request's time, on every file of every answer).
OUT_ROOT = Path(get_upload_folder()) / "colorizer-app"
MAX_AGE_S = 3600  # uploads, result files and cached predictions are deleted once this old
SWEEP_EVERY_S = 600  # how often the app looks for what is that old
THREADS = int(os.environ.get("COLORIZER_THREADS", "0")) or os.cpu_count() or 1
PREVIEW_SIDE = int(os.environ.get("COLORIZER_PREVIEW_SIDE", 1600))  # long side of the page's images, px
_pool = ThreadPoolExecutor(THREADS, thread_name_prefix="colorizer-app")


@dataclass
class Entry:
    """One cached photo: its 'before' image and both models' predictions at one render size."""

    before: np.ndarray  # RGB uint8 HxWx3, the upload as the user sees it
    result: colorizer.Comparison
    source_gray: np.ndarray | None = None  # gray uint8 HxW before restoration, when the luma was restored
    # images that no control changes ('original', 'luma', 'restored'), written once as (full PNG, page image)
    # by fixed_png and reused by every re-render
    pngs: dict[str, tuple[str, str]] = field(default_factory=dict)

    @cached_property
    def restore_changed(self) -> float | None:
        """Share (0..1) of the luma's pixels restoration moved (changed_share), None if not restored: computed on
        the first render, not on every re-render."""
        return None if self.source_gray is None else changed_share(self.source_gray, self.result.photo.gray)

    @property
    def nbytes(self) -> int:
        photo = self.result.photo
        arrays = [self.before, photo.gray, photo.rgb, self.source_gray, *self.result.ab.values()]
        unique = {id(a): a for a in arrays if a is not None}  # photo.rgb is often `before` itself
        return sum(a.nbytes for a in unique.values())


class PredictionCache:
    """A thread-safe LRU of Entry, keyed by (sha256 of the file's bytes, render size, restorer name or None, model
    names), bounded in bytes and items. An entry is dropped `max_age_s` seconds after it was made, even if it is
    still being used."""

    def __init__(self, max_bytes: int = 1 << 30, max_items: int = 16, max_age_s: float = MAX_AGE_S):
        self.max_bytes, self.max_items, self.max_age_s = max_bytes, max_items, max_age_s
        self._items: OrderedDict[tuple, tuple[float, Entry]] = OrderedDict()  # key -> (time made, entry)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def get(self, key: tuple) -> Entry | None:
        """The entry for `key`, or None if there is none or it has expired."""
        with self._lock:
            self._expire()
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][1]
            return None

    def put(self, key: tuple, entry: Entry) -> None:
        """Add an entry; the least recently used ones go while the cache is over its bounds."""
        with self._lock:
            self._items[key] = (time.monotonic(), entry)
            self._items.move_to_end(key)
            self._expire()
            while len(self._items) > 1 and (
                len(self._items) > self.max_items or sum(e.nbytes for _, e in self._items.values()) > self.max_bytes
            ):
                self._items.popitem(last=False)

    def expire(self) -> None:
        """Drop the entries older than max_age_s (also done on every get and put)."""
        with self._lock:
            self._expire()

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, (made, _) in self._items.items() if now - made > self.max_age_s]:
            del self._items[key]


def return_freed_memory(threshold: int = 128 << 10, arenas: int = 2) -> bool:
    """Make glibc's malloc give freed blocks of `threshold` bytes or more back to the system at once, and keep
    at most `arenas` heaps for the server's many threads.

    Each request allocates and frees photo-sized buffers (MBs) on several threads. By default glibc raises its
    mmap threshold (128 KiB at start) to the largest block freed so far, up to 32 MiB, after which such buffers
    come from per-thread heaps (up to 8 per core) that stay fragmented and resident: the server's memory crept
    up under load. Fixing the threshold keeps them in mmap'd blocks, unmapped when freed. Returns False where
    there is no glibc (nothing changes).
    """
    m_mmap_threshold, m_arena_max = -3, -8  # from glibc's malloc.h
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        done = [libc.mallopt(m_arena_max, arenas), libc.mallopt(m_mmap_threshold, threshold)]  # 1: done
        return all(done)
    except (OSError, AttributeError):
        return False


def file_digest(path: str) -> str:
    """sha256 of a file's bytes: the cache key of an upload, whatever its name."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_photo(path: str | None) -> np.ndarray:
    """An uploaded file -> uint8 HxW / HxWx3 array (within LIMITS, checked before decoding), or a gr.Error
    that names the file (not the server's path to it) and says what is wrong."""
    if not path:
        raise gr.Error("Please upload a photo first.")
    try:
        return colorizer.open_image(path, LIMITS)
    except colorizer.ImageError as e:
        raise gr.Error(f"{Path(path).name}: {e.reason}.") from None


def as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 HxW or HxWx3 -> RGB uint8 HxWx3."""
    return gray_to_rgb(image) if image.ndim == 2 else image


def predict(
    cache: PredictionCache, models: list[colorizer.Model], path: str, render_size: int,
    restorer: SupportsRestore | None = None,
) -> Entry:  # fmt: skip
    """The models' predictions for an upload at a render size, its luma first repaired by `restorer` if one is
    given, from the cache when possible (the restore setting and the models are part of the key: with no
    models, an entry holds the repaired photo alone)."""
    key = (file_digest(path), int(render_size), getattr(restorer, "name", None), tuple(m.name for m in models))
    entry = cache.get(key)
    if entry is None:
        image = load_photo(path)
        result = colorizer.compare(models, image, int(render_size), restorer or False)
        source = to_gray(image) if restorer is not None else None  # the luma the restorer was given
        entry = Entry(as_rgb(image), result, source)
        cache.put(key, entry)
    return entry


def fixed_png(entry: Entry, name: str, image: Callable[[], np.ndarray], out: Path, stem: str) -> tuple[str, str]:
    """(full PNG, page image) of an image no control changes, `image()` (uint8 HxW or HxWx3), written as
    '<stem>_<name>.png' with its preview (see write_result) on the photo's first render and reused while the
    files exist."""
    paths = entry.pngs.get(name)
    if paths is None or not Path(paths[1]).exists():
        paths = entry.pngs[name] = write_result(out / f"{stem}_{name}.png", image(), None, preview=True)
    return paths


def extras(entry: Entry, out: Path, stem: str, preview: bool, colour_boost: float, brightness: float) -> tuple:
    """(restored pair, own colours) of a cached photo, each as ((full PNGs), (page images)) or None: the
    luminance before and after restoration (when restored) and the photo's own colours restored (when it has
    real colour; colorizer.owncolour), all full resolution on disk."""
    photo, k = entry.result.photo, 1 if preview else 0
    pair = None
    if entry.source_gray is not None:
        before = fixed_png(entry, "luma", lambda: entry.source_gray, out, stem)
        after = fixed_png(entry, "restored", lambda: photo.gray, out, stem)
        pair = (before[0], after[0]), (before[k], after[k])
    own = None
    if photo.rgb is not None and photo.colour.has_colour:
        rgb = photo.own_colours(colour_boost, brightness)
        own = write_result(out / f"{stem}_own_colours.png", rgb, own_colours_text(photo.restored), preview)
    return pair, own


def colour_note(photo: colorizer.Photo) -> str:
    """A Markdown line on whether the photo still carries colour of its own (colorizer.detect_colour)."""
    check = photo.colour
    if photo.rgb is None or not check.has_colour:
        return f"No colour of its own found (score {check.score:.1f}): black and white, or toned."
    return f"**This photo still has colour of its own** (score {check.score:.1f}): its own colours are restored too."


def timing_line(entry: Entry, models: list[colorizer.Model], render_size: int) -> str:
    """Markdown: the photo's size, the render size, each network's time (the restorer's with the share of pixels
    it changed) and the execution provider."""
    res = entry.result
    h, w = entry.before.shape[:2]
    times = " · ".join(f"**{m.kind.upper()}** {1000 * res.seconds[m.name]:.0f} ms ({m.precision})" for m in models)
    if entry.restore_changed is not None:  # how much it repaired: a user cannot tell 0.0 % from 0.5 % by eye
        restored = f"**restored** in {1000 * res.seconds['restore']:.0f} ms"
        times = f"{restored} ({100 * entry.restore_changed:.1f} % of the pixels changed) · {times}"
    provider = models[0].provider.removesuffix("ExecutionProvider")
    return f"{w}x{h} px · rendered at {int(render_size)} px · {times} · running on **{provider}**"


def add_mark(rgb: np.ndarray, text: str = "AI-colourised") -> np.ndarray:
    """A small visible mark in the bottom-right corner (RGB uint8 HxWx3 -> a marked copy)."""
    im = Image.fromarray(rgb)
    size = max(10, min(im.size) // 30)
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    pos = (im.width - (x1 - x0) - size, im.height - (y1 - y0) - size)
    draw.text(pos, text, font=font, fill=(255, 255, 255), stroke_width=max(1, size // 8), stroke_fill=(0, 0, 0))
    return np.asarray(im)


def sweep(cache: PredictionCache | None = None) -> None:
    """Delete request folders under OUT_ROOT older than MAX_AGE_S, and the cache's expired entries."""
    now = time.time()
    for old in OUT_ROOT.iterdir() if OUT_ROOT.is_dir() else ():
        with contextlib.suppress(FileNotFoundError):  # another thread's sweep got there first
            if now - old.stat().st_mtime > MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
    if cache is not None:
        cache.expire()


def sweep_on_schedule(cache: PredictionCache, every_s: float = SWEEP_EVERY_S) -> threading.Event:
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


def new_out_dir() -> Path:
    """A fresh folder for one request's files (random name). Old folders go on sweep_on_schedule's schedule:
    sweeping here too would stat every folder of the last hour on every request."""
    OUT_ROOT.mkdir(parents=True, exist_ok=True)
    out = OUT_ROOT / uuid.uuid4().hex
    out.mkdir()
    return out


def write_png(path: Path, rgb: np.ndarray, text: dict[str, str] | None = None) -> str:
    """Write RGB uint8 HxWx3 (or gray uint8 HxW) as a tagged lossless PNG (colorizer.imageio.fast_png_bytes); its
    path as a string."""
    path.write_bytes(fast_png_bytes(rgb, text))
    return str(path)


def downscaled(rgb: np.ndarray, side: int) -> np.ndarray | None:
    """RGB uint8 HxWx3 (or gray uint8 HxW) -> a copy whose long side is `side` px (bilinear, Pillow's reducing
    gap: box-filtered first, so no aliasing), or None if the image is no larger than that."""
    h, w = rgb.shape[:2]
    if max(h, w) <= side:
        return None
    size = (side, max(1, round(h * side / w))) if w >= h else (max(1, round(w * side / h)), side)
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def write_result(path: Path, rgb: np.ndarray, text: dict[str, str] | None, preview: bool) -> tuple[str, str]:
    """Write a full-resolution tagged PNG of RGB uint8 HxWx3 (or gray HxW) and, if `preview` and the image's long
    side exceeds PREVIEW_SIDE, a copy that size beside it ('<stem>_preview.png') for the page. Returns (full PNG,
    page image) paths: the same file twice when there is no preview."""
    full = write_png(path, rgb, text)
    small = downscaled(rgb, PREVIEW_SIDE) if preview else None
    return full, full if small is None else write_png(path.with_name(f"{path.stem}_preview.png"), small, text)


def in_parallel(fn: Callable, items: Iterable) -> list:
    """[fn(item) for item in items], run on THREADS threads: rendering and PNG encoding release the GIL."""
    return list(_pool.map(fn, items))


def write_zip(path: Path, files: list[str]) -> str:
    """A zip (stored, PNGs are compressed already) of the files, by base name."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for f in files:
            z.write(f, Path(f).name)
    return str(path)


def error_card(message: str, width: int = 480, height: int = 270) -> np.ndarray:
    """A gray RGB uint8 image with an error message, shown in the batch gallery in place of a result."""
    im = Image.new("RGB", (width, height), (60, 60, 60))
    draw = ImageDraw.Draw(im)
    lines, line = [], ""
    for word in message.split():
        if len(line) + len(word) > 44:
            lines.append(line)
            line = ""
        line = f"{line} {word}".strip()
    lines.append(line)
    draw.multiline_text((16, 16), "Could not colorize:\n" + "\n".join(lines[:8]), fill=(255, 200, 200))
    return np.asarray(im)
