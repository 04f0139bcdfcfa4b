"""The fast full-resolution merge: 8-bit luma + low-resolution ab -> sRGB uint8, by table lookup.

Because L* comes from an 8-bit gray level g and ab is clamped to whole Lab units in -128..127, every output
colour is one of 256**3 (a, b, g) combinations. A 64 MiB table holds their sRGB values, computed once with
the float Lab reference (`color.lab_to_rgb`, out-of-gamut colours clipped). Per pixel the merge is then:
bilinear upsampling of the quantised (a, b) (Pillow, 8-bit), one packed index, one gather. Rows are split
into bands processed on a thread pool (Pillow and numpy release the GIL), so both cores work.

Faithfulness: rounding ab to whole units moves a colour by at most 0.5 unit in a and in b before upsampling
and by 0.5 more after (1 unit of a or b is about one just-noticeable difference). Against the float Lab
merge (`color.lab_to_rgb` of bilinearly upsampled float ab) the tests require, on random and real images:
mean CIEDE2000 <= MEAN_DE00 and every pixel <= MAX_DE00 (the largest differences occur in dark
near-neutral colours, where CIEDE2000 is most sensitive and the sRGB values differ by 1 or 2 levels).
"""

from __future__ import annotations

import os
import threading
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


def quantise_ab(ab: np.ndarray) -> Image.Image:
    """ab float [2,h,w] (Lab units) -> an RGB Pillow image whose R, G bytes are a+128, b+128 (clamped)."""
    q = np.zeros((*ab.shape[1:], 3), np.uint8)
    q[..., :2] = np.clip(np.rint(np.moveaxis(ab, 0, -1)) + 128, 0, 255)
    return Image.fromarray(q, "RGB")


def brightness_lut(offset: float) -> np.ndarray:
    """uint8 [256]: the gray level whose L* is closest to L*(g) + offset (L* units, clipped to 0..100)."""
    levels = gray_to_l(np.arange(256, dtype=np.uint8))
    target = np.clip(levels + offset, 0.0, 100.0)
    return np.rint(np.interp(target, levels, np.arange(256))).astype(np.uint8)


def merge(gray: np.ndarray, ab: np.ndarray, saturation: float = 1.0, brightness: float = 0.0) -> np.ndarray:
    """Gray uint8 HxW (full resolution) + ab float32 [2,h,w] (any h, w) -> RGB uint8 HxWx3.

    ab is scaled by `saturation` (1 = as predicted, 0 = gray), upsampled bilinearly to HxW, clamped to
    -128..127 and combined with L*(gray) + `brightness` (L* units, e.g. -20..20).
    """
    height, width = gray.shape
    small = quantise_ab(ab * saturation if saturation != 1.0 else ab)
    lut = table()
    shift = brightness_lut(brightness) if brightness else None
    out = np.empty((height, width, 3), np.uint8)
    scale = small.height / height

    def band(r0: int) -> None:
        r1 = min(height, r0 + BAND_ROWS)
        up = np.asarray(
            small.resize((width, r1 - r0), Image.Resampling.BILINEAR, box=(0, r0 * scale, small.width, r1 * scale))
        )
        idx = np.left_shift(up[..., 0], 16, dtype=np.uint32)
        idx |= np.left_shift(up[..., 1], 8, dtype=np.uint32)
        idx |= gray[r0:r1] if shift is None else np.take(shift, gray[r0:r1])
        out[r0:r1] = np.take(lut, idx).view(np.uint8).reshape(r1 - r0, width, 4)[..., :3]

    list(_executor().map(band, range(0, height, BAND_ROWS)))
    return out
