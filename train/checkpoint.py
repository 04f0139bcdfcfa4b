"""Checkpoints: plain dicts of tensors and Python values, written atomically, read without running code.

Every trainer (train.trainer.Trainer) writes the same keys: kind, config, the network's arch and arch_args,
model, ema, opt, step, seconds, cpu_seconds, best, val_metrics, train_data, git_commit and rng, plus its own.
The exporters, --resume, --init-from and train.soup read them; this module knows no network.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import torch

from colorizer.atomic import atomic_write


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


def weights(ckpt: dict) -> dict[str, torch.Tensor]:
    """The network's state dict to export, average or build on: the EMA weights where the run kept them, else
    the trained ones."""
    return ckpt.get("ema") or ckpt["model"]


def load_matching(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Load every tensor of `state` whose name and shape the model has; returns the names of the model's
    tensors left as built (a part the checkpoint's network did not have, e.g. a new hint branch)."""
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(usable, strict=False)
    return sorted(k for k in own if k not in usable)
