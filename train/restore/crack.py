r"""Train the crack detector (train.restore.crack_model.CrackNet): which pixels of a scanned photo's luminance
are local damage (cracks, scratches, dust), and which are picture?

    python -m train.restore.crack --data DIR --out RUN_DIR [--config FILE] [--steps N | --minutes M] [--resume]
                                  [--threads T]

The shipped detector, then the shipped crack filler made from it:
    python -m train.restore.crack --config train/configs/crack_b.toml --data ../shared/data/photos \
        --out ~/runs/crack_b
    python -m export.restorer ~/runs/crack_b/last.pt --threshold 0.7 -o onnx_models/cracks.onnx

Each step draws batch_size crops of the training photos' luminance (train.data's hash split), half of them first
enlarged 1-2.2x as a scan is (the picture smoother than its damage), 30 % faded. On 1 - p_clean of them: short
cracks, scratches, dust (train.restore.degrade, each at times drawn 1-2.5x larger, as on a large scan) and the
real cracks lifted off `damage_prints` (train.restore.degrade.print_damage); the target mask is every pixel that
damage moved by more than mask_level 8-bit levels. Then what a scan adds everywhere and must NOT be flagged: film
grain, noise, blur, an unsharp mask, a JPEG. Loss: binary cross-entropy of the logits against the mask, positives
weighed by pos_weight (damage is a few % of the pixels). Adam, the lr on a cosine after lr_decay_from
(train.trainer.lr_factor); no weight EMA and no validation (the detector is judged through the filler it makes).
RUN_DIR receives last.pt (kind "crack_detector", the arch and its arguments; --resume continues exactly), log.csv
and loss.png. `seconds` is wall time, `cpu_seconds` the CPU time over all threads (its core-hours: what the
training budget counts).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from train.config import RunConfig, config_from_toml
from train.data import GrayBank, random_turn, split_photos
from train.restore import degrade as D
from train.restore.crack_model import CrackNet
from train.trainer import Trainer, add_run_arguments


@dataclass
class CrackConfig(RunConfig):
    """A crack detector run's settings: RunConfig's shared fields with the detector's defaults, and its own. Read
    from a TOML file with train.config.config_from_toml(CrackConfig, path)."""

    arch_args: dict = field(default_factory=lambda: {"widths": [16, 24, 32]})
    # RunConfig's fields, with the detector's defaults
    steps: int = 3000
    lr: float = 2e-3
    lr_decay_from: int = 150
    lr_min_ratio: float = 0.02
    ema_decay: float = 0.0  # no weight EMA: the detector is exported as trained
    eval_every: int = 250  # no validation: the loss plot, with a checkpoint
    threads: int = 1  # the fewest core-seconds a step
    # data
    crop_size: int = 128
    batch_size: int = 16
    p_clean: float = 0.25  # crops with no local damage: only what a scan adds everywhere
    mask_level: float = 10.0  # 8-bit levels a pixel must move to count as damaged
    p_scratches: float = 0.35  # share of damaged crops with long, nearly straight scratches (degrade.scratches)
    damage_prints: list = field(default_factory=list)  # scanned prints whose cracks are lifted (print_damage)
    pos_weight: float = 3.0


def scan_crop(gray: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A size x size crop of gray uint8 HxW, in half of the draws enlarged 1-2.2x first (bicubic), in a random
    orientation; float32 0..1, 30 % of the time faded (train.restore.degrade.tone)."""
    if rng.random() < 0.5:
        up = rng.uniform(1.0, 2.2)
        side = min(int(np.ceil(size / up)) + 2, *gray.shape)
        y, x = rng.integers(gray.shape[0] - side + 1), rng.integers(gray.shape[1] - side + 1)
        patch = Image.fromarray(gray[y : y + side, x : x + side])
        gray = np.asarray(patch.resize((max(size, round(side * up)),) * 2, Image.Resampling.BICUBIC))
    y, x = rng.integers(gray.shape[0] - size + 1), rng.integers(gray.shape[1] - size + 1)
    crop = np.ascontiguousarray(random_turn(gray[y : y + size, x : x + size], rng))
    return D.to_float(D.tone(crop, rng) if rng.random() < 0.3 else crop)


def local_damage(x: np.ndarray, cfg: CrackConfig, prints: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """float32 HxW 0..1 with a random mix of cracks, scratches, dust and real print cracks (not clipped)."""
    s = rng.uniform(1.0, 2.5) if rng.random() < 0.5 else 1.0
    if rng.random() < 0.5:
        x = D.cracks(np.clip(x, 0, 1), int(rng.integers(1, 20)), rng, s)
    if rng.random() < cfg.p_scratches:
        x = D.scratches(np.clip(x, 0, 1), int(rng.integers(1, 6)), rng, s)
    if rng.random() < 0.4:
        x = D.dust(np.clip(x, 0, 1), float(np.exp(rng.uniform(np.log(20), np.log(3000)))), rng, s)
    if prints and rng.random() < 0.3:
        x = D.add_print_damage(x, prints, rng)
    return x


def scan_noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 HxW -> uint8 HxW with what a scan adds everywhere: grain, noise, blur, sharpening, a JPEG."""
    if rng.random() < 0.5:
        x = D.film_grain(x, rng.uniform(2, 12), rng, rng.uniform(1, 2))
    if rng.random() < 0.3:
        x = D.gaussian_noise(x, rng.uniform(2, 10), rng)
    if rng.random() < 0.2:
        x = D.blur(x, rng.uniform(0.4, 1.2))
    if rng.random() < 0.5:
        x = D.sharpen(x, rng.uniform(0.5, 2.5), rng.uniform(0.7, 1.5))
    out = D.to_uint8(np.clip(x, 0, 1))
    return D.jpeg(out, int(rng.integers(40, 96))) if rng.random() < 0.4 else out


def crack_sample(
    gray: np.ndarray, cfg: CrackConfig, prints: list[np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(damaged scan uint8 HxW, damage mask float32 HxW 0/1) of one crop of a clean photo (module docstring)."""
    clean = scan_crop(gray, cfg.crop_size, rng)
    damaged = clean if rng.random() < cfg.p_clean else local_damage(clean, cfg, prints, rng)
    mask = (np.abs(damaged - clean) > cfg.mask_level / 255).astype(np.float32)
    return scan_noise(damaged, rng), mask


class CrackTrainer(Trainer):
    """The crack detector in RUN_DIR: last.pt, log.csv, loss.png."""

    kind = "crack_detector"
    losses = ("loss", "precision", "recall")
    plots: ClassVar[dict[str, tuple[str, ...]]] = {
        "training loss": ("loss",),
        "training batches": ("precision", "recall"),
    }
    cfg: CrackConfig

    def build(self, data_dir: str | Path, fresh: bool) -> None:
        """The training photos' luminance, the real prints' crack layers, the detector and its optimiser."""
        cfg = self.cfg
        train_files, _ = split_photos(data_dir, cfg.val_percent)
        self.bank = GrayBank(train_files, cfg.max_short_side, cfg.crop_size)
        self.prints = [D.print_damage(np.asarray(Image.open(p).convert("L"))) for p in cfg.damage_prints]
        self.train_data = f"{data_dir}: {len(train_files)} photos (val_percent {cfg.val_percent}); prints " + (
            ", ".join(Path(p).name for p in cfg.damage_prints) or "none"
        )
        self.model = CrackNet(**cfg.arch_args)
        self.opt = torch.optim.Adam(self.model.parameters(), cfg.lr, tuple(cfg.betas))

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scans [B,1,S,S] float32 0..1, masks [B,1,S,S] 0/1)."""
        grays = self.bank.grays
        pairs = [crack_sample(grays[self.rng.integers(len(grays))], self.cfg, self.prints, self.rng)
                 for _ in range(self.cfg.batch_size)]  # fmt: skip
        scans, masks = zip(*pairs)
        return torch.from_numpy(np.stack(scans)[:, None] / np.float32(255)), torch.from_numpy(np.stack(masks)[:, None])

    def train_step(self) -> dict[str, float]:
        """One optimisation step; returns the loss and the batch's precision and recall (logits > 0 as found)."""
        scans, masks = self.batch()
        self.set_lr(self.opt, self.cfg.lr)
        logits = self.model(scans)
        loss = F.binary_cross_entropy_with_logits(logits, masks, pos_weight=torch.tensor(self.cfg.pos_weight))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        hit, real = logits.detach() > 0, masks > 0
        tp = (hit & real).sum().item()
        precision, recall = tp / max(1, hit.sum().item()), tp / max(1, real.sum().item())
        return {"loss": loss.item(), "precision": precision, "recall": recall}

    def state(self) -> dict:
        """The detector's keys: kind, arch, arch_args (what export.restorer reads)."""
        return {"kind": self.kind, "arch": "CrackNet", "arch_args": self.cfg.arch_args}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(ap, "folder of photos (colour or gray)", "TOML file of CrackConfig fields", "torch threads")
    args = ap.parse_args()
    cfg = config_from_toml(CrackConfig, args.config, steps=args.steps, minutes=args.minutes, threads=args.threads)
    CrackTrainer(cfg, args.data, args.out, resume=args.resume).run(cfg.steps, cfg.minutes)


if __name__ == "__main__":
    main()
