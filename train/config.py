"""Run configuration: the fields every trainer shares (RunConfig), and one reader of TOML config files.

Each product's config (train.colorize.config.ColorizeConfig, train.restore.config.RestoreConfig,
train.restore.crack.CrackConfig) is a dataclass derived from RunConfig, with its own defaults and fields. Every
field is saved in the run's checkpoints (to_dict), so a run says how it was made.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TypeVar

C = TypeVar("C")


@dataclass
class RunConfig:
    """What train.trainer.Trainer reads: the budget, the data split, the optimiser's lr schedule, the weight EMA,
    the checkpoint and validation cadence, the seed and the thread count."""

    # budget: whichever of steps / minutes comes first (minutes 0 = unlimited). `steps` is the run's total (a
    # resumed run continues up to it) and the end of the lr cosine; `minutes` bounds one call's wall time.
    steps: int = 20000
    minutes: float = 0.0
    val_percent: int = 10  # the fixed hash split of train.data.is_val: every product holds out the same photos
    max_short_side: int = 256  # photos are shrunk to this short side (px) when loaded
    # Adam; the lr is constant until lr_decay_from, then follows a half cosine down to lr_min_ratio x lr at `steps`
    # (lr_decay_from 0 = constant), see train.trainer.lr_factor
    lr: float = 1e-3
    betas: list = field(default_factory=lambda: [0.9, 0.999])
    lr_decay_from: int = 0
    lr_min_ratio: float = 0.05
    ema_decay: float = 0.999  # exponential average of the weights (0 = none): what is validated and exported
    eval_every: int = 500  # steps between validations (with the loss plot and a checkpoint)
    ckpt_every: int = 250  # steps between checkpoints (last.pt)
    val_images: int = 16  # validation photos, evenly spaced over the split
    seed: int = 0
    threads: int = 0  # torch intra-op threads; 0 = torch's default

    def to_dict(self) -> dict:
        """Plain dict, safe to store in a checkpoint and JSON."""
        return asdict(self)


def config_from_toml(cls: type[C], path: str | Path | None, defaults: dict | None = None, **overrides) -> C:
    """A config dataclass `cls` from `defaults`, then a TOML file's values (unknown keys are an error), then
    keyword overrides (None skipped: an unset command-line flag)."""
    values = dict(defaults or {}) | (tomllib.loads(Path(path).read_text()) if path else {})
    unknown = set(values) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"{path}: unknown config keys {sorted(unknown)}")
    return cls(**values | {k: v for k, v in overrides.items() if v is not None})
