"""Reference networks for the benchmark (random weights: weights do not change speed).

(b) The original student project's method ran two networks at the full, squared image size:
  - a pix2pix U-Net generator (Isola et al. 2017, `unet_256`): 8 stride-2 downsamplings, 64 base filters,
    BatchNorm, transposed-conv upsampling, about 54 M parameters;
  - a plain CNN of about 0.9 M parameters: 3x3 convs 1->32->64 (stride 2)->128 (stride 2)->128->256, two x2
    upsamplings with 256->128->64, then 64->32->3.
They are exported to ONNX here and timed under ONNX Runtime, like ours.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class Pix2PixUNet(nn.Module):
    """pix2pix UnetGenerator(input_nc=1, output_nc=2, num_downs=8, ngf=64), eval mode (no dropout)."""

    def __init__(self, cin: int = 1, cout: int = 2, ngf: int = 64):
        super().__init__()
        chans = [ngf, ngf * 2, ngf * 4, ngf * 8, ngf * 8, ngf * 8, ngf * 8, ngf * 8]
        self.down = nn.ModuleList()
        prev = cin
        for i, c in enumerate(chans):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(prev, c, 4, 2, 1, bias=False))
            if 0 < i < len(chans) - 1:
                layers.append(nn.BatchNorm2d(c))
            self.down.append(nn.Sequential(*layers))
            prev = c
        self.up = nn.ModuleList()
        for i in reversed(range(len(chans))):
            cin_up = chans[i] if i == len(chans) - 1 else chans[i] * 2
            c = chans[i - 1] if i > 0 else cout
            layers = [nn.ReLU(), nn.ConvTranspose2d(cin_up, c, 4, 2, 1, bias=i == 0)]
            layers.append(nn.Tanh() if i == 0 else nn.BatchNorm2d(c))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for d in self.down:
            x = d(x)
            skips.append(x)
        skips.pop()
        for u in self.up:
            x = u(x)
            if skips:
                x = torch.cat([x, skips.pop()], 1)
        return x


def plain_cnn() -> nn.Sequential:
    """The original project's 0.9 M-parameter CNN (ReLU after each conv but the last)."""

    def c(i: int, o: int, s: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(i, o, 3, s, 1), nn.ReLU()]

    up = nn.Upsample(scale_factor=2.0)
    return nn.Sequential(
        *c(1, 32), *c(32, 64, 2), *c(64, 128, 2), *c(128, 128), *c(128, 256),
        up, *c(256, 128), nn.Upsample(scale_factor=2.0), *c(128, 64), *c(64, 32), nn.Conv2d(32, 3, 3, 1, 1),
    )  # fmt: skip


def export_references(folder: Path) -> dict[str, Path]:
    """Export both reference networks (dynamic H, W) into `folder`; returns {name: path}."""
    torch.manual_seed(0)
    out = {}
    for name, net in (("pix2pix_unet", Pix2PixUNet()), ("plain_cnn", plain_cnn())):
        path = folder / f"{name}.onnx"
        dim = torch.export.Dim
        shapes = ({2: 256 * dim("h_blocks", max=64), 3: 256 * dim("w_blocks", max=64)},)  # by position
        prog = torch.onnx.export(
            net.eval(), (torch.zeros(1, 1, 512, 512),), input_names=["x"], output_names=["y"],
            dynamic_shapes=shapes, dynamo=True, external_data=False,
        )  # fmt: skip
        prog.save(str(path), external_data=False)
        out[name] = path
    return out
