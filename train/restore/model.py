"""The restoration network: a small residual U-Net on the photo's luminance (contract restorer/1).

    gray [N,1,H,W] float32, 8-bit gray / 255 (0..1)
      -> pixel-unshuffle by 2: [N,4,H/2,W/2] (lossless: every pixel stays visible to the first conv)
      -> U-Net over three levels, 1/2, 1/4 and 1/8 of the input, additive skips, LeakyReLU, no normalisation
      -> a 4-channel head, pixel-shuffled back to a correction [N,1,H,W]
    restored = clip(gray + correction, 0, 1)

Working at half resolution from the first layer on (as FFDNet does) makes the network about four times cheaper
than one with a full-resolution level, at no loss of information. The head starts at zero, so an untrained
network is the identity, and what it learns is a correction: a clean photo passes through (the model must not
invent detail). H and W must be multiples of SIZE_MULTIPLE (8); the contract promises any multiple of 32.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import torch
import torch.nn.functional as F
from torch import nn

from train.checkpoint import weights

SIZE_MULTIPLE = 8  # 2 (unshuffle) x 2 x 2 (two stride-2 levels)


def conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv + LeakyReLU(0.2). Leaky: with ReLU the last decoder stage can die early in a run (its units
    inactive, the correction stuck at zero); ONNX Runtime fuses either into the conv, at the same speed. Zero
    padding: fused into the conv too, where reflect padding costs a Pad node per conv; the library's tiles overlap
    and blend away tile borders."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2, inplace=True))


class Up(nn.Module):
    """x2 upsampling by a 1x1 conv to 4*cout channels and a pixel shuffle (cheaper than a transposed conv),
    added to the skip, then a 3x3 conv: [N,cin,h,w] + skip [N,cout,2h,2w] -> [N,cout,2h,2w]."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.expand = nn.Conv2d(cin, 4 * cout, 1)
        self.fuse = conv(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.fuse(F.pixel_shuffle(self.expand(x), 2) + skip)


class RestoreUNet(nn.Module):
    """Residual U-Net, widths (w1, w2, w3) at 1/2, 1/4 and 1/8 of the input; `depth` 3x3 convs per encoder
    level. forward: gray float32 [N,1,H,W] (0..1, H and W multiples of 8) -> restored, same shape and range.

    global_context: the mean over the whole input of the 1/8-level features, through linear layers, added to
    them and to the 1/2-level skip: the network sees the photo's overall state (grain or none, blocks or none)
    before deciding whether fine texture is damage. The output then depends on the whole input, so tiles are no
    longer independent of where they are cut; at the library's default working resolution (work_size =
    tile_size) a photo is one tile. Zero at the start: a network grown from one without it starts as that
    network.

    gate: the correction is multiplied by a learnt per-pixel gate, 2 sigmoid(g) in 0..2 (1 at the start, so a
    network grown by it starts as the one without): closing the gate leaves a pixel exactly as it was, which a
    bare correction must reach by cancelling its own terms to a fraction of a level on every clean pixel. Grow it
    onto a trained network (python -m train.restore --init-from): trained from step 0 it can close everywhere
    before the correction has learnt anything, and a closed gate passes no gradient to the correction it gates."""

    size_multiple = SIZE_MULTIPLE

    def __init__(
        self,
        widths: tuple[int, int, int] | list[int] = (24, 48, 64),
        depth: int = 2,
        global_context: bool = False,
        gate: bool = False,
    ):
        super().__init__()
        w1, w2, w3 = widths
        self.enc1 = nn.Sequential(conv(4, w1), *[conv(w1, w1) for _ in range(depth - 1)])
        self.enc2 = nn.Sequential(conv(w1, w2, 2), *[conv(w2, w2) for _ in range(depth - 1)])
        self.enc3 = nn.Sequential(conv(w2, w3, 2), *[conv(w3, w3) for _ in range(depth)])
        self.up2, self.up1 = Up(w3, w2), Up(w2, w1)
        self.head = nn.Conv2d(w1, 4, 3, 1, 1)
        self.gate = nn.Conv2d(w1, 4, 3, 1, 1) if gate else None
        # the global context as a bias on the 1/8 features and on the 1/2 skip (where fine texture is decided)
        self.context = self.context_fine = None
        if global_context:
            self.context, self.context_fine = nn.Linear(w3, w3), nn.Linear(w3, w1)
        # all zero at the start: the head makes the network the identity (a clean photo passes through from step
        # 0), the gate starts open (1) and the context adds nothing, so a network grown by them starts as its source
        for layer in filter(None, (self.head, self.gate, self.context, self.context_fine)):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def correction(self, gray: torch.Tensor) -> torch.Tensor:
        """gray [N,1,H,W] 0..1 -> the additive correction [N,1,H,W] (unclipped)."""
        x = F.pixel_unshuffle(gray - 0.5, 2)  # [N,4,H/2,W/2], centred
        s1 = self.enc1(x)  # [N,w1,H/2,W/2]
        s2 = self.enc2(s1)  # [N,w2,H/4,W/4]
        s3 = self.enc3(s2)  # [N,w3,H/8,W/8]
        if self.context is not None:
            g = s3.mean((2, 3))  # [N,w3]: the mean over the whole input
            s3 = s3 + self.context(g)[:, :, None, None]
            s1 = s1 + self.context_fine(g)[:, :, None, None]  # the skip only: enc2 has already read s1
        y = self.up1(self.up2(s3, s2), s1)  # [N,w1,H/2,W/2]
        c = self.head(y)  # [N,4,H/2,W/2]: the four pixels of each 2x2 block
        if self.gate is not None:
            c = c * 2 * torch.sigmoid(self.gate(y))
        return F.pixel_shuffle(c, 2)  # [N,1,H,W]

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        return (gray + self.correction(gray)).clamp(0.0, 1.0)


ARCHS = {"RestoreUNet": RestoreUNet}


def build_restorer(arch: str, arch_args: dict) -> nn.Module:
    """A restoration network by class name and keyword arguments (as stored in checkpoints)."""
    if arch not in ARCHS:
        raise ValueError(f"unknown restorer arch {arch!r}; choose from {sorted(ARCHS)}")
    return ARCHS[arch](**arch_args)


@torch.no_grad()
def grow_from(net: nn.Module, weights: dict[str, torch.Tensor]) -> list[str]:
    """Load `weights` of a smaller network of the same arch into `net` so that it computes what the smaller one
    did; returns why it cannot (empty if it could). A parameter `net` has and the source lacks must start at zero
    (global_context's, gate's); a wider one (more channels, e.g. widths 24/48/64 -> 32/64/96) takes the source in
    its leading slice and keeps its own initialisation elsewhere, except that old output channels read nothing
    from the new input channels (zeroed): every old feature, and so the output, stays as it was, while the new
    channels get gradients through those zeroed weights and join in. The pixel shuffles keep this true: output
    channel c reads input channels 4c..4c+3, so the old channels stay in front."""
    state, problems = net.state_dict(), []
    for name, old in weights.items():
        new = state.get(name)
        if new is None:
            problems.append(f"{name}: not in the network")
        elif old.ndim != new.ndim or any(o > n for o, n in zip(old.shape, new.shape)):
            problems.append(f"{name}: {tuple(old.shape)} does not fit in {tuple(new.shape)}")
        else:
            if new.ndim >= 2:
                new[: old.shape[0], old.shape[1] :] = 0  # old outputs x new inputs
            new[tuple(slice(0, n) for n in old.shape)] = old
    problems += [f"{k}: missing and not zero-initialised" for k in state if k not in weights and state[k].any()]
    return problems


def restorer_from_checkpoint(ck: dict) -> nn.Module:
    """The exportable restorer (EMA weights where the run kept them) in eval mode, rebuilt from a checkpoint of
    python -m train.restore."""
    if ck.get("kind") != "restorer":
        raise ValueError(f"not a restorer checkpoint (kind {ck.get('kind')!r}): train one with python -m train.restore")
    net = build_restorer(ck["arch"], ck["arch_args"])
    net.load_state_dict(weights(ck))
    return net.eval()


def checkpoint_from_onnx(path: str | Path) -> dict:
    """What python -m train.restore --init-from reads of a checkpoint (kind, arch, arch_args, EMA weights, step,
    seconds, train_data, git_commit), rebuilt from a restorer/1 ONNX file of export.restorer: its initializers keep the
    network's parameter names (float16 ones with an _fp16 suffix), its metadata the architecture and provenance.
    So the shipped onnx_models/restore.onnx can be trained on where its checkpoint is not."""
    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("arch") is None or "train_steps" not in meta:
        raise ValueError(f"{path}: not a restorer exported by python -m export.restorer (no arch/train_steps)")
    inits = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    arch_args = json.loads(meta["arch_args"])
    weights = {}
    for name, p in build_restorer(meta["arch"], arch_args).state_dict().items():
        stored = inits.get(name, inits.get(name + "_fp16"))
        if stored is None:
            raise ValueError(f"{path}: parameter {name} not among the ONNX initializers")
        weights[name] = stored.float().reshape(p.shape)
    return {"kind": "restorer", "arch": meta["arch"], "arch_args": arch_args, "ema": weights,
            "step": int(meta["train_steps"]), "seconds": float(meta["train_seconds"]),
            "train_data": meta.get("train_data", ""), "git_commit": meta.get("git_commit", "unknown")}  # fmt: skip
