"""The crack filler of a cracked print (onnx_models/cracks.onnx, contract restorer/1): a detector and a fill.

    gray [N,1,H,W] float32, 8-bit gray / 255 (0..1)
      -> CrackNet: pixel-unshuffle by 2, a small U-Net over 1/2, 1/4, 1/8, pixel-shuffle back: logits [N,1,H,W],
         > 0 where a pixel is local damage (a crack, scratch or dust spot) rather than picture
      -> the mask (probability > threshold), grown by `grow` px (the scan's sharpening leaves dark fringes beside
         each crack); its pixels are replaced by the Gaussian-weighted mean of the unmasked pixels around them
         (normalised convolution, sigma `sigma` px, separable): the output, same shape and range

The library runs it before the restorer when the user says the print is cracked (restore="cracks", --cracks, the
app's "The print is cracked" box), never by default: it also takes thin light lines of the picture for cracks, so on
clean photos it costs what the restorer alone does not; as the scratch detector of "Bringing Old Photos Back to
Life" runs only with --with_scratch.

Why a detector of its own: the gated restorer, trained on reconstruction alone, leaves the real cracks of a scanned
print in place; a network told per pixel, by a binary cross-entropy, where the damage is finds them. It is trained
by python -m train.restore.crack and exported by python -m export.restorer, which knows a detector checkpoint by its
kind.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from train.restore.model import Up, conv

SIZE_MULTIPLE = 8  # 2 (unshuffle) x 2 x 2


class CrackNet(nn.Module):
    """gray [N,1,H,W] 0..1 (H, W multiples of 8) -> damage logits [N,1,H,W]; widths: channels at 1/2, 1/4 and
    1/8 of the input. The restorer's layers (conv, Up), a fraction of its widths and multiply-adds."""

    def __init__(self, widths: tuple[int, int, int] | list[int] = (16, 24, 32)):
        super().__init__()
        w1, w2, w3 = widths
        self.enc1 = nn.Sequential(conv(4, w1), conv(w1, w1))
        self.enc2 = nn.Sequential(conv(w1, w2, 2), conv(w2, w2))
        self.enc3 = nn.Sequential(conv(w2, w3, 2), conv(w3, w3), conv(w3, w3))
        self.up2, self.up1 = Up(w3, w2), Up(w2, w1)
        self.head = nn.Conv2d(w1, 4, 3, 1, 1)

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        s1 = self.enc1(F.pixel_unshuffle(gray - 0.5, 2))  # [N,w1,H/2,W/2]
        s2 = self.enc2(s1)  # [N,w2,H/4,W/4]
        y = self.up1(self.up2(self.enc3(s2), s2), s1)  # [N,w1,H/2,W/2]
        return F.pixel_shuffle(self.head(y), 2)  # [N,1,H,W]: the four pixels of each 2x2 block


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """1-D Gaussian weights summing to 1, float32 [2r+1] with r = ceil(3 sigma)."""
    r = math.ceil(3 * sigma)
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def fill(gray: torch.Tensor, mask: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """gray [N,1,H,W] with its pixels under mask ([N,1,H,W], 1 = damage) replaced by the kernel-weighted mean of
    the unmasked pixels around them (the separable 1-D `kernel` along both axes; zero padding, which the division
    cancels at the borders). Where no unmasked pixel is within reach the pixel keeps its value."""
    keep = 1.0 - mask
    r = kernel.numel() // 2
    kx, ky = kernel.view(1, 1, 1, -1), kernel.view(1, 1, -1, 1)

    def smooth(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, kx, padding=(0, r)), ky, padding=(r, 0))

    num, den = smooth(gray * keep), smooth(keep)
    filled = torch.where(den > 1e-2, num / den.clamp_min(1e-2), gray)
    return gray * keep + filled * mask


class CrackFill(nn.Module):
    """gray [N,1,H,W] 0..1 -> the same with what the detector finds filled from around it (module docstring)."""

    def __init__(self, detector: CrackNet, threshold: float, grow: int, sigma: float):
        super().__init__()
        self.detector = detector
        self.logit = math.log(threshold / (1 - threshold))  # compare logits: no sigmoid in the graph
        self.grow = grow
        self.register_buffer("kernel", gaussian_kernel(sigma), persistent=False)

    def mask(self, gray: torch.Tensor) -> torch.Tensor:
        """The pixels to fill, float32 [N,1,H,W] 0 or 1: detected, grown by `grow` px."""
        hit = (self.detector(gray) > self.logit).float()
        return F.max_pool2d(hit, 2 * self.grow + 1, stride=1, padding=self.grow) if self.grow else hit

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        return fill(gray, self.mask(gray), self.kernel)


def crack_detector(ck: dict) -> CrackNet:
    """The detector of a python -m train.restore.crack checkpoint, rebuilt from its arch arguments, in eval mode."""
    if ck.get("kind") != "crack_detector":
        raise ValueError(
            f"not a crack detector checkpoint (kind {ck.get('kind')!r}): see python -m train.restore.crack"
        )
    net = CrackNet(**ck["arch_args"])
    net.load_state_dict(ck["model"])
    return net.eval()
