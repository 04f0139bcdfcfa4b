"""Training configuration: one dataclass, optionally filled from a TOML file, saved in every checkpoint."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TypeVar

C = TypeVar("C")

# Default architecture per model kind (the GAN's generator is the CNN); a config file may override both.
DEFAULT_ARCH = {
    "cnn": ("ColorCNN", {"encoder": "lite0"}),
    "gan": ("ColorCNN", {"encoder": "lite0"}),
}


@dataclass
class TrainConfig:
    model: str = "cnn"  # cnn | gan
    arch: str = ""  # colorizer class name in train.models; empty: DEFAULT_ARCH[model]
    arch_args: dict = field(default_factory=dict)
    render_size: int = 256  # default inference render size stamped into the exported model
    # budget: whichever of steps / minutes comes first (0 = unlimited)
    steps: int = 20000
    minutes: float = 0.0
    # data
    val_percent: int = 10  # fixed hash split, see train.data.is_val
    max_short_side: int = 256  # photos are shrunk to this short side when loaded
    crop_sizes: list = field(default_factory=lambda: [128, 160])  # px, one drawn per batch
    batch_pixels: int = 16 * 128 * 128  # batch size = batch_pixels // crop**2, so steps cost alike
    scale_range: list = field(default_factory=lambda: [1.0, 1.0])  # crops shrunk by s in lo..hi, see PhotoBank
    # optimisation
    lr: float = 2e-4
    betas: list = field(default_factory=lambda: [0.5, 0.999])
    weight_decay: float = 0.0
    # lr schedule (generator and discriminator): constant until lr_decay_from, then a cosine down to
    # lr_min_ratio x lr at `steps` (0 = constant)
    lr_decay_from: int = 0
    lr_min_ratio: float = 0.05
    ema_decay: float = 0.999  # weight EMA (0 = none); the EMA weights are evaluated and exported
    rebalance: float = 0.5  # lambda of the rarity weights on the cross-entropy (0 = none), see losses
    # the pretrained encoder: frozen (no gradients) for this many steps, then trained at this ratio of the lr
    freeze_encoder_steps: int = 1000
    encoder_lr_ratio: float = 0.1
    init_from: str = ""  # a checkpoint whose colorizer weights start the run (the GAN: the trained CNN)
    # GAN only
    pretrain_steps: int = 0  # generator-only steps before the adversarial phase ("NoGAN"; 0 with init_from)
    gan_loss: str = "hinge"  # hinge | bce | lsgan
    adv_weight: float = 1.0
    adv_lr: float = 0.0  # the generator's learning rate in the adversarial phase (0 = lr)
    d_lr: float = 2e-4
    d_width: int = 64
    d_scales: int = 1  # 2+: multi-scale PatchGAN, see models.PatchDiscriminator
    # bookkeeping
    eval_every: int = 500
    ckpt_every: int = 250
    val_images: int = 64  # validation photos used at each evaluation
    best_metric: str = "de00"  # de00 (lower is better) | psnr | cf_ratio (higher is better)
    # A checkpoint must also reach this validation cf_ratio to count as best: ΔE00 alone rewards the dull
    # average colour. Until one does, the most colourful evaluation is kept (see Trainer.score).
    best_min_cf_ratio: float = 0.0
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0 = torch default

    def __post_init__(self):
        if self.model not in DEFAULT_ARCH:
            raise ValueError(f"model must be one of {sorted(DEFAULT_ARCH)}, got {self.model!r}")
        if not self.arch:
            self.arch, self.arch_args = DEFAULT_ARCH[self.model][0], dict(DEFAULT_ARCH[self.model][1])

    def to_dict(self) -> dict:
        """Plain dict, safe to store in a checkpoint and JSON."""
        return asdict(self)


def config_from_toml(cls: type[C], path: str | Path | None, defaults: dict | None = None, **overrides) -> C:
    """A config dataclass `cls` (TrainConfig, RestoreConfig, CrackConfig) from `defaults`, then a TOML file's values
    (unknown keys are an error), then keyword overrides (None skipped)."""
    values = dict(defaults or {}) | (tomllib.loads(Path(path).read_text()) if path else {})
    unknown = set(values) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"{path}: unknown config keys {sorted(unknown)}")
    return cls(**values | {k: v for k, v in overrides.items() if v is not None})


def load_config(path: str | Path | None, model_default: str = "cnn", **overrides) -> TrainConfig:
    """A TrainConfig from a TOML file (config_from_toml); `model_default` is the model kind when the file does not
    name one."""
    return config_from_toml(TrainConfig, path, {"model": model_default}, **overrides)
