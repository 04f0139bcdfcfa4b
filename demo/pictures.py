"""Pictures the app draws itself: the visible "AI-colourised" mark on a result, the colour hints marked on the page's
clickable result, and the card that stands in a batch's gallery for a photo that could not be colorized."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from colorizer.hints import Hint


def add_mark(rgb: np.ndarray, text: str = "AI-colourised") -> np.ndarray:
    """A small visible mark in the bottom-right corner (RGB uint8 HxWx3 -> a marked copy, RGB uint8 HxWx3)."""
    im = Image.fromarray(rgb)
    size = max(10, min(im.size) // 30)
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    pos = (im.width - (x1 - x0) - size, im.height - (y1 - y0) - size)
    draw.text(pos, text, font=font, fill=(255, 255, 255), stroke_width=max(1, size // 8), stroke_fill=(0, 0, 0))
    return np.asarray(im)


def mark_hints(rgb: np.ndarray, hints: list[Hint], full: tuple[int, int]) -> np.ndarray:
    """Each hint as a ring in its colour, outlined in black and white, on a copy of RGB uint8 HxWx3 (a preview of a
    photo of `full` = (height, width) px; the hints are in its pixels). The ring leaves the spot itself visible."""
    im = Image.fromarray(rgb)
    draw, scale = ImageDraw.Draw(im), im.width / full[1]
    r = max(6, min(im.size) // 60)  # px: seen on a small preview, not hiding much of a large one
    for x, y, colour in hints:
        cx, cy = (x + 0.5) * scale, (y + 0.5) * scale
        for radius, fill, width in ((r + 2, (0, 0, 0), 5), (r + 1, (255, 255, 255), 3), (r, tuple(colour), 2)):
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=fill, width=width)
    return np.asarray(im)


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
