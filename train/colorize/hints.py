"""Simulated colour hints: for training a colorizer/2 network (with the loss that teaches it to follow them), and
the fixed protocol python -m train.colorize.evaluate --hints measures with.

Hints are simulated as Zhang et al. (2017) did for their user-guided network: a share of the crops get none (so
the network keeps its automatic colouring), the others a geometric number of square patches (mean MEAN_COUNT)
of 1..MAX_PATCH px at uniform positions, each patch's colour the mean a*b* of the truth under it. The map has
the layout the library draws (colorizer.hints.hint_map): a*, b* in Lab units and a 0/1 mask, the later patch
winning where patches overlap.
The evaluation protocol places hints as a user might, anywhere: uniform random positions in the full-resolution
photo, seeded by the file name, each hint's colour the truth's mean over a 5x5 px patch there.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch
import torch.nn.functional as F

MEAN_COUNT = 7.0  # mean number of hints on a crop that has any
MAX_PATCH = 9  # px: patches are 1..MAX_PATCH px square
PROTOCOL_PATCH = 5  # px: the protocol's hint colour is the truth's mean over this square
AB_SCALE = 10.0  # the hint loss is in a*b* / AB_SCALE, about the cross-entropy's scale


def simulate_hints(rng: np.random.Generator, ab: np.ndarray, p_none: float) -> np.ndarray:
    """Hint maps float32 [n,3,s,s] (a*, b*, mask) for a batch of true a*b* float32 [n,2,s,s] (Lab units): with
    probability p_none a crop gets none, else a geometric number (mean MEAN_COUNT) of square patches of uniform
    size 1..MAX_PATCH px at uniform positions, each the mean a*b* of the truth under it."""
    n, _, h, w = ab.shape
    hints = np.zeros((n, 3, h, w), np.float32)
    for i in range(n):
        if rng.random() < p_none:
            continue
        for _ in range(rng.geometric(1.0 / MEAN_COUNT)):
            size = int(rng.integers(1, MAX_PATCH + 1))
            y, x = rng.integers(h - size + 1), rng.integers(w - size + 1)
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


def protocol_hints(rgb: np.ndarray, name: str, count: int) -> list[tuple[int, int, tuple[int, int, int]]]:
    """The evaluation's `count` hints for a colour photo RGB uint8 HxWx3 named `name`, as the library takes them:
    [(x, y, (r, g, b))], uniform positions (seeded by the name, so every run and every model gets the same, and
    the first k of a longer list are the k-hint set), each colour the mean over PROTOCOL_PATCH px around it."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    h, w = rgb.shape[:2]
    hints = []
    for _ in range(count):  # one hint after another: the first k are the same for every count
        x, y = int(rng.integers(w)), int(rng.integers(h))
        r = PROTOCOL_PATCH // 2
        patch = rgb[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].reshape(-1, 3)
        hints.append((x, y, tuple(int(c) for c in np.rint(patch.mean(0)))))
    return hints
