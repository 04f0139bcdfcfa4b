"""The restorer's training configuration (python -m train.restore): RunConfig's shared fields with the restorer's
defaults, and its own. Read from a TOML file with train.config.config_from_toml:

    config_from_toml(RestoreConfig, "train/configs/restore_wide8_a.toml", steps=100)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from train.config import RunConfig


@dataclass
class RestoreConfig(RunConfig):
    arch: str = "RestoreUNet"
    arch_args: dict = field(default_factory=lambda: {"widths": [24, 48, 64], "depth": 2})
    # a restorer checkpoint (or exported .onnx) whose EMA weights start the run, which goes on from its step
    # (grown by zero-initialised layers or wider levels, train.restore.model.grow_from: it starts as the source)
    init_from: str = ""
    # RunConfig's fields, with the restorer's defaults
    lr_decay_from: int = 1
    eval_every: int = 1000
    # data: batch_size random crop_size x crop_size crops of the training photos' luminance per step
    crop_size: int = 128
    batch_size: int = 16
    p_clean: float = 0.1  # crops left undamaged: identity targets
    p_tone: float = 0.3  # crops whose target is first faded (low contrast, gamma): tone is not the restorer's job
    p_each: float = 0.4  # probability of each damage kind (train.restore.degrade.KINDS) in a damaged crop
    # damaged crops with one kind alone, by kind, e.g. {jpeg = 0.25}: with p_each alone, a kind is rarely the
    # only damage of a crop, and JPEG on its own is what a clean scan saved as JPEG has
    p_alone: dict = field(default_factory=dict)
    # each undamaged crop is the one the network changes most of this many random ones (1 = a random one): the
    # clean photos it damages have thin natural lines (stems, legs) it erases as scratches, rare among random crops
    hard_clean: int = 1
    # optimisation
    loss: str = "mse"  # mse (PSNR's own loss) | rmse (each crop's RMSE averaged: nearly clean crops weigh more)
    # clip the gradients' total norm to this (0 = off): a wide network from scratch at lr 1e-3 can spike
    grad_clip: float = 0.0
    # forward and backward under bfloat16 autocast (fast where the CPU has AVX512-BF16): the weights, Adam, the
    # EMA, the output's addition to the input and the loss stay float32
    bf16: bool = False
    # inference, stamped into the exported model's metadata
    tile_size: int = 1024  # px, a multiple of 32
    tile_overlap: int = 64
    work_size: int = 1024  # long side above which the library restores a shrunk copy (0 = never)
    flips: int = 1  # the network averaged over the crop and its mirror images: 1, 2 or 4 (flip_averaged)
