"""Simulated colour hints for training a colorizer/2 network, and the loss that teaches it to follow them.
(The evaluation's hint protocol is train.colorize.metrics.protocol_hints.)

Hints are simulated as Zhang et al. (2017) did for their user-guided network: a share of the crops get none (so
the network keeps its automatic colouring), the others a geometric number of square patches (mean MEAN_COUNT)
of 1..MAX_PATCH px at uniform positions, each patch's colour the mean a*b* of the truth under it. The map has
the layout the library draws (colorizer.hints.hint_map): a*, b* in Lab units and a 0/1 mask, the later patch
winning where patches overlap.

Hints of the truth's own colours reward spreading far: neighbouring surfaces often share a colour. A user's hint
is often a colour the photo did not have (a red cup on a brown table), and should stay on its surface. So a share
of the crops (recolour) get one surface recoloured first: a connected region of similar L* and a*b* around a
random pixel, its a*b* shifted to a random hue and chroma, and 1..3 of the crop's hints inside it. The branch
then learns where a hint's colour ends from the picture.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from train.colorize.metrics import surface_at

MEAN_COUNT = 7.0  # mean number of hints on a crop that has any
MAX_PATCH = 9  # px: patches are 1..MAX_PATCH px square
AB_SCALE = 10.0  # the hint loss is in a*b* / AB_SCALE, about the cross-entropy's scale
SURFACE_SHARE = (0.02, 0.6)  # of the crop: smaller surfaces are retried, larger ones too (a whole sky)
CHROMA = (20.0, 70.0)  # Lab units: the recoloured surface's new mean chroma


def recolour(
    rng: np.random.Generator, lum: np.ndarray, ab: np.ndarray, p: float
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """With probability p per crop, one surface recoloured (module docstring): L* float32 [n,1,s,s] (0..100) and
    true a*b* float32 [n,2,s,s] -> the new truth (a copy) and per crop its surface (bool [s,s]) or None."""
    ab = ab.copy()
    surfaces: list[np.ndarray | None] = []
    for i in range(len(ab)):
        surface = find_surface(rng, lum[i, 0], ab[i]) if rng.random() < p else None
        if surface is not None:
            angle, chroma = rng.uniform(0, 2 * np.pi), rng.uniform(*CHROMA)
            shift = chroma * np.array([np.cos(angle), np.sin(angle)], np.float32) - ab[i][:, surface].mean(1)
            ab[i][:, surface] += shift[:, None]
        surfaces.append(surface)
    return ab, surfaces


def find_surface(rng: np.random.Generator, lum: np.ndarray, ab: np.ndarray, tries: int = 5) -> np.ndarray | None:
    """The surface (train.colorize.metrics.surface_at) of a random pixel of one crop (lum [s,s], ab [2,s,s]) that
    covers SURFACE_SHARE of it: bool [s,s], or None when `tries` seeds found none."""
    for _ in range(tries):
        y, x = rng.integers(lum.shape[0]), rng.integers(lum.shape[1])
        surface = surface_at(lum, ab, y, x)
        if SURFACE_SHARE[0] <= surface.mean() <= SURFACE_SHARE[1]:
            return surface
    return None


def simulate_hints(
    rng: np.random.Generator, ab: np.ndarray, p_none: float, surfaces: list[np.ndarray | None] | None = None
) -> np.ndarray:
    """Hint maps float32 [n,3,s,s] (a*, b*, mask) for a batch of true a*b* float32 [n,2,s,s] (Lab units): with
    probability p_none a crop gets none, else a geometric number (mean MEAN_COUNT) of square patches of uniform
    size 1..MAX_PATCH px at uniform positions, each the mean a*b* of the truth under it. A crop with a recoloured
    surface (`surfaces`, from recolour) always gets hints, the last 1..3 of them centred inside the surface."""
    n, _, h, w = ab.shape
    hints = np.zeros((n, 3, h, w), np.float32)
    for i in range(n):
        surface = surfaces[i] if surfaces else None
        if surface is None and rng.random() < p_none:
            continue
        centres = [(None, None)] * rng.geometric(1.0 / MEAN_COUNT)
        if surface is not None:
            inside = np.argwhere(surface)
            centres += [tuple(inside[rng.integers(len(inside))]) for _ in range(rng.integers(1, 4))]
        for cy, cx in centres:
            size = int(rng.integers(1, MAX_PATCH + 1))
            if cy is None:
                y, x = rng.integers(h - size + 1), rng.integers(w - size + 1)
            else:  # centred on (cy, cx), inside the crop
                y, x = np.clip(cy - size // 2, 0, h - size), np.clip(cx - size // 2, 0, w - size)
            patch = (slice(y, y + size), slice(x, x + size))
            hints[i, :2][(slice(None), *patch)] = ab[i, :, y : y + size, x : x + size].mean((1, 2))[:, None, None]
            hints[i, 2][patch] = 1.0
    return hints


def hint_loss(pred: torch.Tensor, truth: torch.Tensor, hints: torch.Tensor) -> torch.Tensor | None:
    """The hinted crops' regression loss: mean |pred - truth| over their pixels plus mean |pred - hint| over
    their hinted pixels (so hints come out as given), in a*b* / AB_SCALE. pred and truth [N,2,H,W] and hints
    [N,3,H,W] (a*, b*, mask); None when no crop of the batch has a hint."""
    mask = hints[:, 2:]
    hinted = mask.flatten(1).amax(1) > 0  # [N]
    if not hinted.any():
        return None
    pred, truth, hints, mask = pred[hinted], truth[hinted], hints[hinted], mask[hinted]
    whole = F.l1_loss(pred, truth)
    at_hints = ((pred - hints[:, :2]).abs() * mask).sum() / (2 * mask.sum())
    return (whole + at_hints) / AB_SCALE
