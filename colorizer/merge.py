"""The fast full-resolution merge: 8-bit luma + low-resolution ab -> sRGB uint8, by table lookup.

Because L* comes from an 8-bit gray level g and ab is clamped to whole Lab units in -128..127, every output
colour is one of 256**3 (a, b, g) combinations. A 64 MiB table holds their sRGB values, computed once with
the float Lab reference (`color.lab_to_rgb`, out-of-gamut colours clipped). Per pixel the merge is then:
bilinear upsampling of the quantised (a, b) (Pillow, 8-bit), one packed index, one gather. Rows are split
into bands processed on a thread pool (Pillow and numpy release the GIL), so both cores work. A tone curve
(auto-contrast, brightness: colorizer.enhance) is a 256-entry table on g, free here.

ab is clamped after scaling and upsampling, as the float reference is: ab beyond the table's range (a strong
colour boost) is upsampled in float and clamped per pixel, so a clamped colour next to a weaker one blends
as it would unclamped; ab within the range takes the faster 8-bit path.

Faithfulness: rounding ab to whole units moves a colour by at most 0.5 unit in a and in b before upsampling
and by 0.5 more after (1 unit of a or b is about one just-noticeable difference). Against the float Lab
merge (`color.lab_to_rgb` of bilinearly upsampled float ab) the tests require, on random and real images:
mean CIEDE2000 <= MEAN_DE00 and every pixel <= MAX_DE00 (the largest differences occur in dark
near-neutral colours, where CIEDE2000 is most sensitive and the sRGB values differ by 1 or 2 levels).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from colorizer.color import gray_to_l, lab_to_rgb

MEAN_DE00 = 0.5  # allowed mean colour difference against the float reference
MAX_DE00 = 3.0  # allowed colour difference of any single pixel
BAND_ROWS = 128  # output rows per work item: small enough to stay in cache, large enough to amortise calls

_table: np.ndarray | None = None
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _build_table() -> np.ndarray:
    """uint32 [2**24]: at index a_u8 << 16 | b_u8 << 8 | g the RGBX bytes of Lab(L*(g), a_u8-128, b_u8-128)."""
    lum = np.broadcast_to(gray_to_l(np.arange(256, dtype=np.uint8)), (256, 256))  # [b, g]
    b = np.broadcast_to((np.arange(256, dtype=np.float32) - 128)[:, None], (256, 256))
    rgbx = np.zeros((256, 256, 256, 4), np.uint8)  # [a, b, g, RGBX]
    for a in range(256):
        ab = np.stack([np.full((256, 256), a - 128, np.float32), b], -1)
        rgbx[a, :, :, :3] = lab_to_rgb(lum, ab)
    return rgbx.reshape(-1).view(np.uint32)


def table() -> np.ndarray:
    """The lookup table, built on first use (about a second) and shared by every model and thread."""
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                _table = _build_table()
    return _table


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                threads = int(os.environ.get("COLORIZER_THREADS", "0")) or os.cpu_count() or 1
                _pool = ThreadPoolExecutor(threads, thread_name_prefix="colorizer-merge")
    return _pool


def quantise_ab(ab: np.ndarray) -> list[Image.Image]:
    """ab float [2,h,w] (Lab units) -> two 8-bit Pillow images ('L'), a+128 and b+128, rounded and clamped."""
    q = np.clip(np.rint(ab) + 128, 0, 255).astype(np.uint8)
    return [Image.fromarray(q[0]), Image.fromarray(q[1])]


def ab_rows(ab: np.ndarray, height: int, width: int) -> Callable[[int, int], list[np.ndarray]]:
    """A function (r0, r1) -> [a+128, b+128], each uint8 [r1-r0, width]: `ab` (float [2,h,w], Lab units)
    upsampled bilinearly to rows r0..r1 of height x width, then clamped.

    a and b are resized as two one-band images rather than one multi-band one: Pillow's one-band path is about
    twice as fast, and the planes come out contiguous for the index arithmetic."""
    small_h, small_w = ab.shape[1:]
    scale = small_h / height

    def resize(im: Image.Image, r0: int, r1: int) -> np.ndarray:
        box = (0, r0 * scale, small_w, r1 * scale)
        return np.asarray(im.resize((width, r1 - r0), Image.Resampling.BILINEAR, box=box))

    if ab.min() >= -128.0 and ab.max() <= 127.0:  # within the table: quantise first, upsample in 8 bits
        small = quantise_ab(ab)
        return lambda r0, r1: [resize(im, r0, r1) for im in small]
    planes = [Image.fromarray(np.ascontiguousarray(ab[k], dtype=np.float32)) for k in range(2)]
    return lambda r0, r1: [np.clip(np.rint(resize(p, r0, r1)) + 128.0, 0, 255).astype(np.uint8) for p in planes]


def merge(gray: np.ndarray, ab: np.ndarray, saturation: float = 1.0, tone: np.ndarray | None = None) -> np.ndarray:
    """Gray uint8 HxW (full resolution) + ab float32 [2,h,w] (any h, w) -> RGB uint8 HxWx3.

    ab is scaled by `saturation` (1 = as predicted, 0 = gray), upsampled bilinearly to HxW, clamped to
    -128..127 and combined with the L* of `tone[gray]` (tone: uint8 [256], a gray-level table such as
    colorizer.enhance.Tone.gray_lut() for auto-contrast and brightness; None = the gray as it is).
    """
    height, width = gray.shape
    upsample = ab_rows(ab * saturation if saturation != 1.0 else ab, height, width)
    lut = table()
    out = np.empty((height, width, 3), np.uint8)

    def band(r0: int) -> None:
        r1 = min(height, r0 + BAND_ROWS)
        a, b = upsample(r0, r1)
        idx = np.left_shift(a, 16, dtype=np.uint32)
        idx |= np.left_shift(b, 8, dtype=np.uint32)
        idx |= gray[r0:r1] if tone is None else np.take(tone, gray[r0:r1])
        rgbx = np.take(lut, idx)  # uint32 [rows, width], bytes R, G, B, X
        # Pillow drops the X byte about four times as fast as numpy's strided copy
        rgb = Image.frombuffer("RGBX", (width, r1 - r0), rgbx, "raw", "RGBX", 0, 1).convert("RGB")
        out[r0:r1] = np.asarray(rgb)

    list(_executor().map(band, range(0, height, BAND_ROWS)))
    return out
