"""DistributedDataParallel plumbing: one process per device, started by torchrun.

    torchrun --nproc_per_node=K -m train --model gan --config train/configs/gan.toml --data DIR --out RUN_DIR

Without torchrun (WORLD_SIZE unset or 1) everything here is a no-op for a single process. Backend: NCCL
when CUDA is available, gloo on CPU. Rank 0 alone logs, validates and writes checkpoints (train.trainer.Trainer).
Only the colorizers train on several processes; the restorer and the crack detector run as one (`local`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass
class Dist:
    """This process's place: rank of world, and the device it trains on."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        """True on the process that logs, validates and saves."""
        return self.rank == 0

    @property
    def amp(self) -> bool:
        """Automatic mixed precision is used on CUDA only."""
        return self.device.type == "cuda"


def local() -> Dist:
    """A single process on the CPU: the place of a trainer that never runs under torchrun."""
    return Dist(0, 1, torch.device("cpu"))


def init() -> Dist:
    """Join the process group if started by torchrun; pick the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
        return Dist(dist.get_rank(), world, device)
    return Dist(0, 1, device)


def wrap(module: nn.Module, ctx: Dist) -> nn.Module:
    """The module moved to the device, wrapped in DDP when there are several processes."""
    module = module.to(ctx.device)
    if ctx.world == 1:
        return module
    # find_unused_parameters: the colorizers' encoder is frozen (no gradients) for its first steps
    device_ids = [ctx.device.index] if ctx.amp else None
    return DistributedDataParallel(module, device_ids=device_ids, find_unused_parameters=True)


def mean_array(a: np.ndarray, ctx: Dist) -> np.ndarray:
    """The element-wise mean of a float64 array over all processes."""
    if ctx.world == 1:
        return a
    t = torch.from_numpy(a.astype(np.float64))
    dist.all_reduce(t)
    return (t / ctx.world).numpy()


def sync_buffers(module: nn.Module, ctx: Dist) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP broadcasts them at the start of each forward, so after the last step they still differ by that
    step's local update; call this once at the end so that every rank holds the same state.
    """
    if ctx.world > 1:
        for b in module.buffers():
            dist.broadcast(b, 0)


def gather(obj: Any, ctx: Dist) -> list:
    """Every process's `obj`, in rank order (a one-item list for a single process)."""
    if ctx.world == 1:
        return [obj]
    out: list = [None] * ctx.world
    dist.all_gather_object(out, obj)
    return out


def close(ctx: Dist) -> None:
    """Leave the process group."""
    if ctx.world > 1:
        dist.destroy_process_group()
