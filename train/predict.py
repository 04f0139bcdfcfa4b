"""A PyTorch network as the library's `predict` callable (numpy in, numpy out), so that validation and the
exporters' parity checks run a network through the same code the ONNX models run through."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn


def torch_predict(net: nn.Module) -> Callable[..., np.ndarray]:
    """A `predict` callable for `net` (in eval mode): float32 numpy [N,C,H,W] in the network's input range (L*
    0..100 for a colorizer, gray 0..1 for the restorer; a hint-taking colorizer also takes the hint map
    [N,3,H,W]) -> its output as float32 numpy, no gradients."""
    device = next(net.parameters()).device

    @torch.no_grad()
    def predict(*xs: np.ndarray) -> np.ndarray:
        tensors = (torch.from_numpy(np.ascontiguousarray(x)).to(device) for x in xs)
        return net(*tensors).float().cpu().numpy()

    return predict
