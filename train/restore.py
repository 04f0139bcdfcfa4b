r"""Train the restorer (contract restorer/1) on synthetic damage of clean photos' luminance.

    python -m train.restore --data DIR --out RUN_DIR [--config FILE] [--steps N | --minutes M] [--resume]
                            [--threads T] [--init-from CHECKPOINT]

For instance, the first part of the shipped run (the rest: train/configs/restore_wide8_b.toml to _f.toml, each
--init-from the one before, then python -m train.soup of the last two):
    python -m train.restore --config train/configs/restore_wide8_a.toml --data ../shared/data/photos \
        --out ~/runs/wide8_a
--init-from CHECKPOINT starts from another restorer run's weights and goes on from its step; the network may be
grown (layers that start at zero, RestoreUNet's global_context and gate, or wider levels:
train.restore_model.grow_from), so the run starts as the source network. The source may be an exported restorer
.onnx too, e.g. the shipped onnx_models/restore.onnx (its weights and step).

Each step draws batch_size random crops (random photo, position, flip and quarter turn) of the training photos'
8-bit luminance (the fixed hash split of train.data, so the validation photos are the colorizers'). A crop's target
is the clean crop or, with probability p_tone, the crop faded by train.degrade.tone: the restorer must leave tone
alone; with probability p_sharpen, the target and its damaged input are both sharpened as a scan often is
(train.degrade.sharpen, after the damage, so that scratches and dust get the dark fringes they have on real scans).
Its input is the target itself (p_clean of the crops: nothing to repair; with hard_clean k > 1, the one of k
random crops that the network changes most) or the target with a random combination of damage or one kind alone
(p_alone; train.degrade.random_damage), with p_prints first the real cracks of a scanned print (damage_prints,
train.degrade.print_damage). The loss compares the restored crop with the target (both 0..1): the mean
squared error, or each crop's RMSE or PSNR averaged (train.losses RESTORE_LOSSES). Adam; the lr decays on a cosine
to lr_min_ratio x lr at `steps` (train.loop.lr_factor); an EMA of the weights is what is validated and exported.
bf16 = true runs the forward and backward under bfloat16 autocast: 1.9x the steps per core-second on a CPU with
AVX512-BF16, with the same figures as float32 (docs/restoration.md); the weights stay float32.
Validation: every group of train.restore_eval on val_images validation photos; best.pt keeps the best mean PSNR gain
over the damaged groups among checkpoints whose clean and low-contrast outputs stay >= MIN_CLEAN_PSNR dB.
--steps N is the run's total; --minutes M bounds this call's wall time, so the run can be spread over several calls
with --resume, which continues exactly (weights, optimiser, EMA, random streams; log rows past the checkpoint are
dropped). RUN_DIR receives last.pt, best.pt, log.csv, loss.png and samples/ (damaged | restored | clean). Keep runs
outside the work tree.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from colorizer.atomic import remove_stale_temps
from colorizer.color import gray_to_rgb, rgb_to_gray
from colorizer.restore import flip_averaged, restore_full
from train import report
from train.__main__ import add_run_arguments
from train.checkpoint import colorizer_weights, git_commit, load_checkpoint, save_atomic
from train.data import load_rgb, split_photos
from train.degrade import (
    KINDS,
    LOCAL_KINDS,
    Damage,
    add_print_damage,
    apply_damage,
    print_damage,
    random_damage,
    random_turn,
    to_float,
    to_uint8,
    tone,
)
from train.loop import drop_rows_after, lr_factor, progress, resume_progress
from train.losses import RESTORE_LOSSES, crop_mse
from train.predict import torch_predict
from train.restore_config import RestoreConfig, load_restore_config
from train.restore_eval import GROUPS, damaged_pair, evaluate, pair_rng
from train.restore_model import build_restorer, checkpoint_from_onnx, grow_from

MIN_CLEAN_PSNR = 40.0  # dB; the contract's floor is 38, the margin absorbs the difference between photo sets
LOG_COLUMNS = ["step", "seconds", "loss", "val_psnr", "val_gain", "val_gain_min", "val_clean"]
DAMAGED = [g for g in GROUPS if g not in ("clean", "low_contrast")]


class GrayBank:
    """The luminance (gray uint8 HxW, ITU-R 601) of every photo of a list, in memory (1 byte per pixel)."""

    def __init__(self, files: list[Path], max_short_side: int, min_side: int):
        grays = [rgb_to_gray(load_rgb(f, max_short_side)) for f in files]
        self.grays = [g for g in grays if min(g.shape) >= min_side]
        if not self.grays:
            raise ValueError(f"no photo has a short side of at least {min_side} px")

    def crop(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """A random size x size crop (random photo and position, flip, quarter turn), gray uint8."""
        g = self.grays[rng.integers(len(self.grays))]
        y, x = rng.integers(g.shape[0] - size + 1), rng.integers(g.shape[1] - size + 1)
        return np.ascontiguousarray(random_turn(g[y : y + size, x : x + size], rng))


def training_photo(
    clean: np.ndarray, cfg: RestoreConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(photo, target, scan) of one crop: the photo before damage, gray uint8 HxW (the clean crop or, with
    probability p_tone, the crop faded); the target, that photo as scanned (with probability p_sharpen
    sharpened, else the photo itself); and the scan's sharpening as Damage fields ({} if none)."""
    photo = tone(clean, rng) if rng.random() < cfg.p_tone else clean
    if cfg.p_sharpen and rng.random() < cfg.p_sharpen:  # drawn only when set: older configs keep their streams
        scan = {"sharpen": rng.uniform(*cfg.sharpen), "sharpen_radius": rng.uniform(*cfg.sharpen_radius)}
        return photo, apply_damage(photo, Damage(**scan), rng), scan
    return photo, photo, {}


def training_target(clean: np.ndarray, cfg: RestoreConfig, rng: np.random.Generator) -> np.ndarray:
    """A crop's undamaged target, gray uint8 HxW (training_photo)."""
    return training_photo(clean, cfg, rng)[1]


def training_pair(
    clean: np.ndarray, cfg: RestoreConfig, rng: np.random.Generator, prints: Sequence[np.ndarray] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """(damaged input, target) gray uint8 HxW for one crop, as the module docstring describes; an undamaged crop
    is returned as (target, target), the same array twice. `prints`: the layers of cfg.damage_prints
    (train.degrade.print_damage), added to p_prints of the damaged crops."""
    photo, target, scan = training_photo(clean, cfg, rng)
    if rng.random() < cfg.p_clean:
        return target, target
    local = cfg.p_local and rng.random() < cfg.p_local  # drawn only when set: older configs keep their streams
    if local:  # dust, scratches and cracks only, in a box
        damage = random_damage(rng, cfg.p_each, kinds=[k for k in cfg.kinds if k in LOCAL_KINDS], p_kind=cfg.p_kind)
    else:
        damage = random_damage(rng, cfg.p_each, kinds=cfg.kinds, p_kind=cfg.p_kind, p_alone=cfg.p_alone)
    if cfg.p_prints and rng.random() < cfg.p_prints:  # drawn only when set: older configs keep their streams
        photo = to_uint8(add_print_damage(to_float(photo), prints, rng))
    damaged = apply_damage(photo, replace(damage, **scan), rng)
    return (np.where(random_box(target.shape, rng), damaged, target) if local else damaged), target


def random_box(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """bool HxW, True inside a random rectangle whose sides are 15..60 % of the crop's."""
    box = np.zeros(shape, bool)
    (h, w), (fy, fx) = shape, rng.uniform(0.15, 0.6, 2)
    y, x = rng.integers(0, h - int(fy * h) + 1), rng.integers(0, w - int(fx * w) + 1)
    box[y : y + int(fy * h), x : x + int(fx * w)] = True
    return box


def as_batch(grays: list[np.ndarray]) -> torch.Tensor:
    """Crops gray uint8 hxw (all one size) -> float32 [N,1,h,w] 0..1, channels_last (oneDNN's faster layout)."""
    x = torch.from_numpy(np.stack(grays)[:, None].astype(np.float32) / 255)
    return x.contiguous(memory_format=torch.channels_last)


class RestoreTrainer:
    """Owns the data, the network, its EMA, the optimiser and the run folder."""

    def __init__(self, cfg: RestoreConfig, data_dir: str | Path, out_dir: str | Path, resume: bool = False):
        if cfg.loss not in RESTORE_LOSSES:
            raise ValueError(f"loss must be one of {sorted(RESTORE_LOSSES)}, got {cfg.loss!r}")
        self.cfg, self.out = cfg, Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        # a run whose gate had closed slowed from 8 to 1.1 steps/s with half the CPU time in the kernel: denormal
        # floats, most likely; flushing them costs nothing
        torch.set_flush_denormal(True)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        train_files, val_files = split_photos(data_dir, cfg.val_percent)
        self.bank = GrayBank(train_files, cfg.max_short_side, cfg.crop_size)
        self.prints = [print_damage(rgb_to_gray(load_rgb(f))) for f in cfg.damage_prints]
        if cfg.p_prints and not self.prints:
            raise ValueError("p_prints is set but damage_prints names no print")
        pick = np.linspace(0, len(val_files) - 1, min(cfg.val_images, len(val_files))).round().astype(int)
        self.val = [rgb_to_gray(load_rgb(val_files[i], cfg.max_short_side)) for i in sorted(set(pick))]
        self.train_data = f"{Path(data_dir).name}: {len(train_files)} train / {len(val_files)} val photos"
        # channels_last: oneDNN's faster convolution layout on CPU (a training step 1.7x faster, measured)
        self.model = build_restorer(cfg.arch, cfg.arch_args).to(memory_format=torch.channels_last)
        if cfg.crop_size % self.model.size_multiple:
            raise ValueError(f"crop_size {cfg.crop_size} is not a multiple of {self.model.size_multiple}")
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.opt = torch.optim.Adam(self.model.parameters(), cfg.lr, tuple(cfg.betas))
        self.step, self.seconds, self.best = 0, 0.0, None
        self.commits = [git_commit()]
        if resume and (self.out / "last.pt").exists():
            self._restore(load_checkpoint(self.out / "last.pt"))
        elif cfg.init_from:
            onnx_file = cfg.init_from.endswith(".onnx")
            self._init_from(checkpoint_from_onnx(cfg.init_from) if onnx_file else load_checkpoint(cfg.init_from))
        remove_stale_temps(self.out)  # half-written checkpoints of a killed run
        if resume:
            drop_rows_after(self.out / "log.csv", self.step)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(damaged, target) float32 [batch_size,1,crop,crop], 0..1."""
        pairs = [training_pair(self.bank.crop(self.rng, self.cfg.crop_size), self.cfg, self.rng, self.prints)
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

    def train_step(self) -> dict:
        """One optimisation step; returns {"loss": the loss, "grad_norm": the gradients' total norm before
        clipping}."""
        x, y = self.batch()
        for group in self.opt.param_groups:
            group["lr"] = self.cfg.lr * lr_factor(self.cfg, self.step)
        self.model.train()
        with self.autocast():
            restored = self.model(x)  # float32: the input plus a bfloat16 correction under autocast
        loss = RESTORE_LOSSES[self.cfg.loss](restored, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip or float("inf"))
        self.opt.step()
        with torch.no_grad():
            decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))  # warm start
            for e, p in zip(self.ema.parameters(), self.model.parameters()):
                e.lerp_(p, 1 - decay)
        self.step += 1
        return {"loss": loss.item(), "grad_norm": float(norm)}

    def autocast(self) -> torch.autocast:
        """The training forward's autocast: bfloat16 if the config asks for it, else off."""
        return torch.autocast("cpu", torch.bfloat16, enabled=self.cfg.bf16)

    def restore(self, gray: np.ndarray) -> np.ndarray:
        """gray uint8 HxW -> restored by the EMA network, through the library's tiling (full resolution)."""
        cfg = self.cfg
        predict = flip_averaged(torch_predict(self.ema), cfg.flips)
        return restore_full(gray, predict, cfg.tile_size, cfg.tile_overlap, self.model.size_multiple)

    @torch.no_grad()
    def validate(self) -> dict:
        """Every evaluation group on the validation photos (train.restore_eval), restored by the EMA network, and
        the summary figures: val_psnr and val_gain of the mixed group, the smallest single-kind gain, and the
        worse of the clean and low-contrast PSNRs."""
        groups = evaluate(self.val, self.restore)
        return {
            "val_psnr": groups["mixed"]["psnr_out"],
            "val_gain": groups["mixed"]["gain"],
            "val_gain_min": min(groups[k]["gain"] for k in KINDS),
            "val_clean": min(groups["clean"]["psnr_out"], groups["low_contrast"]["psnr_out"]),
            "val_gain_mean": float(np.mean([groups[g]["gain"] for g in DAMAGED])),
            "groups": groups,
        }

    def sample_sheet(self, path: Path) -> None:
        """damaged | restored | clean for the first validation photos, mixed damage (fixed seeds)."""
        rows = []
        for i, gray in enumerate(self.val[:6]):
            target, damaged = damaged_pair(gray, "mixed", pair_rng(0, i, "mixed"))
            rows.append([gray_to_rgb(a) for a in (damaged, self.restore(damaged), target)])
        report.image_sheet(rows, path, 128)

    def state(self, metrics: dict | None) -> dict:
        """Everything needed to export (arch, args, weights, tiling, provenance) and to resume exactly."""
        return {
            "kind": "restorer",
            "config": self.cfg.to_dict(),
            "arch": self.cfg.arch,
            "arch_args": self.cfg.arch_args,
            "size_multiple": self.model.size_multiple,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "opt": self.opt.state_dict(),
            **progress(self, metrics),
            "rng": {"numpy": self.rng.bit_generator.state, "torch": torch.get_rng_state()},
        }

    def _restore(self, ck: dict) -> None:
        self.model.load_state_dict(ck["model"])
        self.ema.load_state_dict(ck["ema"])
        self.opt.load_state_dict(ck["opt"])
        resume_progress(self, ck)
        self.rng.bit_generator.state = ck["rng"]["numpy"]
        torch.set_rng_state(ck["rng"]["torch"])

    def _init_from(self, ck: dict) -> None:
        """Start from another run's EMA weights at its step: the same network, or one grown by zero-initialised
        layers or wider levels (train.restore_model.grow_from: it starts as the source network)."""
        problems = grow_from(self.model, colorizer_weights(ck))
        if problems:
            raise ValueError(f"{self.cfg.init_from}: weights do not fit {self.cfg.arch_args}: {problems[:4]}")
        self.ema.load_state_dict(self.model.state_dict())
        self.step, self.seconds = ck["step"], ck["seconds"]  # the source's steps count: lr schedule, provenance
        earlier = ck["git_commit"].split()
        self.commits = earlier + [c for c in self.commits if c not in earlier]

    def save(self, evaluate: bool) -> dict:
        """Write last.pt; when `evaluate`, validate first, log, draw samples, and write best.pt if better."""
        metrics = None
        if evaluate:
            metrics = self.validate()
            row = {"step": self.step, "seconds": round(self.seconds, 1)}
            row |= {k: round(metrics[k], 4) for k in LOG_COLUMNS if k in metrics}
            report.append_row(self.out / "log.csv", LOG_COLUMNS, row)
            report.plot_log(self.out / "log.csv", self.out / "loss.png")
            self.sample_sheet(self.out / "samples" / f"step_{self.step:07d}.png")
            if self._is_better(metrics):
                self.best = {"step": self.step, "val_gain_mean": metrics["val_gain_mean"]}
                save_atomic(self.state(metrics), self.out / "best.pt")
        save_atomic(self.state(metrics), self.out / "last.pt")
        return metrics or {}

    def _is_better(self, metrics: dict) -> bool:
        """Clean and low-contrast outputs kept >= MIN_CLEAN_PSNR, and a higher mean gain than the best so far."""
        ok = metrics["val_clean"] >= MIN_CLEAN_PSNR
        return ok and (self.best is None or metrics["val_gain_mean"] > self.best["val_gain_mean"])

    def run(self, max_steps: int, max_minutes: float = 0.0) -> None:
        """Train until `max_steps` in total or `max_minutes` of this call's wall time (0 = no limit)."""
        deadline = time.time() + 60 * max_minutes if max_minutes else 0.0
        bar = tqdm(total=max_steps, initial=self.step, desc="train restorer", dynamic_ncols=True)
        losses: list[float] = []
        while self.step < max_steps and not (deadline and time.time() > deadline):
            t0 = time.time()
            losses.append(self.train_step()["loss"])
            self.seconds += time.time() - t0
            bar.update(1)
            if self.step % 50 == 0:
                row = {"step": self.step, "seconds": round(self.seconds, 1), "loss": round(float(np.mean(losses)), 7)}
                report.append_row(self.out / "log.csv", LOG_COLUMNS, row)
                bar.set_postfix(loss=f"{np.mean(losses):.5f}")
                losses = []
            if self.step % self.cfg.eval_every == 0:
                m = self.save(evaluate=True)
                bar.write(f"step {self.step}: " + ", ".join(f"{k} {m[k]:.2f}" for k in LOG_COLUMNS[3:]))
            elif self.step % self.cfg.ckpt_every == 0:
                self.save(evaluate=False)
        bar.close()
        if self.step % self.cfg.eval_every:
            self.save(evaluate=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    threads = "torch threads (overrides the config; speed only)"
    add_run_arguments(ap, "folder of photos (colour or gray)", "TOML file of RestoreConfig fields", threads)
    ap.add_argument("--init-from", help="restorer checkpoint whose weights start the run (overrides the config)")
    args = ap.parse_args()
    overrides = {"steps": args.steps, "minutes": args.minutes, "threads": args.threads, "init_from": args.init_from}
    cfg = load_restore_config(args.config, **overrides)
    RestoreTrainer(cfg, args.data, args.out, resume=args.resume).run(cfg.steps, cfg.minutes)


if __name__ == "__main__":
    main()
