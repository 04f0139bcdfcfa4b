"""The two colorizers (one architecture, ColorCNN) and the GAN's discriminator.

Both colorizers share the ONNX contract colorizer/1: L float32 [N,1,H,W] (CIE L*, 0..100) in, ab float32
[N,2,H,W] (Lab units) out, normalisation inside the network; with hint_width > 0 they follow colour hints
(colorizer/2: a second input, hints float32 [N,3,H,W], see train.colorize.hint_branch).
H and W must be multiples of `size_multiple` (32).
The scene prior comes from an ImageNet-pretrained EfficientNet-Lite encoder (train.colorize.efficientnet); a small
U-Net decoder predicts ab cells at 1/4 of the input size and the annealed mean is upsampled bilinearly at the end;
the full-resolution detail comes from the user's own L later, in the merge.
The decoder's convolutions pad by edge replication, not zeros: zero padding lets a network learn where the
border is and paint content-independent blotches when run at another size than the training crop. The encoder
keeps the TF "same" zero padding its weights were trained with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from train.checkpoint import weights
from train.colorize.bins import BINS, bin_to_ab
from train.colorize.efficientnet import FEATURE_CHANNELS, EfficientNetLite, freeze_batchnorm
from train.colorize.hint_branch import CELL, LEVELS, HintBranch

AB_SCALE = 100.0  # the discriminator sees ab / AB_SCALE
# ColorCNN's decoding arguments, chosen after training: python -m train.colorize.tune, python -m export.
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


def conv(cin: int, cout: int) -> nn.Sequential:
    """3x3 conv (replicate padding) + BatchNorm + ReLU; BatchNorm folds into the conv at export."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, 1, 1, bias=False, padding_mode="replicate"),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def normalise(lum: torch.Tensor) -> torch.Tensor:
    """L* 0..100 -> -1..1 (the discriminator's input scale)."""
    return lum / 50.0 - 1.0


def l_to_encoder_input(lum: torch.Tensor) -> torch.Tensor:
    """L* [N,1,H,W] 0..100 -> the 8-bit gray level it came from (the inverse of colorizer.color.gray_to_l, as a
    float, 0..255), scaled as the ImageNet weights expect: (gray - 127) / 128."""
    fy = (lum + 16.0) / 116.0
    y = torch.where(fy > 6.0 / 29.0, fy**3, (fy - 16.0 / 116.0) / 7.787).clamp(0.0, 1.0)  # relative luminance
    srgb = torch.where(y <= 0.0031308, 12.92 * y, 1.055 * y.clamp(min=1e-8) ** (1.0 / 2.4) - 0.055)
    return (255.0 * srgb - 127.0) / 128.0


class ColorCNN(nn.Module):
    """EfficientNet-Lite encoder + U-Net decoder + classification head over ab cells (the CNN; also the GAN's
    generator).

    encoder: "lite0" (train.colorize.efficientnet). Its stem takes the gray input (RGB stem weights summed over
    channels). Load the ImageNet weights with `self.encoder.load_pretrained()` before training (checkpoints carry
    them afterwards).
    widths (w4, w8, w16) are the decoder's channels at 1/4, 1/8 and 1/16: the 1/32 features are upsampled and
    concatenated with the encoder's 1/16, then 1/8, then 1/4 features, each fused by a 3x3 conv.
    The head gives logits over the BINS x BINS ab cells (Zhang et al. 2016), decoded as an annealed mean (see
    `decode`) with five arguments:
      temperature       softmax temperature T; lower sharpens towards the most likely cell (more colour);
      prior_correction  beta in 0..1: subtract beta * log(rarity weight) from the logits. Training with
                        rarity-weighted cross-entropy makes the softmax estimate w(q) * p(q | L) (normalised);
                        beta = 1 undoes that (logit adjustment, Menon et al., ICLR 2021), beta = 0 keeps it;
      chroma_gain       a final factor on ab;
      shadow_fade       L* units: chroma fades linearly to 0 from L* = shadow_fade down to black (0 = off);
      highlight_fade    L* units: chroma fades linearly to 0 from L* = 100 - highlight_fade up to white (0 = off).
    The two fades are a prior the data shows: real photos have almost no chroma in deep shadows and clipped
    highlights, and a given ab is far more saturated on a dark pixel than on a mid-gray one.
    hint_width > 0 adds the hint branch (train.colorize.hint_branch.HintBranch, that many channels): forward
    then takes hints [N,3,H,W] (a*, b*, mask) and adds the branch's correction to the automatic a*b*; hint_levels
    (1-4, chosen at export like the decoding) is how far a hint's colour may spread; hint_lum_bins (0: off) lets
    each hint count by its likeness in L* to the cell it colours.
    The encoder's BatchNorm statistics stay frozen in training (`train()` keeps them in eval mode): batches of
    a few crops would give poor estimates.
    """

    def __init__(
        self,
        encoder: str = "lite0",
        widths: tuple[int, ...] = (48, 96, 128),
        temperature: float = 0.38,
        prior_correction: float = 0.0,
        chroma_gain: float = 1.0,
        shadow_fade: float = 0.0,
        highlight_fade: float = 0.0,
        hint_width: int = 0,
        hint_levels: int = len(LEVELS),
        hint_lum_bins: int = 0,
    ):
        super().__init__()
        w4, w8, w16 = widths
        c4, c8, c16, c32 = FEATURE_CHANNELS
        self.size_multiple = 32
        self.encoder = EfficientNetLite(encoder, in_channels=1)
        self.dec16 = nn.Sequential(conv(c32 + c16, w16), conv(w16, w16))
        self.dec8 = conv(w16 + c8, w8)
        self.dec4 = conv(w8 + c4, w4)
        self.temperature, self.prior_correction, self.chroma_gain = temperature, prior_correction, chroma_gain
        self.shadow_fade, self.highlight_fade = shadow_fade, highlight_fade
        self.head = nn.Conv2d(w4, BINS * BINS, 1)
        self.hints = HintBranch(hint_width, w8, hint_levels, hint_lum_bins) if hint_width else None
        self.folded = False
        # log of the rarity weight each cell had in training (set by the trainer; -inf: never seen).
        self.register_buffer("log_weights", torch.zeros(BINS * BINS))
        # [a*gain, b*gain, 1] per cell as a 1x1 conv weight [3,Q,1,1]: one convolution of the softmax's
        # numerators gives both the weighted sum of centres and the normaliser. Derived: not in checkpoints.
        centres = bin_to_ab(torch.arange(BINS * BINS)).T * chroma_gain
        weight = torch.cat([centres, torch.ones(1, BINS * BINS)])[:, :, None, None].contiguous()
        self.register_buffer("centres", weight, persistent=False)

    def train(self, mode: bool = True) -> ColorCNN:
        """As nn.Module.train, but the encoder's BatchNorm layers always stay in eval mode."""
        super().train(mode)
        freeze_batchnorm(self.encoder)
        return self

    def forward(
        self, lum: torch.Tensor, hints: torch.Tensor | None = None, logits: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        """L [N,1,H,W] 0..100 (and, with the hint branch, hints [N,3,H,W]: a*, b* in Lab units and a 0/1 mask)
        -> ab [N,2,H,W] in Lab units. With logits=True (for training): (the cell logits [N,Q,H/4,W/4], the
        hint-corrected ab, or None without hints, when the automatic ab is not computed at all). In training mode
        the hint branch reads a detached automatic ab and decoder features: the hints' loss trains the branch
        alone, so the automatic colouring is the cross-entropy's."""
        f4, f8, f16, f32 = self.encoder.features(l_to_encoder_input(lum))
        x16 = self.dec16(torch.cat([_up(f32), f16], 1))  # [N,w16,H/16,W/16]
        x8 = self.dec8(torch.cat([_up(x16), f8], 1))  # [N,w8,H/8,W/8]
        x4 = self.dec4(torch.cat([_up(x8), f4], 1))  # [N,w4,H/4,W/4]
        out = self.head(x4)  # [N,Q,H/4,W/4]
        follows = self.hints is not None and hints is not None
        if logits and not follows:
            return out, None  # the cross-entropy needs the logits alone
        cells = self.cell_mean(out)  # [N,2,H/4,W/4]
        ab = self.fade(_up4(cells), lum)
        if follows:  # the branch works at 1/8 (CELL), on the decoder's x8
            lum8 = F.avg_pool2d(lum, CELL)
            ab8 = self.fade(F.avg_pool2d(cells, CELL // 4), lum8)
            if self.training:  # the hints' loss trains the branch alone
                ab, ab8, x8 = ab.detach(), ab8.detach(), x8.detach()
            delta = self.hints(hints, ab8, lum8, x8)  # [N,2,H/8,W/8]
            ab = ab + F.interpolate(delta, scale_factor=float(CELL), mode="bilinear")
        return (out, ab) if logits else ab

    def decode(self, out: torch.Tensor, lum: torch.Tensor) -> torch.Tensor:
        """Head output [N,Q,H/4,W/4] and the input L [N,1,H,W] -> the automatic ab [N,2,H,W]: the annealed mean
        (cell_mean) upsampled x4, then faded. Differentiable: the GAN's adversarial loss trains through it."""
        return self.fade(_up4(self.cell_mean(out)), lum)

    def cell_mean(self, out: torch.Tensor) -> torch.Tensor:
        """Head output [N,Q,h,w] (cell logits, or after fold_decoding the adjusted, scaled ones of the kept
        cells) -> annealed mean ab [N,2,h,w]: sum_q softmax(z)_q * centre_q with z = (logits - adj) / T."""
        z = out.float()
        if not self.folded:
            z = (z - self.logit_adjustment()[:, None, None]) / self.temperature  # never-seen cells: -inf
        num = F.conv2d(torch.exp(z - z.amax(1, keepdim=True)), self.centres)  # [N,3,h,w]
        return num[:, :2] / num[:, 2:]

    def fade(self, ab: torch.Tensor, lum: torch.Tensor) -> torch.Tensor:
        """ab [N,2,h,w] faded to 0 in the shadows and highlights of lum [N,1,h,w] (L* 0..100, same size)."""
        if self.shadow_fade:
            ab = ab * torch.clamp(lum / self.shadow_fade, max=1.0)  # [N,1,h,w] broadcast over a, b
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
        if self.folded:
            return self
        adj = self.logit_adjustment()
        keep = torch.isfinite(adj).nonzero().flatten()
        head = nn.Conv2d(self.head.in_channels, len(keep), 1).to(self.head.weight.device)
        head.weight.copy_(self.head.weight[keep] / self.temperature)
        head.bias.copy_((self.head.bias[keep] - adj[keep]) / self.temperature)
        self.head, self.centres, self.folded = head, self.centres[:, keep].contiguous(), True
        return self


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear")


def _up4(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=4.0, mode="bilinear")


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


ARCHS = {"ColorCNN": ColorCNN}


def build_colorizer(arch: str, args: dict) -> nn.Module:
    """Rebuild a colorizer from the (arch, args) pair that every checkpoint and ONNX file carries."""
    return ARCHS[arch](**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()})


def colorizer_from_checkpoint(ckpt: dict) -> nn.Module:
    """The exportable colorizer of a python -m train checkpoint (EMA weights where present) in eval mode,
    rebuilt from the checkpoint's arch and arch_args."""
    model = build_colorizer(ckpt["arch"], ckpt["arch_args"])
    model.load_state_dict(weights(ckpt))
    return model.eval()
