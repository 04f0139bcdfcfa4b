"""Synthetic damage of old prints, applied to a clean photo's luminance, for training and measuring the restorer
and training the crack detector.

Every function takes gray uint8 HxW (8-bit luminance) or float32 HxW in 0..1 as stated, and draws its randomness
from the numpy Generator it is given, so a damage is the same for the same seed (tested). The damage types and
the strengths the issue asks for (ISSUE_RANGES; 8-bit levels, pixels):
  noise      Gaussian noise, sigma 3..15 levels (scanner noise)
  grain      film grain: noise smoothed to grains of 0.5..1 px, strongest in the mid-tones, sigma 3..15 levels
  blur       Gaussian blur, sigma 0.5..1.5 px
  jpeg       JPEG compression, quality 30..80
  dust       soft spots 1..3 px across, light or dark, up to 40 per megapixel
  scratches  thin curved lines 1..2 px wide, light or dark, fading along their length, up to 8 per photo
Training draws wider ranges (TRAIN_RANGES): denser dust, so that a 128 px crop sees some. One kind more exists
(TRAIN_KINDS), short cracks: the scratches of a real print are not the long, even lines above but many short,
ragged ones, 1..4 px wide along their length, often branched, mostly light where the emulsion has flaked off; the
evaluation measures them and the crack detector learns them. `print_damage` lifts the real cracks off a scanned
print as a layer, and `add_print_damage` adds a window of it to another photo (the crack detector's training).
They are applied in the order a print meets them: grain (in the emulsion), dust and scratches (on the surface),
blur (the scanner's optics), noise (its sensor), sharpening (its software), JPEG (the file). `Damage.scale`
multiplies every size in pixels (and divides the dust density by its square): the same damage on a photo scanned
`scale` times larger.
Global tone (fading, low contrast) is not damage here: `tone` makes the low-contrast *clean* targets that teach
the restorer to leave tone alone. Nor is sharpening (Damage.sharpen, not a kind): a scan's unsharp mask is part of
the photo the user has, and the restorer keeps it; it gives every scratch and speck dark fringes beside its light
core, which the evaluation's `sharpened` group measures.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from scipy.ndimage import gaussian_filter

from train.data import random_turn

KINDS = ("noise", "grain", "blur", "jpeg", "dust", "scratches")  # the issue's kinds: the evaluation's groups
TRAIN_KINDS = (*KINDS, "cracks")
ISSUE_RANGES = {"noise": (3, 15), "grain": (3, 15), "blur": (0.5, 1.5), "jpeg": (30, 80), "dust": (10, 40),
                "scratches": (1, 8)}  # fmt: skip
TRAIN_RANGES = {"noise": (2, 20), "grain": (2, 20), "blur": (0.4, 1.8), "jpeg": (25, 90), "dust": (20, 3000),
                "scratches": (1, 8), "cracks": (1, 24)}  # fmt: skip
SUPERSAMPLE = 4  # dust and scratches are drawn at 4x and averaged down: anti-aliased, sub-pixel widths


@dataclass(frozen=True)
class Damage:
    """One combination of damage; 0 switches a kind off. Levels are of 255; sizes in pixels times `scale`."""

    noise: float = 0.0  # Gaussian sigma, 8-bit levels
    grain: float = 0.0  # film-grain sigma in the mid-tones, 8-bit levels
    blur: float = 0.0  # Gaussian sigma, px
    jpeg: int = 0  # quality 1..95
    dust: float = 0.0  # spots per megapixel (at scale 1)
    scratches: int = 0  # lines per photo
    cracks: int = 0  # short ragged cracks per photo (a training kind, TRAIN_KINDS)
    sharpen: float = 0.0  # the scan's unsharp-mask amount (not a damage kind: the target gets it too)
    sharpen_radius: float = 1.0  # its Gaussian sigma, px
    scale: float = 1.0

    def kinds(self) -> list[str]:
        """The damage kinds switched on."""
        return [k for k in TRAIN_KINDS if getattr(self, k)]


def to_float(gray: np.ndarray) -> np.ndarray:
    """uint8 HxW -> float32 HxW in 0..1."""
    return gray.astype(np.float32) / 255.0


def to_uint8(x: np.ndarray) -> np.ndarray:
    """float32 HxW (0..1, clipped) -> uint8 HxW, rounded: what a scanner or file stores."""
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def gaussian_noise(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """float32 HxW 0..1 plus white Gaussian noise of `sigma` 8-bit levels (not clipped)."""
    return x + rng.standard_normal(x.shape, dtype=np.float32) * np.float32(sigma / 255.0)


def film_grain(x: np.ndarray, sigma: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """float32 HxW 0..1 plus film grain: white noise smoothed to grains of 0.5..1 px (times scale), rescaled to
    `sigma` levels and weighted by 2*sqrt(y(1-y)) (1 at mid-gray, less in deep shadows and highlights)."""
    size = rng.uniform(0.5, 1.0) * scale
    field = gaussian_filter(rng.standard_normal(x.shape, dtype=np.float32), size, mode="wrap")
    field /= max(float(field.std()), 1e-6)
    weight = 2.0 * np.sqrt(np.clip(x * (1.0 - x), 0.0, 0.25)) + 0.1
    return x + field * weight * np.float32(sigma / 255.0)


def blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """float32 HxW, Gaussian blur of `sigma` px (reflecting borders)."""
    return gaussian_filter(x, sigma, mode="reflect", truncate=3.0)


def sharpen(x: np.ndarray, amount: float, radius: float) -> np.ndarray:
    """float32 HxW 0..1 through an unsharp mask, x + amount (x - blur(x, radius px)), not clipped."""
    return x + np.float32(amount) * (x - blur(x, radius))


def jpeg(gray: np.ndarray, quality: int) -> np.ndarray:
    """uint8 HxW -> uint8 HxW through a grayscale JPEG of `quality` (Pillow)."""
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(buf).convert("L"))


def _blend(x: np.ndarray, alpha: np.ndarray, light: np.ndarray | bool, strength: np.ndarray | float) -> np.ndarray:
    """Mix damage into x (float32 HxW 0..1) where alpha (HxW 0..1) covers it: towards white if light, else towards
    black, by `strength` (0..1)."""
    a = alpha * strength
    return np.where(light, x + a * (1.0 - x), x * (1.0 - a)).astype(np.float32)


def _supersampled(shape: tuple[int, int]) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    mask = Image.new("L", (shape[1] * SUPERSAMPLE, shape[0] * SUPERSAMPLE), 0)
    return mask, ImageDraw.Draw(mask)


def _downsampled(mask: Image.Image, shape: tuple[int, int]) -> np.ndarray:
    """The 4x mask averaged down to HxW, float32 0..1."""
    return np.asarray(mask.resize((shape[1], shape[0]), Image.Resampling.BOX), dtype=np.float32) / 255.0


def dust(x: np.ndarray, per_mp: float, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """float32 HxW 0..1 with Poisson(per_mp x megapixels / scale^2) soft elliptic spots 1..3 px (times scale)
    across, at least one (a dusty photo has some dust, even a small one at 40 per megapixel), each light or dark
    at strength 0.4..1."""
    h, w = x.shape
    n = max(1, rng.poisson(per_mp * h * w / 1e6 / scale**2))
    light, strength = np.zeros((h, w), bool), np.zeros((h, w), np.float32)
    mask, draw = _supersampled((h, w))
    for _ in range(n):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        d = rng.uniform(1.0, 3.0) * scale
        ry, rx = d / 2, d / 2 * rng.uniform(0.6, 1.0)
        box = [SUPERSAMPLE * v for v in (cx - rx, cy - ry, cx + rx, cy + ry)]
        draw.ellipse(box, fill=255)
        # The spot's kind and strength over its bounding pixels (spots rarely touch; the last one drawn wins).
        ys, xs = slice(max(0, int(cy - ry)), int(cy + ry) + 1), slice(max(0, int(cx - rx)), int(cx + rx) + 1)
        light[ys, xs], strength[ys, xs] = rng.random() < 0.5, rng.uniform(0.4, 1.0)
    return _blend(x, _downsampled(mask, (h, w)), light, strength)


def _scratch_path(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Points (k,2) as (x, y) in pixels of one scratch, 0.2..1 of the diagonal long, near-vertical half of the
    time: a gentle bend (a scraped print or film), or, half of the time, a jagged crack (the emulsion's cracks on
    old prints: a direction that wanders from segment to segment)."""
    n = 32
    angle = rng.normal(np.pi / 2, 0.15) if rng.random() < 0.5 else rng.uniform(0, np.pi)
    length = rng.uniform(0.2, 1.0) * np.hypot(h, w)
    if rng.random() < 0.5:  # jagged: a random walk of the direction, steps of length / (n - 1)
        turns = angle + np.cumsum(rng.normal(0.0, 0.35, n - 1))
    else:  # a bend: the direction turns steadily by up to about 30 degrees over the length
        turns = angle + np.linspace(0.0, rng.normal(0.0, 0.5), n - 1)
    steps = np.stack([np.cos(turns), np.sin(turns)], 1) * length / (n - 1)
    path = np.concatenate([np.zeros((1, 2)), np.cumsum(steps, 0)])
    start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    return start + path - path[n // 2] + rng.normal(0, 0.2 * scale, (n, 2))


def scratches(x: np.ndarray, count: int, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """float32 HxW 0..1 with `count` thin scratches, 1..2 px wide (times scale), each light or dark at strength
    0.3..1 that fades along its length."""
    h, w = x.shape
    out = x
    for _ in range(int(count)):
        mask, draw = _supersampled((h, w))
        width = max(1, round(SUPERSAMPLE * rng.uniform(1.0, 2.0) * scale))
        pts = _scratch_path(rng, h, w, scale) * SUPERSAMPLE
        # fill 0..255 per segment: a strength that rises and falls along the scratch (k-1 segments)
        fade = np.sin(np.linspace(0, np.pi, len(pts) - 1)) ** rng.uniform(0.2, 1.0)
        for (p, q), f in zip(itertools.pairwise(pts), fade):
            draw.line([tuple(p), tuple(q)], fill=int(255 * f), width=width)
        out = _blend(out, _downsampled(mask, (h, w)), rng.random() < 0.5, rng.uniform(0.3, 1.0))
    return out


def _crack_paths(rng: np.random.Generator, h: int, w: int, scale: float) -> list[np.ndarray]:
    """Points (k,2) as (x, y) in pixels of one short crack and, half of the time, a branch from one of its points:
    4..16 segments of 2..6 px (times scale) whose direction wanders by 0.45 rad from one to the next."""
    paths, start, angle = [], np.array([rng.uniform(0, w), rng.uniform(0, h)]), rng.uniform(0, 2 * np.pi)
    for _ in range(1 + (rng.random() < 0.5)):
        n = int(rng.integers(4, 17))
        turns = angle + np.cumsum(rng.normal(0.0, 0.45, n))
        steps = np.stack([np.cos(turns), np.sin(turns)], 1) * rng.uniform(2.0, 6.0) * scale
        paths.append(start + np.concatenate([np.zeros((1, 2)), np.cumsum(steps, 0)]))
        start, angle = paths[0][rng.integers(len(paths[0]))], angle + rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)
    return paths


def cracks(x: np.ndarray, count: int, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """float32 HxW 0..1 with `count` short ragged cracks (_crack_paths), each segment 1..4 px wide (times scale;
    mostly near 1, a hairline, now and then a flake), light (4 in 5) or dark at strength 0.4..1."""
    h, w = x.shape
    out = x
    for _ in range(int(count)):
        mask, draw = _supersampled((h, w))
        for path in _crack_paths(rng, h, w, scale):
            for p, q in itertools.pairwise(path * SUPERSAMPLE):
                width = max(1, round(SUPERSAMPLE * min(4.0, 1.0 + rng.exponential(0.6)) * scale))
                draw.line([tuple(p), tuple(q)], fill=255, width=width)
        out = _blend(out, _downsampled(mask, (h, w)), rng.random() < 0.8, rng.uniform(0.4, 1.0))
    return out


def print_damage(gray: np.ndarray, threshold: float = 25.0, min_length: int = 16) -> np.ndarray:
    """The cracks of a real scanned print as a layer to add to other photos: gray uint8 HxW -> float32 HxW, the
    print's difference from its 11 px median (0..1 scale, about -0.5..0.8) where it has thin light structures,
    0 elsewhere. Thin and light: more than `threshold` 8-bit levels above the print's grey opening over 7x7 px
    (a flake up to 6 px wide); in connected pieces at least `min_length` px long or high, so that eyes, lips and
    buttons mostly stay out; grown by 2 px to take the dark fringes of the scan's sharpening along."""
    g = gray.astype(np.float32)
    thin = g - ndimage.grey_opening(g, size=(7, 7)) > threshold
    labels, _ = ndimage.label(thin, structure=np.ones((3, 3)))
    long = [max(s.stop - s.start for s in box) >= min_length for box in ndimage.find_objects(labels)]
    mask = ndimage.binary_dilation(np.r_[False, long][labels], iterations=2)
    return np.where(mask, (g - ndimage.median_filter(g, size=11)) / 255.0, 0.0).astype(np.float32)


def add_print_damage(x: np.ndarray, layers: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """float32 HxW 0..1 plus a window of one of `layers` (print_damage), at a random place, quarter turn and
    mirror, times 0.6..1.2 (not clipped), with a random 10..100 % of its cracks (connected pieces): the prints the
    layers come from are cracked all over, a lightly cracked one has a few; a layer smaller than x is tiled with
    its mirror image."""
    layer = random_turn(layers[rng.integers(len(layers))], rng)
    h, w = x.shape
    if layer.shape[0] < h or layer.shape[1] < w:
        layer = np.pad(layer, ((0, max(0, h - layer.shape[0])), (0, max(0, w - layer.shape[1]))), mode="symmetric")
    y0, x0 = rng.integers(layer.shape[0] - h + 1), rng.integers(layer.shape[1] - w + 1)
    window = layer[y0 : y0 + h, x0 : x0 + w]
    labels, n = ndimage.label(window != 0, structure=np.ones((3, 3)))
    keep = np.r_[False, rng.random(n) < rng.uniform(0.1, 1.0)]
    return x + np.where(keep[labels], window, 0) * np.float32(rng.uniform(0.6, 1.2))


def apply_damage(gray: np.ndarray, damage: Damage, rng: np.random.Generator) -> np.ndarray:
    """Clean gray uint8 HxW -> damaged gray uint8 HxW, in the order a print meets the damage (module docstring)."""
    if not damage.kinds() and not damage.sharpen:
        return gray.copy()
    x, s = to_float(gray), damage.scale
    if damage.grain:
        x = film_grain(x, damage.grain, rng, s)
    if damage.dust:
        x = dust(np.clip(x, 0, 1), damage.dust, rng, s)
    if damage.scratches:
        x = scratches(np.clip(x, 0, 1), damage.scratches, rng, s)
    if damage.cracks:
        x = cracks(np.clip(x, 0, 1), damage.cracks, rng, s)
    if damage.blur:
        x = blur(x, damage.blur * s)
    if damage.noise:
        x = gaussian_noise(x, damage.noise, rng)
    if damage.sharpen:
        x = sharpen(x, damage.sharpen, damage.sharpen_radius * s)
    out = to_uint8(x)
    return jpeg(out, damage.jpeg) if damage.jpeg else out


def draw(kind: str, rng: np.random.Generator, ranges: dict) -> float | int:
    """A strength for one damage kind, uniform in its range (dust: log-uniform, it spans two decades)."""
    lo, hi = ranges[kind]
    if kind == "dust":
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    if kind in ("jpeg", "scratches", "cracks"):
        return int(rng.integers(lo, hi + 1))
    return float(rng.uniform(lo, hi))


def random_damage(rng: np.random.Generator, p_each: float, p_alone: dict | None = None) -> Damage:
    """Training damage: one kind alone with its probability in `p_alone` (e.g. {"jpeg": 0.2}: a fifth of the
    draws are JPEG and nothing else), else each of KINDS switched on with probability p_each; each at a strength
    drawn from TRAIN_RANGES."""
    if p_alone:
        u = rng.random()  # drawn only when p_alone is set
        for kind, p in p_alone.items():
            if u < p:
                return Damage(**{kind: draw(kind, rng, TRAIN_RANGES)})
            u -= p
    on = [k for k in KINDS if rng.random() < p_each]
    return Damage(**{k: draw(k, rng, TRAIN_RANGES) for k in on})


def mixed_damage(rng: np.random.Generator, ranges: dict = ISSUE_RANGES) -> Damage:
    """The evaluation's mixed group: 2 to 4 different kinds at the issue's strengths."""
    kinds = rng.choice(KINDS, int(rng.integers(2, 5)), replace=False)
    return Damage(**{str(k): draw(str(k), rng, ranges) for k in kinds})


def tone(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A clean photo with a faded, low-contrast tone (gray uint8 HxW -> uint8 HxW): contrast 0.35..0.9 around a
    level of 0.3..0.75 and a gamma of 0.7..1.4. The restorer must leave such a photo as it is."""
    x = to_float(gray) ** np.float32(rng.uniform(0.7, 1.4))
    level, contrast = rng.uniform(0.3, 0.75), rng.uniform(0.35, 0.9)
    return to_uint8(level + contrast * (x - x.mean()))
