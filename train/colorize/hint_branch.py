"""The part of a colorizer/2 network that follows the user's colour hints (ColorCNN with hint_width > 0).

The automatic colouring is left as it is: the branch predicts a correction that is added to it,
    ab = automatic ab + upsample_x8(delta),    delta [N,2,H/8,W/8] in Lab units.
delta spreads each hint's residual (the hinted a*b* minus the automatic a*b* under it) explicitly, and learns
only where to apply it. At three scales (1/8, 1/16 and 1/32 of the input) the residuals are spread by a
normalised convolution (a sum-pool, a fixed Gaussian blur, upsampled back to 1/8), and once over the whole
picture: per cell, the weighted mean residual of the hints around it, their weight, and their mean appearance
(a learned projection of the decoder's 1/8 features, and L*). A small network compares each cell's own
appearance with the hints' at every scale and weighs the scales (a softmax over the four and "none"), so a hint's
colour runs over its own surface and stops where the picture changes. At 1/8, not 1/4: the same work at 1/4 cost
a sixth of the network's time. With zero weights it is a plain multi-scale
spread: training starts from a working propagation instead of learning one from nothing (a branch that had to
learn its own propagation gained +0.1 dB from 10 hints after 2,000 steps, where a Gaussian spread gains +2).
No hints gives exactly the automatic result, by construction: every spread residual is 0 / (0 + EPS) = 0.

With lum_bins > 0 the mean residual around a cell counts each hint by how alike its L* is to the cell's: the
residuals are splatted into soft L* bins (Gaussians at lum_bins evenly spaced L*, each cell's bin weights scaled
to unit length), spread bin by bin, and read back with the cell's own bin weights: a hint of equal L* counts
fully, one 20 L* units away about a third. A hint then stays off surfaces of another brightness at every scale
(a red cup's colour does not run onto the lighter table), and of many hints each cell follows those like it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

AB_UNIT = 50.0  # residuals are spread as a*b* / AB_UNIT
CELL = 8  # px of the input per cell of the branch
LEVELS = (1, 2, 4, 0)  # sum-pool factors from 1/CELL of the input: spreads at 1/8, 1/16 and 1/32; 0: global
EPS = 1e-3  # weight below which a cell has no hint around it
BLUR_SIGMA = 1.0  # cells of each level


def lum_bin_weights(lum: torch.Tensor, bins: int) -> torch.Tensor:
    """L* [N,1,h,w] (0..100) -> soft bin weights [N,bins,h,w]: Gaussians at `bins` evenly spaced L* (sigma the
    spacing), scaled to unit length per cell, so that the dot product of two cells' weights is 1 at equal L*."""
    centres = torch.linspace(0.0, 100.0, bins, device=lum.device).view(1, bins, 1, 1)
    sigma = 100.0 / (bins - 1)
    k = torch.exp(-((lum - centres) ** 2) / (2 * sigma**2))
    return k / torch.sqrt((k**2).sum(1, keepdim=True))


def pool_hints(ab: torch.Tensor, mask: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Hint a*b* [N,2,H,W] (Lab units) and mask [N,1,H,W] (0/1) at 1/factor of the size: the mask's max (a cell
    with any hinted pixel is hinted) and the hinted pixels' mean a*b* there (0 where the cell has none)."""
    covered = F.avg_pool2d(mask, factor)
    mean_ab = F.avg_pool2d(ab * mask, factor) / covered.clamp(min=1e-6)
    hinted = F.max_pool2d(mask, factor)
    return mean_ab * hinted, hinted


def gaussian_kernel(sigma: float, radius: int = 2) -> torch.Tensor:
    """A normalised 2-D Gaussian [1,1,2r+1,2r+1]."""
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    k = g[:, None] * g[None, :]
    return (k / k.sum())[None, None]


class HintBranch(nn.Module):
    """hints, the automatic a*b* and L* at 1/CELL, and the decoder's features there -> delta [N,2,H/8,W/8].

    width: the channels of the learned appearance a hint carries (plus L*); features: the decoder's channels at
    1/CELL. levels: how many of the spreads, finest first (LEVELS: 1/8, 1/16, 1/32, the whole picture), may carry
    a hint's colour. Exported with fewer than trained, a hint stays nearer (the scoring network sees every spread
    either way, so the same weights serve any setting). lum_bins: 0, or the soft L* bins that weigh each hint
    by its likeness in L* to the cell (module docstring).
    """

    def __init__(self, width: int, features: int, levels: int = len(LEVELS), lum_bins: int = 0):
        super().__init__()
        if not 1 <= levels <= len(LEVELS):
            raise ValueError(f"hint levels must be 1..{len(LEVELS)}, got {levels}")
        if lum_bins == 1 or lum_bins < 0:
            raise ValueError(f"hint L* bins must be 0 (off) or at least 2, got {lum_bins}")
        self.levels, self.lum_bins = levels, lum_bins
        self.look = nn.Conv2d(features, width, 1)  # each cell's appearance, compared with the hints' nearby
        per_level = width + 2  # appearance difference (width + L*) and log weight
        # Per cell (1x1 convs: the spreads already carry the context; a 3x3 conv here cost a fifth of the network)
        self.score = nn.Sequential(
            nn.Conv2d(len(LEVELS) * per_level, 32, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, len(LEVELS) + 1, 1),  # a logit per scale and one for "no correction"
        )
        nn.init.zeros_(self.score[-1].weight)  # starts as the plain spread: equal weights
        nn.init.zeros_(self.score[-1].bias)
        self.register_buffer("blur", gaussian_kernel(BLUR_SIGMA), persistent=False)

    def spread(self, carried: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantities summed at the hints [N,C,h,w] (the last channel the mask) -> their normalised convolution at
        1/factor, back at h x w: [N,C-1,h,w] weighted means and [N,1,h,w] the weight (sum-pooled hints);
        factor 0: the means over the whole picture (and the count of hinted cells), the same everywhere."""
        c = carried.shape[1]
        if factor == 0:
            total = carried.sum((2, 3), keepdim=True).expand_as(carried)
            return total[:, :-1] / (total[:, -1:] + EPS), total[:, -1:]
        pooled = F.avg_pool2d(carried, factor) * factor**2 if factor > 1 else carried  # sums per cell
        blurred = F.conv2d(pooled, self.blur.expand(c, 1, -1, -1), padding=self.blur.shape[-1] // 2, groups=c)
        if factor > 1:
            blurred = F.interpolate(blurred, scale_factor=float(factor), mode="bilinear")
        weight = blurred[:, -1:]
        return blurred[:, :-1] / (weight + EPS), weight

    def forward(self, hints: torch.Tensor, auto: torch.Tensor, lum: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """hints [N,3,H,W] (a*, b*, mask at the input size), and at 1/CELL of it ([N,C,h,w]): the automatic a*b*,
        L* and the decoder's features -> delta [N,2,h,w] in Lab units."""
        ab, mask = pool_hints(hints[:, :2], hints[:, 2:], CELL)
        residual = (ab - auto) * mask / AB_UNIT  # [N,2,h,w]
        look = torch.cat([self.look(x), lum / 50.0 - 1.0], 1)  # [N,width+1,h,w]
        spread_residual = residual  # [N,2,h,w], or per soft L* bin [N,2*B,h,w] (module docstring)
        if self.lum_bins:
            bins = lum_bin_weights(lum, self.lum_bins)  # [N,B,h,w]
            spread_residual = (residual[:, :, None] * bins[:, None]).flatten(1, 2)
        k = spread_residual.shape[1]
        carried = torch.cat([spread_residual, look * mask, mask], 1)
        residuals, compare = [], []
        for factor in LEVELS:
            means, weight = self.spread(carried, factor)
            near = means[:, :k]
            if self.lum_bins:  # read back with the cell's own bin weights: hints of unlike L* count less
                near = (near.unflatten(1, (2, self.lum_bins)) * bins[:, None]).sum(2)
            residuals.append(near)
            compare += [look - means[:, k:], torch.log(weight + EPS)]
        scores = self.score(torch.cat(compare, 1))  # [N,len(LEVELS)+1,h,w]; the last: no correction
        if self.levels < len(LEVELS):  # the coarser spreads get no share
            scores = torch.cat([scores[:, : self.levels], scores[:, -1:]], 1)
        share = torch.softmax(scores, 1)
        delta = sum(share[:, i : i + 1] * residuals[i] for i in range(self.levels))
        return delta * AB_UNIT
