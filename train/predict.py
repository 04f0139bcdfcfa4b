"""Run a PyTorch colorizer through the library's own pipeline (training-time validation, export checks)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from colorizer.pipeline import colorize_array


def torch_predict(net: nn.Module):
    """A pipeline `predict` callable: L float32 [N,1,H,W] numpy -> ab float32 [N,2,H,W] numpy."""

    device = next(net.parameters()).device

    @torch.no_grad()
    def predict(lum: np.ndarray) -> np.ndarray:
        return net(torch.from_numpy(np.ascontiguousarray(lum)).to(device)).float().cpu().numpy()

    return predict


def colorize_rgb(net: nn.Module, rgb: np.ndarray, render_size: int = 256) -> np.ndarray:
    """Colorize an RGB uint8 HxWx3 photo from its luma with `net` (eval mode): RGB uint8 HxWx3, same size."""
    return colorize_array(torch_predict(net), rgb, render_size, net.size_multiple)
