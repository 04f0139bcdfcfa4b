"""The quantised ab grid shared by rarity rebalancing and the classification head.

ab is cut into BINS x BINS square cells of BIN_SIZE Lab units, covering -130..130 on each axis.
"""

from __future__ import annotations

import torch

BIN_SIZE = 10  # Lab units per cell
BINS = 26  # cells per axis: covers -130..130


def ab_to_bin(ab: torch.Tensor) -> torch.Tensor:
    """ab [N,2,H,W] (Lab units) -> cell index [N,H,W] int64 in 0..BINS**2-1."""
    idx = torch.clamp(((ab + BIN_SIZE * BINS / 2) / BIN_SIZE).long(), 0, BINS - 1)
    return idx[:, 0] * BINS + idx[:, 1]


def bin_to_ab(index: torch.Tensor) -> torch.Tensor:
    """Cell index [...] int64 -> ab of the cell centre [..., 2] float32 (Lab units)."""
    a, b = index // BINS, index % BINS
    return (torch.stack([a, b], -1).float() + 0.5) * BIN_SIZE - BIN_SIZE * BINS / 2
