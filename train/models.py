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
# ColorCNN's decoding arguments (classes=True), chosen after training: python -m train.tune, python -m export.
DECODING = {
    "temperature": "annealed-mean temperature",
    "prior_correction": "0..1, how much of the rarity rebalancing to undo",
    "chroma_gain": "factor on ab",
    "shadow_fade": "L* below which chroma fades to 0 at black (0 = off)",
    "highlight_fade": "L* units below white over which chroma fades to 0 (0 = off)",
}


def decoding_flag(name: str) -> str:
    """The command-line flag of a DECODING argument, shared by export and tune: chroma_gain -> --chroma-gain."""
    return "--" + name.replace("_", "-")


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
    """Plain encoder-decoder: 1/16 bottleneck with dilated convs, ab at 1/4 size (the CNN; also the GAN's generator).

    widths (w0..w3) are the channels at 1/2, 1/4, 1/8 and 1/16 of the input size.
    One additive skip from the 1/4 encoder keeps colour edges near object edges. global_context=True adds the
    bottleneck's mean over the whole image (through a 1x1 conv) back to every position: scene-level cues
    (outdoors, indoors, a sunset) reach pixels the dilated convs do not see (after Iizuka et al. 2016).
    classes=False: the head regresses ab. classes=True (Zhang et al. 2016): the head gives logits over the
    BINS x BINS ab cells, decoded as an annealed mean (see `decode`) with three arguments:
      temperature       softmax temperature T; lower sharpens towards the most likely cell (more colour);
      prior_correction  beta in 0..1: subtract beta * log(rarity weight) from the logits. Training with
                        rarity-weighted cross-entropy makes the softmax estimate w(q) * p(q | L) (normalised);
                        beta = 1 undoes that (logit adjustment, Menon et al., ICLR 2021), beta = 0 keeps it;
      chroma_gain       a final factor on ab;
      shadow_fade       L* units: chroma fades linearly to 0 from L* = shadow_fade down to black (0 = off);
      highlight_fade    L* units: chroma fades linearly to 0 from L* = 100 - highlight_fade up to white (0 = off).
    The two fades are a prior the data shows and the network misses: real photos have almost no chroma in deep
    shadows and clipped highlights (mean chroma 3 below L* 5, 0 at L* 100 in our training photos, where the
    CNN predicted 5 and 4), and a given ab is far more saturated on a dark pixel than on a mid-gray one.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (32, 64, 128, 256),
        classes: bool = False,
        temperature: float = 0.38,
        prior_correction: float = 0.0,
        chroma_gain: float = 1.0,
        global_context: bool = False,
        shadow_fade: float = 0.0,
        highlight_fade: float = 0.0,
    ):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.size_multiple = 16
        self.enc2 = conv(1, w0, 2)  # 1/2
        self.enc4 = nn.Sequential(conv(w0, w1, 2), conv(w1, w1))  # 1/4
        self.enc8 = nn.Sequential(conv(w1, w2, 2), conv(w2, w2))  # 1/8
        self.enc16 = nn.Sequential(conv(w2, w3, 2), conv(w3, w3, dilation=2), conv(w3, w3, dilation=2))
        self.context = nn.Sequential(nn.Conv2d(w3, w3, 1), nn.ReLU(inplace=True)) if global_context else None
        self.reduce16 = nn.Conv2d(w3, w2, 1)
        self.dec8 = conv(w2, w2)
        self.reduce8 = nn.Conv2d(w2, w1, 1)
        self.dec4 = conv(w1, w1)
        self.classes, self.temperature = classes, temperature
        self.prior_correction, self.chroma_gain = prior_correction, chroma_gain
        self.shadow_fade, self.highlight_fade = shadow_fade, highlight_fade
        self.head = nn.Conv2d(w1, BINS * BINS if classes else 2, 1)
        self.folded = False
        if classes:
            # log of the rarity weight each cell had in training (set by the trainer; -inf: never seen).
            self.register_buffer("log_weights", torch.zeros(BINS * BINS))
            # [a*gain, b*gain, 1] per cell as a 1x1 conv weight [3,Q,1,1]: one convolution of the softmax's
            # numerators gives both the weighted sum of centres and the normaliser. Derived: not in checkpoints.
            centres = bin_to_ab(torch.arange(BINS * BINS)).T * chroma_gain
            weight = torch.cat([centres, torch.ones(1, BINS * BINS)])[:, :, None, None].contiguous()
            self.register_buffer("centres", weight, persistent=False)

    def forward(self, lum: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """L [N,1,H,W] 0..100 -> ab [N,2,H,W] in Lab units; with logits=True (classes only, for training)
        the cell logits [N,Q,H/4,W/4] instead."""
        e4 = self.enc4(self.enc2(normalise(lum)))  # [N,w1,H/4,W/4]
        e8 = self.enc8(e4)  # [N,w2,H/8,W/8]
        x = self.enc16(e8)  # [N,w3,H/16,W/16]
        if self.context is not None:
            x = x + self.context(x.mean((2, 3), keepdim=True))  # [N,w3,1,1] broadcast over H/16 x W/16
        x = self.dec8(F.interpolate(self.reduce16(x), scale_factor=2.0, mode="bilinear") + e8)
        x = self.dec4(F.interpolate(self.reduce8(x), scale_factor=2.0, mode="bilinear") + e4)
        out = self.head(x)  # [N,Q or 2,H/4,W/4]
        if logits:
            return out
        if self.classes:
            return self.decode(out, lum)
        return F.interpolate(out * AB_SCALE, scale_factor=4.0, mode="bilinear")

    def decode(self, out: torch.Tensor, lum: torch.Tensor) -> torch.Tensor:
        """Head output [N,Q,H/4,W/4] (cell logits, or after fold_decoding the adjusted, scaled ones of the kept
        cells) and the input L [N,1,H,W] -> annealed mean ab [N,2,H,W]: sum_q softmax(z)_q * centre_q with
        z = (logits - adj) / T, upsampled x4, then faded in shadows and highlights. Differentiable: the GAN's
        adversarial loss trains through it."""
        z = out.float()
        if not self.folded:
            z = (z - self.logit_adjustment()[:, None, None]) / self.temperature  # never-seen cells: -inf
        num = F.conv2d(torch.exp(z - z.amax(1, keepdim=True)), self.centres)  # [N,3,H/4,W/4]
        ab = F.interpolate(num[:, :2] / num[:, 2:], scale_factor=4.0, mode="bilinear")
        if self.shadow_fade:
            ab = ab * torch.clamp(lum / self.shadow_fade, max=1.0)  # [N,1,H,W] broadcast over a, b
        if self.highlight_fade:
            ab = ab * torch.clamp((100.0 - lum) / self.highlight_fade, 0.0, 1.0)
        return ab

    def logit_adjustment(self) -> torch.Tensor:
        """What decoding subtracts from each cell's logit [Q]: prior_correction * log weight, +inf for the
        cells never seen in training (so they get probability 0 and are dropped when folding)."""
        seen = torch.isfinite(self.log_weights)
        return torch.where(seen, self.prior_correction * self.log_weights, torch.inf)

    @torch.no_grad()
    def fold_decoding(self) -> ColorCNN:
        """For inference only: drop the cells never seen in training and fold the prior correction and 1/T
        into the head's weights (same output, about half the head's cost). Returns self."""
        if not self.classes or self.folded:
            return self
        adj = self.logit_adjustment()
        keep = torch.isfinite(adj).nonzero().flatten()
        head = nn.Conv2d(self.head.in_channels, len(keep), 1).to(self.head.weight.device)
        head.weight.copy_(self.head.weight[keep] / self.temperature)
        head.bias.copy_((self.head.bias[keep] - adj[keep]) / self.temperature)
        self.head, self.centres, self.folded = head, self.centres[:, keep].contiguous(), True
        return self


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
    """PatchGAN conditioned on L: (L, ab) [N,3,H,W] -> real/fake logits [N,scales,H/8,W/8].

    Spectral normalisation on every conv keeps the critic Lipschitz and the game stable on small data.
    scales > 1 makes it multi-scale (pix2pixHD): one more PatchGAN per scale sees the pair average-pooled
    2x, 4x, ...; its coarser logits are repeated up to the finest grid, so each scale weighs alike in a loss
    that takes the mean over all logits.
    """

    def __init__(self, width: int = 64, layers: int = 3, scales: int = 1):
        super().__init__()
        self.net = self._patchgan(width, layers)
        self.coarser = nn.ModuleList(self._patchgan(width, layers) for _ in range(scales - 1))

    @staticmethod
    def _patchgan(width: int, layers: int) -> nn.Sequential:
        sn = nn.utils.spectral_norm
        blocks: list[nn.Module] = []
        cin = 3
        for i in range(layers):
            cout = width * 2**i
            blocks += [sn(nn.Conv2d(cin, cout, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        blocks += [sn(nn.Conv2d(cin, cin, 3, 1, 1)), nn.LeakyReLU(0.2, inplace=True), sn(nn.Conv2d(cin, 1, 3, 1, 1))]
        return nn.Sequential(*blocks)

    def forward(self, lum: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """L [N,1,H,W] 0..100 and ab [N,2,H,W] Lab units -> logits [N,scales,H/8,W/8]."""
        x = torch.cat([normalise(lum), ab / AB_SCALE], 1)
        out = [self.net(x)]
        for d in self.coarser:
            x = F.avg_pool2d(x, 2)
            out.append(F.interpolate(d(x), size=out[0].shape[-2:], mode="nearest"))
        return torch.cat(out, 1)


ARCHS = {"ColorCNN": ColorCNN, "UNetGenerator": UNetGenerator}


def build_colorizer(arch: str, args: dict) -> nn.Module:
    """Rebuild a colorizer from the (arch, args) pair that every checkpoint and ONNX file carries."""
    return ARCHS[arch](**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()})
