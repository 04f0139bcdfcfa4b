"""Enhancement without a model: automatic contrast, colour boost (saturation) and brightness.

All three act in CIE L*a*b*: contrast and brightness are one tone curve on L* (`Tone`), the colour boost
scales a* and b*. They reach a photo by one of two routes with the same outcome (tests/test_enhance.py):

- a colorized result: the tone curve becomes a 256-entry table on the 8-bit luma, applied before the merge
  (`Tone.gray_lut`, colorizer.merge), and the boost scales the predicted ab; no extra full-size pass;
- any RGB photo (the own-colour path): `adjust_colours` is the float reference for a batch of colours; `map_rgb`
  samples such a per-colour transform on a LUT_SIZE^3 grid and applies it with Pillow's trilinear 3D table,
  in C and in place, instead of a float Lab round trip of every pixel.

Automatic contrast is a percentile stretch of L* (PERCENTILES of the pixels are clipped), with the gain capped
at MAX_GAIN so that a deliberately dark or misty photo keeps its key: a capped stretch shares the unused L*
range out below and above the photo's range in the proportion it had before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from colorizer.color import gray_to_l, lab_to_rgb, rgb_to_lab

PERCENTILES = (0.5, 99.5)  # share of pixels (%) allowed to clip at black and at white
MAX_GAIN = 1.5  # 95 % of a sample of 300 colour photos need at most 1.49 for a full stretch
STATS_SIDE = 512  # long side (px) of the copy statistics of an RGB photo are measured on
LUT_SIZE = 33  # grid points per channel of the 3D table: mean error 0.17-0.26 ΔE00 (65, the most: 0.15-0.24, 5x slower)
GRAY_LEVELS = gray_to_l(np.arange(256, dtype=np.uint8))  # L* of each 8-bit gray level

ColourMap = Callable[[np.ndarray], np.ndarray]  # sRGB float Nx3 (0..255) -> RGB uint8 Nx3


@dataclass(frozen=True)
class Tone:
    """A tone curve on CIE L*: L' = clip(gain * L + offset, 0, 100). Tone() changes nothing."""

    gain: float = 1.0
    offset: float = 0.0

    def __call__(self, lightness: np.ndarray) -> np.ndarray:
        """L* float array (0..100) -> float32 L* of the same shape, clipped to 0..100."""
        return np.clip(self.gain * np.asarray(lightness, np.float32) + self.offset, 0.0, 100.0)

    @property
    def is_identity(self) -> bool:
        """Whether the curve leaves L* as it is."""
        return self.gain == 1.0 and self.offset == 0.0

    def gray_lut(self) -> np.ndarray:
        """uint8 [256]: for each 8-bit gray level, the level whose L* is closest to the curve's L*."""
        return np.rint(np.interp(self(GRAY_LEVELS), GRAY_LEVELS, np.arange(256))).astype(np.uint8)


def percentile_levels(counts: np.ndarray, levels: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """Nearest-rank percentiles (numpy's 'inverted_cdf') of a histogram: counts[i] pixels at levels[i] (ascending).

    Returns float64 [len(q)]: for each q (0..100), the first level whose cumulative share reaches q %.
    """
    cum = np.cumsum(counts, dtype=np.float64)
    ranks = np.searchsorted(cum, np.asarray(q, np.float64) / 100.0 * cum[-1], side="left")
    return np.asarray(levels, np.float64)[np.minimum(ranks, len(levels) - 1)]


def contrast_stretch(low: float, high: float, max_gain: float = MAX_GAIN) -> Tone:
    """The auto-contrast curve that maps L* low..high (the photo's percentiles) onto 0..100, gain capped.

    The gain is never below 1 (contrast is only added). When capped, the L* range left unused is shared out
    below and above in the proportion it had before: a dark photo stays dark, a misty one light.
    """
    span = max(high - low, 0.0)
    gain = float(np.clip(100.0 / max(span, 1e-6), 1.0, max_gain))
    unused_before, unused_after = max(100.0 - span, 1e-6), max(100.0 - span * gain, 0.0)
    new_low = low * unused_after / unused_before
    return Tone(gain, new_low - gain * low)


def tone(counts: np.ndarray | None, levels: np.ndarray, brightness: float = 0.0) -> Tone:
    """Auto-contrast from an L* histogram (counts at levels; None: no auto-contrast) plus a brightness offset.

    brightness is in L* units (0 = as is, e.g. -30..30), added after the stretch.
    """
    stretch = Tone() if counts is None else contrast_stretch(*percentile_levels(counts, levels, PERCENTILES))
    return Tone(stretch.gain, stretch.offset + float(brightness))


def lightness_histogram(lightness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L* float array (0..100) -> (counts int64 [1001], levels float64 [1001]): a histogram in 0.1 L* steps."""
    bins = np.rint(np.clip(np.asarray(lightness, np.float32), 0.0, 100.0).ravel() * 10.0).astype(np.int64)
    return np.bincount(bins, minlength=1001), np.arange(1001) / 10.0


def adjust_colours(rgb: np.ndarray, curve: Tone, saturation: float = 1.0) -> np.ndarray:
    """sRGB colours, float or uint8 ...x3 in 0..255 (values outside are clipped) -> RGB uint8 ...x3.

    L* goes through `curve`, a* and b* are multiplied by `saturation` (1 = as is, 0 = gray); out-of-gamut
    results are clipped as colorizer.color.lab_to_rgb does. This is the float reference of every enhancement.
    """
    return adjust_lab(rgb_to_lab(np.clip(rgb, 0.0, 255.0)), curve, saturation)


def adjust_lab(lab: np.ndarray, curve: Tone, saturation: float = 1.0) -> np.ndarray:
    """Lab float32 ...x3 -> RGB uint8 ...x3 with L* through `curve` and a*, b* times `saturation` (adjust_colours)."""
    return lab_to_rgb(curve(lab[..., 0]), lab[..., 1:] * np.float32(saturation))


def map_rgb(rgb: np.ndarray, colour_map: ColourMap) -> np.ndarray:
    """Apply a smooth per-colour transform to RGB uint8 HxWx3 through a LUT_SIZE^3 3D table; RGB uint8 HxWx3.

    `colour_map` is evaluated once, on the grid's LUT_SIZE^3 colours (sRGB float, 0..255), and Pillow
    interpolates trilinearly per pixel: about a merge's time, in place, instead of float Lab at full size.
    """
    axis = np.linspace(0.0, 255.0, LUT_SIZE, dtype=np.float32)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")  # Pillow's table order: red varies fastest
    grid = colour_map(np.stack([r, g, b], -1).reshape(-1, 3)).astype(np.float32) / 255.0
    table = ImageFilter.Color3DLUT(LUT_SIZE, grid.reshape(-1), channels=3)
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb, np.uint8)).filter(table))


def measured_tone(lightness: np.ndarray | None, brightness: float = 0.0) -> Tone:
    """The auto-contrast of a photo's L* values (float array, 0..100; None: no auto-contrast), plus brightness."""
    if lightness is None:
        return tone(None, GRAY_LEVELS, brightness)
    return tone(*lightness_histogram(lightness), brightness)


def enhance_rgb(
    rgb: np.ndarray, saturation: float = 1.0, brightness: float = 0.0, auto_contrast: bool = False
) -> np.ndarray:
    """RGB uint8 HxWx3 -> RGB uint8 HxWx3 with the enhancement a colorized result gets from Photo.render.

    auto_contrast measures the L* percentiles on a copy whose long side is STATS_SIDE px (Lab of every
    pixel would cost more than the rest; the 0.5 % extremes of a downscaled copy are also less noisy).
    """
    lightness = rgb_to_lab(thumbnail(rgb, STATS_SIDE))[..., 0] if auto_contrast else None
    curve = measured_tone(lightness, brightness)
    if curve.is_identity and saturation == 1.0:
        return np.array(rgb, np.uint8)
    return map_rgb(rgb, lambda c: adjust_colours(c, curve, saturation))


def thumbnail(rgb: np.ndarray, side: int) -> np.ndarray:
    """RGB uint8 HxWx3 -> a copy whose long side is at most `side` px (box filter: averages noise out)."""
    im = Image.fromarray(np.ascontiguousarray(rgb, np.uint8))
    im.thumbnail((side, side), Image.Resampling.BOX)
    return np.asarray(im)
