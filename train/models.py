"""The two colorizers and the GAN's discriminator.

Both colorizers share the ONNX contract: L float32 [N,1,H,W] (CIE L*, 0..100) in, ab float32 [N,2,H,W]
(Lab units) out, normalisation inside the network. H and W must be multiples of `size_multiple`.
Chroma is low-frequency, so both predict ab at a fraction of the input size and upsample bilinearly
at the end; the full-resolution detail comes from the user's own L later, in the merge.
Convolutions pad by edge replication, not zeros: zero padding lets a deep network learn where the
border is and paint content-independent blotches when run at another size than the training crop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from train.bins import BINS, bin_to_ab

AB_SCALE = 100.0  # network outputs are ab / AB_SCALE, so unit-variance-ish targets


def conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3x3 conv (replicate padding) + BatchNorm + ReLU; BatchNorm folds into the conv at export."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, dilation, dilation, bias=False, padding_mode="replicate"),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def normalise(lum: torch.Tensor) -> torch.Tensor:
    """L* 0..100 -> -1..1."""
    return lum / 50.0 - 1.0


class ColorCNN(nn.Module):
    """Plain encoder-decoder (no adversary): 1/16 bottleneck with dilated convs, ab at 1/4 size.

    widths (w0..w3) are the channels at 1/2, 1/4, 1/8 and 1/16 of the input size.
    One additive skip from the 1/4 encoder keeps colour edges near object edges.
    classes=False: the head regresses ab. classes=True (Zhang et al. 2016): the head gives logits over the
    BINS x BINS ab cells and the output is their annealed mean, softmax(logits / temperature) @ cell centres.
    """

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256), classes: bool = False, temperature: float = 0.38):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.size_multiple = 16
        self.enc2 = conv(1, w0, 2)  # 1/2
        self.enc4 = nn.Sequential(conv(w0, w1, 2), conv(w1, w1))  # 1/4
        self.enc8 = nn.Sequential(conv(w1, w2, 2), conv(w2, w2))  # 1/8
        self.enc16 = nn.Sequential(conv(w2, w3, 2), conv(w3, w3, dilation=2), conv(w3, w3, dilation=2))
        self.reduce16 = nn.Conv2d(w3, w2, 1)
        self.dec8 = conv(w2, w2)
        self.reduce8 = nn.Conv2d(w2, w1, 1)
        self.dec4 = conv(w1, w1)
        self.classes, self.temperature = classes, temperature
        self.head = nn.Conv2d(w1, BINS * BINS if classes else 2, 1)
        # Cell centres as a 1x1 conv weight [2,Q,1,1]: the annealed mean is then one convolution.
        centres = bin_to_ab(torch.arange(BINS * BINS)).T[:, :, None, None].contiguous()
        self.register_buffer("centres", centres, persistent=False)  # derived, so not in checkpoints

    def forward(self, lum: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """L [N,1,H,W] 0..100 -> ab [N,2,H,W] in Lab units; with logits=True (classes only, for training)
        the cell logits [N,Q,H/4,W/4] instead."""
        e4 = self.enc4(self.enc2(normalise(lum)))  # [N,w1,H/4,W/4]
        e8 = self.enc8(e4)  # [N,w2,H/8,W/8]
        x = self.enc16(e8)  # [N,w3,H/16,W/16]
        x = self.dec8(F.interpolate(self.reduce16(x), scale_factor=2.0, mode="bilinear") + e8)
        x = self.dec4(F.interpolate(self.reduce8(x), scale_factor=2.0, mode="bilinear") + e4)
        out = self.head(x)  # [N,Q or 2,H/4,W/4]
        if logits:
            return out
        if self.classes:  # the annealed mean of the cell centres
            return F.interpolate(
                F.conv2d(torch.softmax(out / self.temperature, 1), self.centres), scale_factor=4.0, mode="bilinear"
            )
        return F.interpolate(out * AB_SCALE, scale_factor=4.0, mode="bilinear")


class UNetGenerator(nn.Module):
    """U-Net: encoder levels at 1/2 .. 1/2**len(widths), concatenated skips, ab at 1/2 size.

    widths[i] is the channel count at 1/2**(i+1) of the input size.
    """

    def __init__(self, widths: tuple[int, ...] = (32, 48, 96, 192, 192)):
        super().__init__()
        self.size_multiple = 2 ** len(widths)
        self.down = nn.ModuleList()
        cin = 1
        for w in widths:
            self.down.append(nn.Sequential(conv(cin, w, 2), conv(w, w)))
            cin = w
        # Decoder: upsample level i+1, concatenate level i, fuse to widths[i].
        self.up = nn.ModuleList(conv(widths[i + 1] + widths[i], widths[i]) for i in range(len(widths) - 1))
        self.head = nn.Conv2d(widths[0], 2, 1)

    def forward(self, lum: torch.Tensor) -> torch.Tensor:
        """L [N,1,H,W] 0..100 -> ab [N,2,H,W] in Lab units."""
        x = normalise(lum)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for block in reversed(self.up):
            x = block(torch.cat([F.interpolate(x, scale_factor=2.0, mode="bilinear"), skips.pop()], 1))
        ab = self.head(x) * AB_SCALE  # [N,2,H/2,W/2]
        return F.interpolate(ab, scale_factor=2.0, mode="bilinear")


class PatchDiscriminator(nn.Module):
    """PatchGAN conditioned on L: (L, ab) [N,3,H,W] -> real/fake logits [N,1,H/8,W/8].

    Spectral normalisation on every conv keeps the critic Lipschitz and the game stable on small data.
    """

    def __init__(self, width: int = 64, layers: int = 3):
        super().__init__()
        sn = nn.utils.spectral_norm
        blocks: list[nn.Module] = []
        cin = 3
        for i in range(layers):
            cout = width * 2**i
            blocks += [sn(nn.Conv2d(cin, cout, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        blocks += [sn(nn.Conv2d(cin, cin, 3, 1, 1)), nn.LeakyReLU(0.2, inplace=True), sn(nn.Conv2d(cin, 1, 3, 1, 1))]
        self.net = nn.Sequential(*blocks)

    def forward(self, lum: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """L [N,1,H,W] 0..100 and ab [N,2,H,W] Lab units -> logits [N,1,H/8,W/8]."""
        return self.net(torch.cat([normalise(lum), ab / AB_SCALE], 1))


ARCHS = {"ColorCNN": ColorCNN, "UNetGenerator": UNetGenerator}


def build_colorizer(arch: str, args: dict) -> nn.Module:
    """Rebuild a colorizer from the (arch, args) pair that every checkpoint and ONNX file carries."""
    return ARCHS[arch](**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()})
