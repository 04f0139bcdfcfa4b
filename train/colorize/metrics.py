"""Image-quality figures shared by training-time validation and the evaluation tool, and the fixed protocol that
places colour hints for them (protocol_hints), with the non-learned way to follow hints that a hint network is
measured against (spread). Torch-free, so that the benchmark can use it too.

All functions take RGB uint8 HxWx3 (sRGB) arrays of equal shape. `summarise` gives a set's figures;
`photo_figures` and `pool` split it in two, so that one set of per-photo figures can be pooled over subsets.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import ndimage
from skimage.color import deltaE_ciede2000
from skimage.metrics import peak_signal_noise_ratio

from colorizer.color import lab_to_rgb, rgb_to_lab

HUE_SECTORS = 6  # sectors of the original's hue angle, 60° each, the first starting at the +a* axis (0°)
HUE_TRUE_CHROMA = 20.0  # C* from which an original's pixel is clearly coloured, so that its hue is defined
HUE_PRED_CHROMA = 10.0  # C* an output needs to show a hue at all: below it, gray with hue noise
HUE_TOLERANCE = 30.0  # degrees: an output hue within it of the truth is a hit
PROTOCOL_PATCH = 5  # px: a protocol hint's colour is the truth's mean over this square
SURFACE_L, SURFACE_AB = 8.0, 12.0  # a surface: connected pixels within this L* and |Δa*b*| of its seed pixel
FOREIGN_CHROMA = 30.0  # a foreign hint's least chroma (Lab units)


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """RGB PSNR in dB over all three channels (peak 255)."""
    return float(peak_signal_noise_ratio(target, pred, data_range=255))


def de00(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference (Lab units)."""
    return float(deltaE_ciede2000(rgb_to_lab(target), rgb_to_lab(pred)).mean())


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk (2003) colourfulness M: 0 for gray, about 30-60 for ordinary photos."""
    r, g, b = (rgb[..., k].astype(np.float64) for k in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def chroma_hue(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CIE Lab chroma C* = hypot(a*, b*) and hue angle h = atan2(b*, a*) in degrees 0..360, float32 HxW each."""
    lab = rgb_to_lab(rgb)
    return np.hypot(lab[..., 1], lab[..., 2]), np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360


def hue_counts(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sector of the true hue: (hits, totals), int64 arrays of HUE_SECTORS, to be summed over photos.

    totals: the original's pixels with C* >= HUE_TRUE_CHROMA, by sector floor(h / 60°). hits: those of them
    whose output has C* >= HUE_PRED_CHROMA and a hue within HUE_TOLERANCE of the truth (around the circle).
    """
    c_true, h_true = chroma_hue(target)
    c_pred, h_pred = chroma_hue(pred)
    coloured = c_true >= HUE_TRUE_CHROMA
    h_true, c_pred, h_pred = h_true[coloured], c_pred[coloured], h_pred[coloured]
    # % HUE_SECTORS: a hue a hair below 0° can round to 360.0 in float32, which is sector 0.
    sector = (h_true // (360 / HUE_SECTORS)).astype(np.int64) % HUE_SECTORS
    diff = np.abs(h_pred - h_true)
    hit = (c_pred >= HUE_PRED_CHROMA) & (np.minimum(diff, 360 - diff) <= HUE_TOLERANCE)
    return np.bincount(sector[hit], minlength=HUE_SECTORS), np.bincount(sector, minlength=HUE_SECTORS)


def hue_hit(hits: np.ndarray, totals: np.ndarray) -> float:
    """The mean over sectors of hits / totals (counts from hue_counts, pooled over photos), 0..1.

    Every hue counts the same however many pixels it has: a constant tint hits at most about one sector's worth
    (1/6 to 1/3), gray scores 0. Sectors without pixels are left out of the mean; 0 if no sector has any.
    """
    seen = totals > 0
    return float(np.mean(hits[seen] / totals[seen])) if seen.any() else 0.0


def hue_hit_sectors(hits: np.ndarray, totals: np.ndarray) -> list[float | None]:
    """Per sector (0-60°, 60-120°, ... of the true hue), hits / totals; None for a sector without pixels. Shows
    which hues a model gets wrong (hue_hit is their mean)."""
    return [float(h / t) if t > 0 else None for h, t in zip(hits, totals)]


def photo_figures(pred: np.ndarray, target: np.ndarray) -> dict:
    """One photo's figures for pool(): psnr, de00, cf (of pred), cf_target (floats), hue_hits, hue_totals."""
    hits, totals = hue_counts(pred, target)
    return {
        "psnr": psnr(pred, target),
        "de00": de00(pred, target),
        "cf": colourfulness(pred),
        "cf_target": colourfulness(target),
        "hue_hits": hits,
        "hue_totals": totals,
    }


def pooled_hue_counts(figures: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(hits, totals) per hue sector, summed over photos' photo_figures."""
    return sum(f["hue_hits"] for f in figures), sum(f["hue_totals"] for f in figures)


def pool(figures: list[dict]) -> dict:
    """A set's figures from its photos' photo_figures: means of psnr, de00, cf (of preds); cf_ratio (mean cf of
    preds / of targets); hue_hit of the hue counts summed over the photos (each hue weighs the same); n."""

    def mean(key: str) -> float:
        return float(np.mean([f[key] for f in figures]))

    cf, cf_target = mean("cf"), mean("cf_target")
    return {
        "psnr": mean("psnr"),
        "de00": mean("de00"),
        "cf": cf,
        "cf_ratio": cf / cf_target if cf_target > 0 else 0.0,
        "hue_hit": hue_hit(*pooled_hue_counts(figures)),
        "n": len(figures),
    }


def summarise(preds: list[np.ndarray], targets: list[np.ndarray]) -> dict:
    """The set's figures (see pool) of outputs `preds` against originals `targets`, in the same order."""
    return pool([photo_figures(p, t) for p, t in zip(preds, targets)])


def protocol_hints(rgb: np.ndarray, name: str, count: int) -> list[tuple[int, int, tuple[int, int, int]]]:
    """The evaluation's `count` hints for a colour photo RGB uint8 HxWx3 named `name`, as the library takes them:
    [(x, y, (r, g, b))], placed as a user might, anywhere: uniform positions (seeded by the name, so every run and
    every model gets the same, and the first k of a longer list are the k-hint set), each colour the truth's mean
    over PROTOCOL_PATCH px around it."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    h, w = rgb.shape[:2]
    hints = []
    for _ in range(count):  # one hint after another: the first k are the same for every count
        x, y = int(rng.integers(w)), int(rng.integers(h))
        r = PROTOCOL_PATCH // 2
        patch = rgb[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].reshape(-1, 3)
        hints.append((x, y, tuple(int(c) for c in np.rint(patch.mean(0)))))
    return hints


def surface_at(lum: np.ndarray, ab: np.ndarray, y: int, x: int) -> np.ndarray:
    """The surface pixel (y, x) lies on: the connected pixels within SURFACE_L of its L* and SURFACE_AB of its a*b*.
    lum float HxW (L* 0..100), ab float 2xHxW (Lab units) -> bool HxW."""
    alike = (np.abs(lum - lum[y, x]) < SURFACE_L) & (np.hypot(*(ab - ab[:, y, x, None, None])) < SURFACE_AB)
    labels, _ = ndimage.label(alike)
    return labels == labels[y, x]


def foreign_hint(rgb: np.ndarray, name: str) -> tuple[tuple[int, int, tuple[int, int, int]], np.ndarray]:
    """A hint of a colour the photo RGB uint8 HxWx3 does not have there, as a user recolouring one thing: at the
    first protocol hint's position, the truth's colour there with its hue turned 180° and its chroma at least
    FOREIGN_CHROMA (same L*). Returns the hint (x, y, (r, g, b)) and the surface it lies on (bool HxW)."""
    ((x, y, colour),) = protocol_hints(rgb, name, 1)
    lab = rgb_to_lab(rgb)
    seed = rgb_to_lab(np.array([[colour]], np.uint8))[0, 0, 1:]
    chroma, angle = max(FOREIGN_CHROMA, float(np.hypot(*seed))), float(np.arctan2(seed[1], seed[0])) + np.pi
    ab = np.array([[[chroma * np.cos(angle), chroma * np.sin(angle)]]], np.float32)
    foreign = tuple(int(c) for c in lab_to_rgb(lab[y : y + 1, x : x + 1, 0], ab)[0, 0])
    return (x, y, foreign), surface_at(lab[..., 0], lab[..., 1:].transpose(2, 0, 1), y, x)


def foreign_change(plain: np.ndarray, hinted: np.ndarray, surface: np.ndarray) -> tuple[float, float]:
    """How far a foreign hint moved the colours (mean |Δa*b*|, Lab units, between outputs RGB uint8 HxWx3 without
    and with it): on its surface, and outside it beyond a margin of 1/40 of the long side (where a hint of one
    thing's new colour should change nothing)."""
    change = np.hypot(*(rgb_to_lab(hinted)[..., 1:] - rgb_to_lab(plain)[..., 1:]).transpose(2, 0, 1))
    near = ndimage.binary_dilation(surface, iterations=max(1, max(surface.shape) // 40))
    return float(change[surface].mean()), float(change[~near].mean()) if (~near).any() else 0.0


def spread(
    ab: np.ndarray, lum: np.ndarray, positions: list[tuple], reach: float = 0.3, l_sigma: float = 6.0
) -> np.ndarray:
    """The non-learned way to follow hints: each hint's residual (its ab minus `ab` at its cell) spread over the
    picture with a Gaussian weight in space (sigma `reach` x the long side) times a Gaussian in L* (sigma
    `l_sigma`, so the colour stays on the hinted surface), the sum divided by max(1, total weight) so that it never
    overshoots: at a lone hint's cell the result is the hint's colour.

    ab float32 [2,h,w] (a network's output at the render size), lum float32 [h,w] (L* 0..100 at that size),
    positions from colorizer.hints.render_positions -> float32 [2,h,w].
    """
    if not positions:
        return ab
    h, w = lum.shape
    ys, xs = np.arange(h, dtype=np.float32)[:, None], np.arange(w, dtype=np.float32)[None, :]
    two_s2 = 2 * (reach * max(h, w)) ** 2
    total, shift = np.zeros((h, w), np.float32), np.zeros_like(ab)
    for cy, cx, target in positions:
        weight = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / two_s2 - (lum - lum[cy, cx]) ** 2 / (2 * l_sigma**2))
        total += weight
        shift += weight * (target - ab[:, cy, cx])[:, None, None]
    return (ab + shift / np.maximum(1.0, total)).astype(np.float32)
