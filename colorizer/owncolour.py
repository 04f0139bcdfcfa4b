"""Photos that still have colour: telling a faded colour print from a toned black-and-white one, and
restoring its own colours with no network (white balance, de-fading, auto-contrast).

Detection (`detect_colour`). A toned or yellowed black-and-white photo (sepia, selenium, a yellowed paper)
has one hue whose strength follows the tone: its a*b* is nearly a function of L*. So, on a small copy with
the margins cut off (mounts, scanner edges): subtract from each pixel's a*b* the median a*b* of the pixels of
similar L* (5-unit bins); what remains is colour that does not follow the tone. A toned photo's remainder lies
along one line (its toning made stronger or weaker); a colour photo's spreads across it. The score is that
spread: the standard deviation of the remainder across its main axis (the smaller principal axis), in a*b*
units. On the project's 151 old photos (tests never use them): at most 1.7 on the 145 black-and-white ones
(neutral, sepia, toned, stained, on mounts), 3.0 to 5.1 on the six colour ones (faded prints, autochromes, a
hand-coloured print); 2.6 on a colour photo faded synthetically to 30 % saturation with a yellow cast.
Limit: colour that follows the tone or stays in one hue family (a ginger cat, a brown coffee cup, a sunny sky
over a green field) scores like a toned print: 56 of a sample of 306 ordinary colour photos score below
THRESHOLD, and so do the cat and the cup faded to 30 %.

Restoration (`restore_own_colours`): measured on a small copy, applied at full size through one 3D table
(colorizer.enhance.map_rgb):
- white balance: the cast is measured on the least colourful quarter of the pixels, which in a print are
  mostly things that were gray or white: its median a*b* in the darker and in the lighter half of them. It is
  subtracted from every pixel's a*b* as a function of L*: zero at black, the dark cast at the dark half's median
  L*, the light cast from the light half's median L* up, linear in between (a faded print's shadows and
  highlights drift apart; a true black stays black). At most MAX_CAST is removed. Per-channel percentile
  levels, tried first, turned scenes with one dominant colour (an autochrome's green backdrop, a purple-cast
  hand-coloured print) cyan or green; one von Kries gain per channel left a faded print's shadows brown;
- de-fading: a*b* scaled up by TARGET_CHROMA / the photo's 90th-percentile chroma, between 1 and MAX_DEFADE;
- contrast: the auto-contrast of colorizer.enhance (the same curve as for colorized results).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from colorizer.color import rgb_to_lab
from colorizer.enhance import STATS_SIDE, Tone, adjust_lab, map_rgb, measured_tone, thumbnail

THRESHOLD = 2.2  # score (a*b* units) from which a photo counts as carrying real colour
DETECT_SIDE = 128  # long side (px) of the copy detection looks at: averages grain and JPEG chroma noise away
MARGIN = 0.06  # share of each side cut off before detection: mounts and scan edges have their own tint
NEUTRAL_SHARE = 25.0  # % of the pixels, the least colourful, whose median a*b* is taken as the cast
MAX_CAST = 20.0  # largest cast (C*ab) removed: beyond it, only this much
TARGET_CHROMA = 30.0  # 90th-percentile C*ab of a typical colour photo (median of a 300-photo sample: 32)
MAX_DEFADE = 1.5


@dataclass(frozen=True)
class ColourCheck:
    """Whether a photo carries real colour: has_colour, the score (a*b* units, >= THRESHOLD: colour) and why."""

    has_colour: bool
    score: float
    reason: str


def detect_colour(image: np.ndarray) -> ColourCheck:
    """RGB uint8 HxWx3 (or gray uint8 HxW) -> ColourCheck: colour beyond a uniform or tone-following cast?"""
    if image.ndim == 2:
        return ColourCheck(False, 0.0, "a grayscale image")
    small = thumbnail(image, DETECT_SIDE)
    h, w = small.shape[:2]
    dy, dx = int(h * MARGIN), int(w * MARGIN)
    lab = rgb_to_lab(small[dy : h - dy, dx : w - dx]).reshape(-1, 3)
    if len(lab) < 16:
        return ColourCheck(False, 0.0, "too small to tell: treated as black and white")
    bins = np.minimum((lab[:, 0] / 5.0).astype(np.int64), 19)
    cast = np.zeros((20, 2), np.float32)
    for k in np.unique(bins):
        cast[k] = np.median(lab[bins == k, 1:], axis=0)
    rest = lab[:, 1:] - cast[bins]
    score = float(np.sqrt(max(np.linalg.eigvalsh(np.cov(rest.T))[0], 0.0)))
    if score >= THRESHOLD:
        return ColourCheck(True, score, f"a colour photo: several distinct colours (spread {score:.1f} ≥ {THRESHOLD})")
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    if np.percentile(chroma, 90) < 3.0:
        return ColourCheck(False, score, "a black-and-white photo, neutral gray")
    a, b = np.median(lab[:, 1:], axis=0)
    hue = np.degrees(np.arctan2(b, a)) % 360
    return ColourCheck(
        False, score, f"a toned black-and-white photo: one hue ({hue:.0f}°), spread {score:.1f} < {THRESHOLD}"
    )


@dataclass(frozen=True)
class OwnColourFix:
    """The corrections measured on one photo: the cast as a function of L* (a*b* `cast` at each L* of
    `cast_lightness`, zero at black, linear in between, constant above), the de-fading factor on a*b* and the
    auto-contrast curve on L*."""

    cast_lightness: tuple[float, ...]
    cast: tuple[tuple[float, float], ...]
    defade: float
    contrast: Tone

    def white_balance(self, lab: np.ndarray) -> np.ndarray:
        """Lab float32 ...x3 -> Lab float32 ...x3 with the cast subtracted from a*, b*."""
        out = np.array(lab, np.float32)
        xp = (0.0, *self.cast_lightness)
        for k in (1, 2):
            out[..., k] -= np.interp(lab[..., 0], xp, [0.0, *(c[k - 1] for c in self.cast)]).astype(np.float32)
        return out

    def colour_map(self, saturation: float = 1.0, brightness: float = 0.0) -> Callable[[np.ndarray], np.ndarray]:
        """The whole correction as one per-colour transform (sRGB float Nx3 -> RGB uint8 Nx3), with the user's
        colour boost and brightness (L* units) on top."""
        curve = Tone(self.contrast.gain, self.contrast.offset + brightness)
        balance = self.white_balance
        return lambda c: adjust_lab(balance(rgb_to_lab(np.clip(c, 0.0, 255.0))), curve, self.defade * saturation)


def measure_cast(lab: np.ndarray) -> tuple[tuple[float, ...], tuple[tuple[float, float], ...]]:
    """Lab float32 Nx3 (a photo's pixels) -> (L* anchors, a*b* cast at each): the median a*b* of the least
    colourful NEUTRAL_SHARE % in their darker and lighter halves, at those halves' median L*, each at most MAX_CAST."""
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    usable = (lab[:, 0] > 3.0) & (lab[:, 0] < 97.0)  # clipped black and white say nothing about a cast
    usable = usable if usable.any() else np.ones_like(usable)
    neutral = lab[usable & (chroma <= np.percentile(chroma[usable], NEUTRAL_SHARE))]
    dark = neutral[:, 0] <= np.median(neutral[:, 0])
    anchors, casts = [], []
    for half in (neutral[dark], neutral[~dark]) if (~dark).any() else (neutral,):
        cast = np.median(half[:, 1:], axis=0)
        cast *= min(1.0, MAX_CAST / max(float(np.hypot(*cast)), 1e-6))
        anchors.append(max(float(np.median(half[:, 0])), (anchors[-1] if anchors else 0.0) + 1.0))
        casts.append((float(cast[0]), float(cast[1])))
    return tuple(anchors), tuple(casts)


def measure_fix(rgb: np.ndarray) -> OwnColourFix:
    """RGB uint8 HxWx3 -> the white balance, de-fading and contrast it needs (measured on a small copy)."""
    lab = rgb_to_lab(thumbnail(rgb, STATS_SIDE).reshape(-1, 3))
    cast = measure_cast(lab)
    balanced = OwnColourFix(*cast, 1.0, Tone()).white_balance(lab)
    chroma90 = float(np.percentile(np.hypot(balanced[:, 1], balanced[:, 2]), 90))
    defade = float(np.clip(TARGET_CHROMA / max(chroma90, 1e-3), 1.0, MAX_DEFADE))
    return OwnColourFix(*cast, defade, measured_tone(balanced[:, 0]))


def restore_own_colours(
    rgb: np.ndarray, saturation: float = 1.0, brightness: float = 0.0, fix: OwnColourFix | None = None
) -> np.ndarray:
    """RGB uint8 HxWx3 (a faded colour print, a colour scan) -> RGB uint8 HxWx3 of the same size: its own colours
    white-balanced, de-faded and auto-contrasted. saturation (1 = as restored) and brightness (L* offset) act on
    top, as for colorized results; `fix` is a correction measured before (default: measured now)."""
    return map_rgb(rgb, (fix or measure_fix(rgb)).colour_map(saturation, brightness))
