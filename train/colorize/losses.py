"""The colorizers' losses: rarity-rebalanced cross-entropy over ab cells, and the GAN's hinge loss.

Rebalancing (after Zhang et al., ECCV 2016): ab is quantised on a BIN x BIN grid of BIN_SIZE-unit cells.
With p the empirical distribution of training pixels over the cells, a pixel in cell q gets the weight
    w(q) = 1 / ((1 - lam) * p(q) + lam / Q),  scaled so that sum_q p(q) * w(q) = 1,
where Q is the number of cells that occur. The weights' expectation over training pixels is therefore 1:
the loss keeps its scale, but rare saturated colours count more than the common near-grays.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from train.colorize.bins import BINS, ab_to_bin


def ab_histogram(ab_int8: list[np.ndarray]) -> np.ndarray:
    """Empirical cell distribution p (float64, BINS**2, sums to 1) of a list of ab int8 HxWx2 arrays."""
    counts = np.zeros(BINS * BINS, np.float64)
    for ab in ab_int8:
        idx = ab_to_bin(torch.from_numpy(ab[::2, ::2].astype(np.float32)).permute(2, 0, 1)[None]).flatten()
        counts += np.bincount(idx.numpy(), minlength=BINS * BINS)
    return counts / counts.sum()


def rebalance_weights(p: np.ndarray, lam: float) -> np.ndarray:
    """Per-cell weights (float32, BINS**2) with sum(p * w) == 1; cells with p == 0 get weight 0."""
    seen = p > 0
    w = np.zeros_like(p)
    w[seen] = 1.0 / ((1 - lam) * p[seen] + lam / seen.sum())
    return (w / (p * w).sum()).astype(np.float32)


def log_cell_weights(p: np.ndarray, lam: float) -> np.ndarray:
    """log of the weight each cell gets in training (float32, BINS**2): log rebalance_weights(p, lam), or 0 when
    lam == 0 (no rebalancing); -inf for cells never seen. A classification CNN keeps it to undo the weighting."""
    w = rebalance_weights(p, lam) if lam > 0 else (p > 0).astype(np.float32)
    with np.errstate(divide="ignore"):
        return np.log(w).astype(np.float32)


def weighted_ce(logits: torch.Tensor, target_ab: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Cross-entropy of cell logits [N,Q,h,w] against the cells of target ab [N,2,H,W] average-pooled to h x w,
    each pixel weighted by the rarity of its cell (None: unweighted). Mean over pixels."""
    factor = target_ab.shape[-1] // logits.shape[-1]
    target = ab_to_bin(F.avg_pool2d(target_ab, factor) if factor > 1 else target_ab)  # [N,h,w]
    ce = F.cross_entropy(logits.float(), target, reduction="none")
    return (ce * weights[target]).mean() if weights is not None else ce.mean()


def d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's hinge loss from its logits on real and generated pairs; lower when real > fake."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def g_loss(fake: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial (hinge) loss from the discriminator's logits on generated pairs; lower when
    fake is high."""
    return -fake.mean()
