"""The part of a colorizer/2 network that follows the user's colour hints (ColorCNN with hint_width > 0).

The automatic colouring is left as it is: the branch predicts a correction that is added to it,
    ab = automatic ab + upsample_x4(delta),
where delta [N,2,H/4,W/4] comes from the hints' residuals (the hinted a*b* minus the automatic a*b* at the
hint), spread by gated convolutions from 1/16 of the input size (where 3 dilated layers reach across a whole
256 px render) down to 1/4. Every gate is a sigmoid of the decoder's own features at that level, so the image
says how far a hint's colour runs (up to an edge, over one surface).
No hints gives exactly the automatic result, by construction: every convolution of the branch is bias-free and
every activation keeps 0 at 0, so all-zero hint maps give delta == 0 (not merely a small one).
Why a residual regression, not hints into the classifier: a classification head over ab cells with an annealed
mean moves little for sparse inputs (two attempts gained +0.00 dB, issue 31), while Zhang et al. (2017) regressed
the hinted colour; giving the branch the residual lets it start from "paint the difference here".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

AB_UNIT = 50.0  # the branch reads and writes a*b* / AB_UNIT (|ab| rarely exceeds 100)


def pool_hints(ab: torch.Tensor, mask: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Hint a*b* [N,2,H,W] (Lab units) and mask [N,1,H,W] (0/1) at 1/factor of the size: the mask's max (a cell
    with any hinted pixel is hinted) and the hinted pixels' mean a*b* there (0 where the cell has none)."""
    covered = F.avg_pool2d(mask, factor)
    mean_ab = F.avg_pool2d(ab * mask, factor) / covered.clamp(min=1e-6)
    hinted = F.max_pool2d(mask, factor)
    return mean_ab * hinted, hinted


def gated_conv(cin: int, cout: int, dilation: int = 1) -> nn.Conv2d:
    """A bias-free 3x3 conv with replicate padding: zero in, zero out."""
    return nn.Conv2d(cin, cout, 3, 1, dilation, dilation=dilation, bias=False, padding_mode="replicate")


class HintBranch(nn.Module):
    """hints + the automatic a*b* at 1/4 + the decoder's features -> the correction delta [N,2,H/4,W/4].

    width: the branch's channels. feature_channels (c16, c8, c4): the decoder's channels at 1/16, 1/8, 1/4,
    read by the gates (1x1 convs with bias: the gates may be open with no hints, their product with a zero
    hint path is still zero).
    """

    INPUTS = 5  # per level: hinted a*b*, mask, residual a*b* (all / AB_UNIT except the mask)

    def __init__(self, width: int, feature_channels: tuple[int, int, int]):
        super().__init__()
        c16, c8, c4 = feature_channels
        self.spread16 = nn.ModuleList([gated_conv(self.INPUTS, width)] + [gated_conv(width, width, d) for d in (2, 4)])
        self.gates16 = nn.ModuleList([nn.Conv2d(c16, width, 1) for _ in self.spread16])
        self.refine8 = gated_conv(width + self.INPUTS, width)
        self.gate8 = nn.Conv2d(c8, width, 1)
        self.refine4 = gated_conv(width + self.INPUTS, width)
        self.gate4 = nn.Conv2d(c4, width, 1)
        self.out = nn.Conv2d(width, 2, 1, bias=False)
        nn.init.zeros_(self.out.weight)  # a new branch starts by changing nothing

    def forward(
        self, hints: torch.Tensor, auto4: torch.Tensor, features: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """hints [N,3,H,W] (a*, b*, mask at the input size), auto4 [N,2,H/4,W/4] (the automatic a*b* at 1/4)
        and the decoder's features (x16, x8, x4) -> delta [N,2,H/4,W/4] in Lab units."""
        x16, x8, x4 = features
        ab4, mask4 = pool_hints(hints[:, :2], hints[:, 2:], 4)
        levels = {4: (ab4, mask4)}
        levels[8] = pool_hints(ab4, mask4, 2)
        levels[16] = pool_hints(*levels[8], 2)

        def inputs(level: int) -> torch.Tensor:
            ab, mask = levels[level]
            auto = auto4 if level == 4 else F.avg_pool2d(auto4, level // 4)
            return torch.cat([ab / AB_UNIT, mask, (ab - auto) * mask / AB_UNIT], 1)  # [N,5,h,w]

        x = inputs(16)
        for conv, gate in zip(self.spread16, self.gates16):
            x = F.relu(conv(x)) * torch.sigmoid(gate(x16))
        x = F.relu(self.refine8(torch.cat([_up(x), inputs(8)], 1))) * torch.sigmoid(self.gate8(x8))
        x = F.relu(self.refine4(torch.cat([_up(x), inputs(4)], 1))) * torch.sigmoid(self.gate4(x4))
        return self.out(x) * AB_UNIT


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear")
