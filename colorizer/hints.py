"""Colour hints: a user's "this spot has this colour", checked, and drawn as the map a hint-taking network reads.

A hint is (x, y, (r, g, b)): a pixel of the photo in its own full-resolution coordinates (x to the right, y down,
0-based) and the wanted colour in sRGB 0..255. Only the colour's chroma counts (its CIE a*, b*): the photo keeps
its own luminance, so a dark red hint on a light wall gives a light red wall.

The map is float32 [3,h,w] at the network's render size (h, w before padding, as colorizer.pipeline.model_input):
channels a*, b* (Lab units) and a 0/1 mask. Each hint marks a PATCH x PATCH px square around its pixel's position
at that size; where squares overlap, the later hint wins. All zeros means no hints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from colorizer.color import rgb_to_lab

MAX_HINTS = 64
PATCH = 3  # px at the render size: a hint covers more than the one cell a click lands on

Hint = tuple[float, float, tuple[int, int, int]]


def check_hints(hints: Sequence[Hint], height: int, width: int) -> list[tuple[float, float, np.ndarray]]:
    """Hints for a photo of height x width px -> [(x, y, ab float32 [2])]; ValueError naming the first bad hint
    (its index and what is wrong): more than MAX_HINTS, not (x, y, (r, g, b)), a position outside the photo, or a
    colour that is not three whole numbers in 0..255."""
    if len(hints) > MAX_HINTS:
        raise ValueError(f"{len(hints)} hints: at most {MAX_HINTS} are taken")
    checked = []
    for i, hint in enumerate(hints):
        try:
            x, y, colour = hint
        except (TypeError, ValueError):
            raise ValueError(f"hint {i}: expected (x, y, (r, g, b)), got {hint!r}") from None
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (x, y)):
            raise ValueError(f"hint {i}: x and y must be numbers, got {x!r}, {y!r}")
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(f"hint {i}: ({x}, {y}) is outside the {width}x{height} photo")
        if not (
            isinstance(colour, Sequence)
            and len(colour) == 3
            and all(isinstance(c, int | np.integer) and not isinstance(c, bool) and 0 <= c <= 255 for c in colour)
        ):
            raise ValueError(f"hint {i}: the colour must be (r, g, b), whole numbers 0..255, got {colour!r}")
        ab = rgb_to_lab(np.array([[colour]], np.uint8))[0, 0, 1:]
        checked.append((float(x), float(y), ab.astype(np.float32)))
    return checked


def render_positions(hints: Sequence[Hint], height: int, width: int, size: tuple[int, int]) -> list[tuple]:
    """The hints of a height x width photo (checked as check_hints) at the render size `size` = (h, w):
    [(row, column, ab float32 [2])], the cell each hint's pixel falls in."""
    h, w = size
    return [(min(h - 1, int(y * h / height)), min(w - 1, int(x * w / width)), ab)
            for x, y, ab in check_hints(hints, height, width)]  # fmt: skip


def hint_map(hints: Sequence[Hint], height: int, width: int, size: tuple[int, int]) -> np.ndarray:
    """The hints of a height x width photo drawn at the render size `size` = (h, w): float32 [3,h,w], channels
    a*, b*, mask (module docstring)."""
    h, w = size
    out = np.zeros((3, h, w), np.float32)
    for cy, cx, ab in render_positions(hints, height, width, size):
        rows = slice(max(0, cy - PATCH // 2), cy + PATCH // 2 + 1)
        cols = slice(max(0, cx - PATCH // 2), cx + PATCH // 2 + 1)
        out[:2, rows, cols] = ab[:, None, None]
        out[2, rows, cols] = 1.0
    return out
