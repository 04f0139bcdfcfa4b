"""Losses: rarity-rebalanced cross-entropy over ab cells for colour, the three standard GAN losses, and the
restorer's per-crop losses (RESTORE_LOSSES).

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

from train.bins import BINS, ab_to_bin


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


def d_loss(real: torch.Tensor, fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Discriminator loss from logits on real and generated pairs; lower when real > fake."""
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(
            fake, torch.zeros_like(fake)
        )
    if kind == "lsgan":
        return ((real - 1) ** 2).mean() + (fake**2).mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


def g_loss(fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Generator's adversarial loss from the discriminator's logits on generated pairs; lower when fake is high."""
    if kind == "hinge":
        return -fake.mean()
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if kind == "lsgan":
        return ((fake - 1) ** 2).mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


# The restorer's losses: out and target float32 [N,1,h,w] 0..1 (train.restore)
PSNR_EPS = 1e-6  # (0.26 levels of 255)^2: below it an error no longer shows once the output is rounded to 8 bits


def crop_mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Each crop's mean squared error, [N], of out and target float32 [N,1,h,w] 0..1."""
    return (out - target).square().mean((1, 2, 3))


def psnr_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Minus the mean PSNR of the crops: 10 log10(mse_i + PSNR_EPS) averaged over the batch, out and target
    float32 [N,1,h,w] 0..1. Each crop's gradient is divided by its own error, so a crop with little to repair
    (clean, a few specks, light JPEG) weighs as much as a badly damaged one, as in the evaluation's mean PSNR of
    each group; with plain mse the few large errors of heavy damage set the direction and the near-perfect crops
    are left a level or two off."""
    return 10 * torch.log10(crop_mse(out, target) + PSNR_EPS).mean()


def rmse_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean over the batch of each crop's root mean square error (+PSNR_EPS inside the root), out and target
    float32 [N,1,h,w] 0..1: each crop's gradient divided by the square root of its error, half-way between mse
    (all crops alike) and psnr_loss (each crop by its own error)."""
    return (crop_mse(out, target) + PSNR_EPS).sqrt().mean()


RESTORE_LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss, "psnr": psnr_loss, "rmse": rmse_loss}
