"""The restorer's product for the training loop (train.trainer.Trainer): its training pairs, step, validation
and state (contract restorer/1: gray float32 [N,1,H,W] 0..1 in, restored out).

Each step draws batch_size random crops (random photo, position, flip and quarter turn) of the training photos'
8-bit luminance (train.data's hash split, so the validation photos are the colorizers'). A crop's target is the
clean crop or, with probability p_tone, the crop faded by train.restore.degrade.tone: the restorer must leave tone
alone. Its input is the target itself (p_clean of the crops: nothing to repair; with hard_clean k > 1, the one of
k random crops that the network changes most) or the target with a random combination of damage, or one kind alone
(p_alone; train.restore.degrade.random_damage). The loss compares the restored crop with the target (both 0..1):
the mean squared error, or each crop's RMSE averaged (LOSSES). Adam, the lr on a cosine (train.trainer.lr_factor),
the gradients' norm clipped at grad_clip; an EMA of the weights is what is validated and exported. bf16 runs the
forward and backward under bfloat16 autocast; the weights stay float32.
Validation: every group of train.restore.evaluate on val_images validation photos, restored through the library's
tiling; best.pt keeps the best mean PSNR gain over the damaged groups among checkpoints whose clean and
low-contrast outputs stay >= MIN_CLEAN_PSNR dB.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from colorizer.color import gray_to_rgb, rgb_to_gray
from colorizer.restore import flip_averaged, restore_full
from train import report
from train.checkpoint import load_checkpoint, weights
from train.data import GrayBank, evenly_spaced, load_rgb, split_photos
from train.predict import torch_predict
from train.restore.config import RestoreConfig
from train.restore.degrade import KINDS, apply_damage, random_damage, tone
from train.restore.evaluate import GROUPS, damaged_pair, evaluate, pair_rng
from train.restore.model import build_restorer, checkpoint_from_onnx, grow_from
from train.trainer import Trainer

MIN_CLEAN_PSNR = 40.0  # dB; the contract's floor is 38, the margin absorbs the difference between photo sets
DAMAGED = [g for g in GROUPS if g not in ("clean", "low_contrast")]
PSNR_EPS = 1e-6  # (0.26 levels of 255)^2: below it an error no longer shows once the output is rounded to 8 bits


def crop_mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Each crop's mean squared error, [N], of out and target float32 [N,1,h,w] 0..1."""
    return (out - target).square().mean((1, 2, 3))


def rmse_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean over the batch of each crop's root mean square error (+PSNR_EPS inside the root), out and target
    float32 [N,1,h,w] 0..1: each crop's gradient divided by the square root of its error, so a crop with little to
    repair weighs more than under plain mse, where the few large errors of heavy damage set the direction."""
    return (crop_mse(out, target) + PSNR_EPS).sqrt().mean()


LOSSES = {"mse": F.mse_loss, "rmse": rmse_loss}  # the restorer's losses, (out, target) -> scalar


def training_target(clean: np.ndarray, cfg: RestoreConfig, rng: np.random.Generator) -> np.ndarray:
    """A crop's undamaged target, gray uint8 HxW: the clean crop or, with probability p_tone, the crop faded."""
    return tone(clean, rng) if rng.random() < cfg.p_tone else clean


def training_pair(clean: np.ndarray, cfg: RestoreConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(damaged input, target) gray uint8 HxW for one crop, as the module docstring describes; an undamaged crop
    is returned as (target, target), the same array twice."""
    target = training_target(clean, cfg, rng)
    if rng.random() < cfg.p_clean:
        return target, target
    return apply_damage(target, random_damage(rng, cfg.p_each, cfg.p_alone), rng), target


def as_batch(grays: list[np.ndarray]) -> torch.Tensor:
    """Crops gray uint8 hxw (all one size) -> float32 [N,1,h,w] 0..1, channels_last (oneDNN's faster layout)."""
    x = torch.from_numpy(np.stack(grays)[:, None].astype(np.float32) / 255)
    return x.contiguous(memory_format=torch.channels_last)


class RestoreTrainer(Trainer):
    """The restorer in RUN_DIR: last.pt, best.pt, log.csv, loss.png, samples/ (damaged | restored | clean)."""

    kind = "restorer"
    losses = ("loss",)
    validation = ("val_psnr", "val_gain", "val_gain_min", "val_clean")
    plots: ClassVar[dict[str, tuple[str, ...]]] = {
        "training loss": ("loss",),
        "validation gain (dB)": ("val_gain", "val_gain_min"),
    }
    cfg: RestoreConfig

    def build(self, data_dir: str | Path, fresh: bool) -> None:
        """The training photos' luminance, the validation photos, the network (init_from's weights when the run
        starts fresh from another) and its optimiser."""
        cfg = self.cfg
        if cfg.loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {cfg.loss!r}")
        # a network whose gate has closed computes with denormal floats, many times slower; flushing costs nothing
        torch.set_flush_denormal(True)
        train_files, val_files = split_photos(data_dir, cfg.val_percent)
        self.bank = GrayBank(train_files, cfg.max_short_side, cfg.crop_size)
        self.val = [rgb_to_gray(load_rgb(f, cfg.max_short_side)) for f in evenly_spaced(val_files, cfg.val_images)]
        self.train_data = f"{Path(data_dir).name}: {len(train_files)} train / {len(val_files)} val photos"
        # channels_last: oneDNN's faster convolution layout on CPU
        self.model = build_restorer(cfg.arch, cfg.arch_args).to(memory_format=torch.channels_last)
        if cfg.crop_size % self.model.size_multiple:
            raise ValueError(f"crop_size {cfg.crop_size} is not a multiple of {self.model.size_multiple}")
        self.opt = torch.optim.Adam(self.model.parameters(), cfg.lr, tuple(cfg.betas))
        if fresh and cfg.init_from:
            onnx_file = cfg.init_from.endswith(".onnx")
            self._init_from(checkpoint_from_onnx(cfg.init_from) if onnx_file else load_checkpoint(cfg.init_from))

    def _init_from(self, ck: dict) -> None:
        """Start from another run's EMA weights at its step: the same network, or one grown by zero-initialised
        layers or wider levels (train.restore.model.grow_from: it starts as the source network)."""
        problems = grow_from(self.model, weights(ck))
        if problems:
            raise ValueError(f"{self.cfg.init_from}: weights do not fit {self.cfg.arch_args}: {problems[:4]}")
        self.step, self.seconds = ck["step"], ck["seconds"]  # the source's steps count: lr schedule, provenance
        self.continue_lineage(ck["git_commit"])

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(damaged, target) float32 [batch_size,1,crop,crop], 0..1."""
        pairs = [training_pair(self.bank.crop(self.rng, self.cfg.crop_size), self.cfg, self.rng)
                 for _ in range(self.cfg.batch_size)]  # fmt: skip
        if self.cfg.hard_clean > 1:
            clean = [i for i, (x, y) in enumerate(pairs) if x is y]
            for i, crop in zip(clean, self.hardest_clean(len(clean))):
                pairs[i] = (crop, crop)
        return as_batch([x for x, _ in pairs]), as_batch([y for _, y in pairs])

    @torch.no_grad()
    def hardest_clean(self, n: int) -> list[np.ndarray]:
        """n undamaged training targets (gray uint8 HxW), each the one of hard_clean random crops that the current
        network changes most (largest mean squared change): hard negatives, mined as the run goes."""
        k = self.cfg.hard_clean
        crops = [self.bank.crop(self.rng, self.cfg.crop_size) for _ in range(n * k)]
        cands = [training_target(c, self.cfg, self.rng) for c in crops]
        if not cands:
            return []
        x = as_batch(cands)
        self.model.eval()
        with self.autocast():
            change = crop_mse(self.model(x), x).view(n, k)
        return [cands[i * k + int(j)] for i, j in enumerate(change.argmax(1))]

    def train_step(self) -> dict[str, float]:
        """One optimisation step; returns {"loss": the loss, "grad_norm": the gradients' total norm before
        clipping}."""
        x, y = self.batch()
        self.set_lr(self.opt, self.cfg.lr)
        self.model.train()
        with self.autocast():
            restored = self.model(x)  # float32: the input plus a bfloat16 correction under autocast
        loss = LOSSES[self.cfg.loss](restored, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip or float("inf"))
        self.opt.step()
        return {"loss": loss.item(), "grad_norm": float(norm)}

    def autocast(self) -> torch.autocast:
        """The training forward's autocast: bfloat16 if the config asks for it, else off."""
        return torch.autocast("cpu", torch.bfloat16, enabled=self.cfg.bf16)

    def restore(self, gray: np.ndarray) -> np.ndarray:
        """gray uint8 HxW -> restored by the averaged network, through the library's tiling (full resolution)."""
        cfg = self.cfg
        predict = flip_averaged(torch_predict(self.averaged), cfg.flips)
        return restore_full(gray, predict, cfg.tile_size, cfg.tile_overlap, self.model.size_multiple)

    @torch.no_grad()
    def validate(self, samples: Path) -> tuple[dict, dict]:
        """Every evaluation group on the validation photos (train.restore.evaluate), restored by the averaged
        network, and the summary figures: val_psnr and val_gain of the mixed group, the smallest single-kind gain,
        the worse of the clean and low-contrast PSNRs, and the mean gain over the damaged groups (what best.pt
        keeps); with their log row. `samples`: damaged | restored | clean of the first photos, mixed damage."""
        groups = evaluate(self.val, self.restore)
        metrics = {
            "val_psnr": groups["mixed"]["psnr_out"],
            "val_gain": groups["mixed"]["gain"],
            "val_gain_min": min(groups[k]["gain"] for k in KINDS),
            "val_clean": min(groups["clean"]["psnr_out"], groups["low_contrast"]["psnr_out"]),
            "val_gain_mean": float(np.mean([groups[g]["gain"] for g in DAMAGED])),
        }
        rows = []
        for i, gray in enumerate(self.val[:6]):
            target, damaged = damaged_pair(gray, "mixed", pair_rng(0, i, "mixed"))
            rows.append([gray_to_rgb(a) for a in (damaged, self.restore(damaged), target)])
        report.image_sheet(rows, samples, 128)
        return metrics | {"groups": groups}, {k: metrics[k] for k in self.validation}

    def is_better(self, metrics: dict) -> bool:
        """Clean and low-contrast outputs kept >= MIN_CLEAN_PSNR, and a higher mean gain than the best so far."""
        ok = metrics["val_clean"] >= MIN_CLEAN_PSNR
        return ok and (self.best is None or metrics["val_gain_mean"] > self.best["val_gain_mean"])

    def state(self) -> dict:
        """The restorer's keys: kind, arch, arch_args and size_multiple (what export.restorer reads)."""
        cfg = self.cfg
        return {
            "kind": self.kind,
            "arch": cfg.arch,
            "arch_args": cfg.arch_args,
            "size_multiple": self.model.size_multiple,
        }
