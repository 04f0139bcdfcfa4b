"""The restorer's training configuration (train.restore): one dataclass, read from a TOML file.

    from train.restore_config import load_restore_config
    cfg = load_restore_config("train/configs/restore6_c.toml", steps=38000)

Every field is stored in the run's checkpoints (RestoreConfig.to_dict), so a run says how it was made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from train.config import config_from_toml
from train.degrade import KINDS


@dataclass
class RestoreConfig:
    arch: str = "RestoreUNet"
    arch_args: dict = field(default_factory=lambda: {"widths": [24, 48, 64], "depth": 2})
    steps: int = 20000  # the run's total (and the end of the lr cosine)
    # a restorer checkpoint (or exported .onnx) whose EMA weights start the run, which goes on from its step
    # (grown by zero-initialised layers or wider levels, train.restore_model.grow_from: it starts as the source)
    init_from: str = ""
    minutes: float = 0.0  # wall-clock budget of one call (0 = none)
    # data
    val_percent: int = 10  # the colorizers' fixed hash split, train.data.is_val
    max_short_side: int = 256
    crop_size: int = 128
    batch_size: int = 16
    p_clean: float = 0.1  # crops left undamaged: identity targets
    p_tone: float = 0.3  # crops whose target is first faded (low contrast, gamma): tone is not the restorer's job
    p_each: float = 0.4  # probability of each damage kind in a damaged crop
    p_kind: dict = field(default_factory=dict)  # kinds whose probability differs from p_each, e.g. {jpeg = 0.6}
    # damaged crops with one kind alone, by kind, e.g. {jpeg = 0.25}: with p_each 0.4 alone, JPEG by itself was 3 %
    # of the damaged crops and its gain stayed at 0 dB (docs/restoration.md)
    p_alone: dict = field(default_factory=dict)
    kinds: list = field(default_factory=lambda: list(KINDS))  # the damage kinds trained on (train.degrade.KINDS)
    # each undamaged crop is the one the network changes most of this many random ones (1 = a random one): the
    # clean photos it damages have thin natural lines (stems, legs) it erases as scratches, rare among random crops
    hard_clean: int = 1
    # scans sharpened by an unsharp mask, input and target alike (train.degrade.sharpen): the share of crops, and
    # the ranges of the mask's amount and radius (px). The scratches on the real print bopbtl_a have the dark
    # fringes of a sharpened scan, and a restorer trained without them leaves them there.
    p_sharpen: float = 0.0
    sharpen: list = field(default_factory=lambda: [0.5, 2.5])
    sharpen_radius: list = field(default_factory=lambda: [0.7, 1.5])
    # damaged crops whose damage is local only (dust, scratches, cracks) and confined to a random rectangle, the
    # rest of the crop clean: a real print's cracks lie in one corner of a photo that is clean elsewhere, and a
    # network that judges the photo as a whole (global_context, gate) learnt to leave such a photo untouched
    p_local: float = 0.0
    # real damage: the cracks of these scanned prints (train.degrade.print_damage; paths, e.g. the heavily cracked
    # bopbtl_b and bopbtl_d of ../shared/data/old_photos) added to p_prints of the damaged crops before their other
    # damage. Synthetic cracks alone taught the restorer to leave the real ones of bopbtl_a (docs/restoration.md).
    damage_prints: list = field(default_factory=list)
    p_prints: float = 0.0
    # optimisation
    # mse: PSNR's own loss. With l1 a run learnt nothing of scratches in 200 steps (0.0 dB, against +1.2 dB with
    # mse): the sign gradients of the many undamaged pixels outweigh the few, large errors of sparse damage.
    loss: str = "mse"  # mse | l1 | rmse (rmse_loss) | psnr (psnr_loss)
    lr: float = 1e-3
    betas: list = field(default_factory=lambda: [0.9, 0.999])
    lr_decay_from: int = 1  # cosine from this step to `steps` (0 = constant lr), see train.loop.lr_factor
    lr_min_ratio: float = 0.05
    # clip the gradients' total norm to this (0 = off): from scratch at lr 1e-3, wide7_a (widths 48/96/128) and a
    # bfloat16 run of restore3_a's recipe had a loss spike (x10-100) within 1,500 steps; wide7_a never caught up
    grad_clip: float = 0.0
    ema_decay: float = 0.999
    # forward and backward under bfloat16 autocast, where the CPU has AVX512-BF16 (a step 1.9x faster on one
    # thread, measured): the weights, Adam, the EMA, the output's addition to the input and the loss stay float32
    bf16: bool = False
    # inference, stamped into the exported model's metadata
    tile_size: int = 1024  # px, a multiple of 32
    tile_overlap: int = 64
    work_size: int = 1024  # long side above which the library restores a shrunk copy (0 = never)
    flips: int = 1  # the network averaged over the crop and its mirror images: 1, 2 or 4 (flip_averaged)
    # bookkeeping
    eval_every: int = 1000
    ckpt_every: int = 250
    val_images: int = 16
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0 = torch default

    def to_dict(self) -> dict:
        """Plain dict, safe to store in a checkpoint and JSON."""
        return asdict(self)


def load_restore_config(path: str | Path | None, **overrides) -> RestoreConfig:
    """A RestoreConfig from a TOML file (unknown keys are an error), then keyword overrides (None skipped)."""
    return config_from_toml(RestoreConfig, path, **overrides)
