"""Start training from an exported colorizer/1 or /2 ONNX file instead of a checkpoint: fine-tune the shipped
models on your own photos, or retrain a part of them, without their training checkpoints.

    python -m train --model cnn --config train/configs/cnn_hints.toml --init-from onnx_models/cnn.onnx \\
        --data ../shared/data/photos --out ~/runs/cnn_hints

The export folds two things a trainer keeps apart, and both are undone so that the rebuilt network computes
what the file does (within its float16 weights, which it takes as stored):
  - BatchNorms into their convs. The exporter keeps the module names, so each conv takes its folded weight and
    bias by name, and its BatchNorm is set to pass the conv's output through, plus that bias (eval statistics
    0 and 1 - eps). Those of the decoder, which train in train mode, then get the batch statistics of real crops
    (calibrate_batchnorms), so that a training step's batch statistics give the same output too.
  - The decoding into the head: the file keeps only the cells seen in training, with weights and bias / T and
    the bias less beta x their log rarity weight. The head is unfolded with the file's own T and beta and the
    log weights of the photos the run trains on (train.colorize.losses.log_cell_weights); the cells the file
    dropped stay dropped (log weight -inf).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from train.colorize.bins import ab_to_bin
from train.colorize.efficientnet import conv_bn_pairs


def read_onnx(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """An exported colorizer's initializers by their module names (float32 CPU tensors; a float16-stored weight
    widened and named as the Cast that feeds it to the graph) and its metadata (metadata_props: contract, arch,
    arch_args, train_core_hours, ...)."""
    model = onnx.load(str(path))
    cast_to = {n.input[0]: n.output[0] for n in model.graph.node if n.op_type == "Cast"}
    tensors = {
        cast_to.get(init.name, init.name): torch.from_numpy(numpy_helper.to_array(init).astype(np.float32))
        for init in model.graph.initializer
    }
    return tensors, {p.key: p.value for p in model.metadata_props}


def unfolded_state(
    model: nn.Module, path: str | Path, log_weights: np.ndarray
) -> tuple[dict[str, torch.Tensor], dict[str, str], list[str]]:
    """The state dict of the network in the ONNX file at `path`, unfolded for training into `model`'s layout (a
    ColorCNN of the same widths; see the module docstring), the file's metadata, and the names of the hint
    branch's tensors the file lacks or has in another shape (they keep model's own: a branch trained anew).
    log_weights float32 [Q]: the log rarity weight of each ab cell in the run's data."""
    tensors, meta = read_onnx(path)
    args = json.loads(meta["arch_args"])
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for owner, module, conv_name, bn_name in conv_bn_pairs(model):
        conv, bn = f"{owner}.{conv_name}".lstrip("."), f"{owner}.{bn_name}".lstrip(".")
        eps = getattr(module, bn_name).eps
        state[f"{conv}.weight"] = tensors[f"{conv}.weight"]
        channels = tensors[f"{conv}.bias"].shape[0]
        state |= {f"{bn}.weight": torch.ones(channels), f"{bn}.bias": tensors[f"{conv}.bias"]}
        state |= {f"{bn}.running_mean": torch.zeros(channels), f"{bn}.running_var": torch.full((channels,), 1 - eps)}
    branch = {k: v for k, v in tensors.items() if k.startswith("hints.") and k in state and v.shape == state[k].shape}
    state |= branch
    fresh = sorted(k for k in state if k.startswith("hints.") and k not in branch)
    # The head: kept cells from the centres ([3,K,1,1]: a*, b* x chroma gain, and 1), logits x T + beta x log w.
    gain = args.get("chroma_gain", 1.0)
    kept = ab_to_bin(tensors["centres"][:2, :, 0, 0].T[:, :, None, None] / gain)[:, 0, 0]  # [K]
    log_w = torch.from_numpy(log_weights).float()
    log_w = torch.where(torch.isfinite(log_w), log_w, torch.zeros_like(log_w))  # a cell the data lacks: weight 1
    temperature, beta = args.get("temperature", 0.38), args.get("prior_correction", 0.0)
    weight, bias = torch.zeros_like(state["head.weight"]), torch.zeros_like(state["head.bias"])
    weight[kept] = tensors["head.weight"] * temperature
    bias[kept] = tensors["head.bias"] * temperature + beta * log_w[kept]
    dropped = torch.ones_like(log_w, dtype=torch.bool)
    dropped[kept] = False
    state |= {"head.weight": weight, "head.bias": bias, "log_weights": log_w.masked_fill(dropped, -torch.inf)}
    return state, meta, fresh


@torch.no_grad()
def calibrate_batchnorms(model: nn.Module, lum: torch.Tensor) -> None:
    """Give every BatchNorm that trains in train mode (a ColorCNN's decoder's: its encoder's stay frozen) the mean
    and variance of its input on the batch L [N,1,H,W] (0..100) as running statistics, with its weight and bias
    changed so that its eval output is the same: y = a x + c stays, and a train-mode step on crops like these
    gives about that y too. Leaves the model in eval mode."""
    norms = [m for m in model.train().modules() if isinstance(m, nn.BatchNorm2d) and m.training]
    seen = {}
    hooks = [m.register_forward_hook(lambda m, args, out: seen.__setitem__(m, args[0])) for m in norms]
    try:
        model.eval()(lum)
    finally:
        for hook in hooks:
            hook.remove()
    for m in norms:
        x = seen[m].transpose(0, 1).flatten(1)  # [C, N*H*W]
        mean, var = x.mean(1), x.var(1, unbiased=False)
        a = m.weight / torch.sqrt(m.running_var + m.eps)
        c = m.bias - a * m.running_mean
        m.running_mean.copy_(mean)
        m.running_var.copy_(var)
        m.weight.copy_(a * torch.sqrt(var + m.eps))
        m.bias.copy_(c + a * mean)
