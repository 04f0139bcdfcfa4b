"""Simulated colour hints for training a colorizer/2 network, and the loss that teaches it to follow them.
(The evaluation's hint protocol is train.colorize.metrics.protocol_hints.)

Hints are simulated as Zhang et al. (2017) did for their user-guided network: a share of the crops get none (so
the network keeps its automatic colouring), the others a geometric number of square patches (mean MEAN_COUNT)
of 1..MAX_PATCH px at uniform positions, each patch's colour the mean a*b* of the truth under it. The map has
the layout the library draws (colorizer.hints.hint_map): a*, b* in Lab units and a 0/1 mask, the later patch
winning where patches overlap.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

MEAN_COUNT = 7.0  # mean number of hints on a crop that has any
MAX_PATCH = 9  # px: patches are 1..MAX_PATCH px square
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
