"""Colour hints: a user's "this spot has this colour", checked, and drawn as the map a hint-taking network reads.

A hint is (x, y, (r, g, b)): a pixel of the photo in its own full-resolution coordinates (x to the right, y down,
0-based) and the wanted colour in sRGB 0..255. Only the colour's chroma counts (its CIE a*, b*): the photo keeps
its own luminance, so a dark red hint on a light wall gives a light red wall.

The map is float32 [3,h,w] at the network's render size (h, w before padding, as colorizer.pipeline.model_input):
channels a*, b* (Lab units) and a 0/1 mask. Each hint marks a PATCH x PATCH px square around its pixel's position
at that size; where squares overlap, the later hint wins. All zeros means no hints.

The faces (the app, its API and MCP tool, the command line's --hints file) take hints as JSON, read by parse_hints:
a list of {"x": .., "y": .., "color": "#rrggbb"}, x and y in the photo's full-resolution pixels.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

import numpy as np

from colorizer.color import rgb_to_lab

MAX_HINTS = 64
PATCH = 3  # px at the render size: a hint covers more than the one cell a click lands on

Hint = tuple[float, float, tuple[int, int, int]]
HEX = re.compile(r"#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})")
JSON_FORM = '[{"x": 120, "y": 80, "color": "#3366cc"}, ...]'


class HintError(ValueError):
    """Hints that cannot be used, the message naming the first bad one (its index) and what is wrong."""


def parse_hints(data: str | list | None) -> list[Hint]:
    """JSON hints -> [(x, y, (r, g, b))]: a JSON text or its decoded list of {"x": .., "y": .., "color": "#rrggbb"}
    (x, y: numbers, the photo's full-resolution pixels; color: sRGB hex). None, "" or [] -> [] (no hints).
    HintError naming what is wrong: not JSON, not a list, or the first bad hint (its index). The position is
    checked against the photo later, by check_hints."""
    if data is None or (isinstance(data, str) and not data.strip()):
        return []
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as e:
            raise HintError(f"the hints are not JSON ({e})") from None
    if not isinstance(data, list):
        raise HintError(f"the hints must be a list like {JSON_FORM}, got {type(data).__name__}")
    if len(data) > MAX_HINTS:
        raise HintError(f"{len(data)} hints: at most {MAX_HINTS} are taken")
    return [parse_hint(i, item) for i, item in enumerate(data)]


def parse_hint(i: int, item: object) -> Hint:
    """Hint number i of a JSON list (see parse_hints) -> (x, y, (r, g, b)); HintError naming it and the fault."""
    if not isinstance(item, dict):
        raise HintError(f'hint {i}: expected {{"x": .., "y": .., "color": "#rrggbb"}}, got {item!r}')
    if missing := [k for k in ("x", "y", "color") if k not in item]:
        raise HintError(f"hint {i}: no {', '.join(map(repr, missing))} in {item!r}")
    if unknown := sorted(set(item) - {"x", "y", "color"}):
        raise HintError(f"hint {i}: unknown key(s) {', '.join(map(repr, unknown))} (the keys are x, y, color)")
    x, y, colour = item["x"], item["y"], item["color"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (x, y)):
        raise HintError(f"hint {i}: x and y must be numbers, got {x!r}, {y!r}")
    if not isinstance(colour, str) or not (match := HEX.fullmatch(colour.strip())):
        raise HintError(f'hint {i}: the color must be "#rrggbb" (hex sRGB), got {colour!r}')
    r, g, b = (int(v, 16) for v in match.groups())
    return (x, y, (r, g, b))


def hints_json(hints: Sequence[Hint]) -> list[dict]:
    """[(x, y, (r, g, b))] -> the JSON form parse_hints reads (x, y as given; color "#rrggbb")."""
    return [{"x": x, "y": y, "color": "#{:02x}{:02x}{:02x}".format(*rgb)} for x, y, rgb in hints]


def check_hints(hints: Sequence[Hint], height: int, width: int) -> list[tuple[float, float, np.ndarray]]:
    """Hints for a photo of height x width px -> [(x, y, ab float32 [2])]; HintError (a ValueError) naming the first
    bad hint (its index and what is wrong): more than MAX_HINTS, not (x, y, (r, g, b)), a position outside the photo,
    or a colour that is not three whole numbers in 0..255."""
    if len(hints) > MAX_HINTS:
        raise HintError(f"{len(hints)} hints: at most {MAX_HINTS} are taken")
    checked = []
    for i, hint in enumerate(hints):
        try:
            x, y, colour = hint
        except (TypeError, ValueError):
            raise HintError(f"hint {i}: expected (x, y, (r, g, b)), got {hint!r}") from None
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (x, y)):
            raise HintError(f"hint {i}: x and y must be numbers, got {x!r}, {y!r}")
        if not (0 <= x < width and 0 <= y < height):
            raise HintError(f"hint {i}: ({x}, {y}) is outside the {width}x{height} photo")
        if not (
            isinstance(colour, Sequence)
            and len(colour) == 3
            and all(isinstance(c, int | np.integer) and not isinstance(c, bool) and 0 <= c <= 255 for c in colour)
        ):
            raise HintError(f"hint {i}: the colour must be (r, g, b), whole numbers 0..255, got {colour!r}")
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
