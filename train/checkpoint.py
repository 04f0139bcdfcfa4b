"""Checkpoints that carry their own architecture, config and provenance, written atomically."""

from __future__ import annotations

import subprocess
from pathlib import Path

import torch
from torch import nn

from colorizer.atomic import atomic_write
from train.models import build_colorizer


def git_commit() -> str:
    """The commit the training code runs from ('unknown' outside a git checkout), '+dirty' if modified."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=here, capture_output=True, text=True)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def save_atomic(obj: dict, path: Path) -> None:
    """torch.save to a temporary file beside `path`, fsync, then rename (colorizer.atomic.atomic_write): a
    killed run never leaves half a checkpoint, and the next run removes the temporary file."""
    atomic_write(path, lambda f: torch.save(obj, f))


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint dict (CPU tensors) with weights_only=True: tensors and plain Python values only
    (the numpy random state is a dict of ints), so loading a file never runs code from it."""
    return torch.load(path, map_location="cpu", weights_only=True)


def colorizer_weights(ckpt: dict) -> dict:
    """The colorizer's state dict to export or build on: the EMA weights where the run kept them."""
    return ckpt.get("ema") or ckpt["model"]


def colorizer_from_checkpoint(ckpt: dict) -> nn.Module:
    """The exportable colorizer (EMA weights where present) in eval mode, rebuilt from the checkpoint's args."""
    model = build_colorizer(ckpt["arch"], ckpt["arch_args"])
    model.load_state_dict(colorizer_weights(ckpt))
    return model.eval()
