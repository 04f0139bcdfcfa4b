r"""Train the crack detector (train.crack_model.CrackNet): which pixels of a scanned photo's luminance are local
damage (cracks, scratches, dust), and which are picture?

    python -m train.crack --data DIR --out RUN_DIR [--config FILE] [--steps N | --minutes M] [--resume]
                          [--threads T]

For instance, the shipped detector, then the shipped crack filler made from it:
    python -m train.crack --config train/configs/crack_b.toml --data ../shared/data/photos --out ~/runs/crack_b
    python -m export.restorer ~/runs/crack_b/last.pt --threshold 0.7 -o onnx_models/cracks.onnx

Each step draws batch_size crops of the training photos' luminance (train.data's hash split), half of them first
enlarged 1-2.2x as a scan is (the picture smoother than its damage), 30 % faded. On 1 - p_clean of them: short
cracks, scratches, dust (train.degrade, each at times drawn 1-2.5x larger, as on a large scan) and the real
cracks lifted off `damage_prints` (train.degrade.print_damage); the target mask is every pixel that damage moved
by more than mask_level 8-bit levels. Then what a scan adds everywhere and must NOT be flagged: film grain, noise,
blur, an unsharp mask, a JPEG. Loss: binary cross-entropy of the logits against the mask, positives weighed by
pos_weight (damage is a few % of the pixels). Adam, the lr on a cosine after lr_decay_from (train.loop.lr_factor).
RUN_DIR receives last.pt (every ckpt_every steps, atomic; kind "crack_detector", the arch and its arguments, the
config, optimiser and random state, so --resume continues exactly) and log.csv. `seconds` is wall time,
`cpu_seconds` this run's CPU time over all threads (its core-hours: the figure the restorer's budget counts).
"""

from __future__ import annotations

import argparse
import functools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from train import degrade as D
from train.__main__ import add_run_arguments
from train.checkpoint import git_commit, load_checkpoint, save_atomic
from train.config import config_from_toml
from train.crack_model import CrackNet
from train.data import split_photos
from train.loop import lr_factor
from train.report import append_row
from train.restore import GrayBank

LOG = ["step", "seconds", "cpu_seconds", "loss", "precision", "recall"]


@dataclass
class CrackConfig:
    """A crack detector run's settings, read from a TOML file (load_crack_config) and stored in its checkpoints."""

    arch_args: dict = field(default_factory=lambda: {"widths": [16, 24, 32]})
    steps: int = 3000
    minutes: float = 0.0
    val_percent: int = 10
    crop_size: int = 128
    batch_size: int = 16
    p_clean: float = 0.25  # crops with no local damage: only what a scan adds everywhere
    mask_level: float = 10.0  # 8-bit levels a pixel must move to count as damaged
    # share of damaged crops with long, nearly straight scratches (train.degrade.scratches). 0 in the shipped run:
    # they taught crack_a that a tripod's leg or a mast is damage, and the restorer repairs such scratches anyway
    p_scratches: float = 0.35
    # share of crops given picture detail that looks like damage and is not (lookalikes: lettering, straight thin
    # lines such as wires), drawn before the damage, so the mask never covers it: crack_b smeared a shop sign
    p_lookalikes: float = 0.0
    damage_prints: list = field(default_factory=list)  # scanned prints whose cracks are lifted (print_damage)
    pos_weight: float = 3.0
    lr: float = 2e-3
    lr_decay_from: int = 150
    lr_min_ratio: float = 0.02
    ckpt_every: int = 250
    seed: int = 0
    threads: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


def load_crack_config(path: str | Path | None, **overrides) -> CrackConfig:
    """A CrackConfig from a TOML file (unknown keys are an error), then keyword overrides (None skipped)."""
    return config_from_toml(CrackConfig, path, **overrides)


def scan_crop(gray: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A size x size crop of gray uint8 HxW, in half of the draws enlarged 1-2.2x first (bicubic), in a random
    orientation; float32 0..1, 30 % of the time faded (train.degrade.tone)."""
    if rng.random() < 0.5:
        up = rng.uniform(1.0, 2.2)
        side = min(int(np.ceil(size / up)) + 2, *gray.shape)
        y, x = rng.integers(gray.shape[0] - side + 1), rng.integers(gray.shape[1] - side + 1)
        patch = Image.fromarray(gray[y : y + side, x : x + side])
        gray = np.asarray(patch.resize((max(size, round(side * up)),) * 2, Image.Resampling.BICUBIC))
    y, x = rng.integers(gray.shape[0] - size + 1), rng.integers(gray.shape[1] - size + 1)
    crop = np.ascontiguousarray(D.random_turn(gray[y : y + size, x : x + size], rng))
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


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,&"


@functools.cache
def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font at `size` px (no download, no system font)."""
    return ImageFont.load_default(size=size)


def lookalikes(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 HxW 0..1 with picture detail that a crack detector could take for damage: 1-4 words of lettering
    (8-28 px) and 0-3 straight lines 1-2 px wide, all light (7 in 10) or all dark, at strength 0.4-1."""
    h, w = x.shape
    layer = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(1, 5))):
        text = "".join(rng.choice(list(LETTERS), int(rng.integers(3, 14))))
        draw.text((rng.uniform(-w / 4, w), rng.uniform(-8, h)), text, fill=255, font=font(int(rng.integers(8, 29))))
    for _ in range(int(rng.integers(0, 4))):
        ends = [(float(rng.uniform(0, w)), float(rng.uniform(0, h))) for _ in range(2)]
        draw.line(ends, fill=255, width=int(rng.integers(1, 3)))
    alpha = np.asarray(layer, np.float32) / 255
    return D._blend(x, alpha, rng.random() < 0.7, rng.uniform(0.4, 1.0))


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
    if cfg.p_lookalikes and rng.random() < cfg.p_lookalikes:  # drawn only when set: older configs keep their streams
        clean = lookalikes(clean, rng)
    damaged = clean if rng.random() < cfg.p_clean else local_damage(clean, cfg, prints, rng)
    mask = (np.abs(damaged - clean) > cfg.mask_level / 255).astype(np.float32)
    return scan_noise(damaged, rng), mask


class CrackTrainer:
    """Owns the photos, the detector, its optimiser and random stream, and the run folder (last.pt, log.csv)."""

    def __init__(self, cfg: CrackConfig, data_dir: str | Path, out_dir: str | Path, resume: bool = False):
        torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.cfg, self.out = cfg, Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        train_files, _ = split_photos(data_dir, cfg.val_percent)
        self.bank = GrayBank(train_files, 256, cfg.crop_size)
        self.prints = [D.print_damage(np.asarray(Image.open(p).convert("L"))) for p in cfg.damage_prints]
        self.train_data = f"{data_dir}: {len(train_files)} photos (val_percent {cfg.val_percent}); prints " + (
            ", ".join(Path(p).name for p in cfg.damage_prints) or "none"
        )
        self.net = CrackNet(**cfg.arch_args)
        self.opt = torch.optim.Adam(self.net.parameters(), cfg.lr)
        self.rng = np.random.default_rng(cfg.seed)
        self.step, self.seconds, self.cpu_seconds = 0, 0.0, 0.0
        if resume and (self.out / "last.pt").exists():
            ck = load_checkpoint(self.out / "last.pt")
            self.net.load_state_dict(ck["model"])
            self.opt.load_state_dict(ck["opt"])
            self.rng.bit_generator.state = ck["rng"]
            self.step, self.seconds, self.cpu_seconds = ck["step"], ck["seconds"], ck["cpu_seconds"]

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scans [B,1,S,S] float32 0..1, masks [B,1,S,S] 0/1)."""
        grays = self.bank.grays
        pairs = [crack_sample(grays[self.rng.integers(len(grays))], self.cfg, self.prints, self.rng)
                 for _ in range(self.cfg.batch_size)]  # fmt: skip
        scans, masks = zip(*pairs)
        return torch.from_numpy(np.stack(scans)[:, None] / np.float32(255)), torch.from_numpy(np.stack(masks)[:, None])

    def train_step(self) -> dict:
        scans, masks = self.batch()
        for g in self.opt.param_groups:
            g["lr"] = self.cfg.lr * lr_factor(self.cfg, self.step)
        logits = self.net(scans)
        loss = F.binary_cross_entropy_with_logits(logits, masks, pos_weight=torch.tensor(self.cfg.pos_weight))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1
        hit, real = logits.detach() > 0, masks > 0
        tp = (hit & real).sum().item()
        precision, recall = tp / max(1, hit.sum().item()), tp / max(1, real.sum().item())
        return {"loss": loss.item(), "precision": precision, "recall": recall}

    def save(self) -> None:
        save_atomic(
            {"kind": "crack_detector", "arch": "CrackNet", "arch_args": self.cfg.arch_args,
             "model": self.net.state_dict(), "opt": self.opt.state_dict(), "rng": self.rng.bit_generator.state,
             "step": self.step, "seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
             "config": self.cfg.to_dict(), "train_data": self.train_data, "git_commit": git_commit()},
            self.out / "last.pt",
        )  # fmt: skip

    def run(self, max_steps: int, max_minutes: float = 0.0) -> None:
        start, rows = time.time(), []
        while self.step < max_steps and not (max_minutes and time.time() - start > 60 * max_minutes):
            t, c = time.time(), time.process_time()
            rows.append(self.train_step())
            self.seconds += time.time() - t
            self.cpu_seconds += time.process_time() - c
            if self.step % self.cfg.ckpt_every == 0 or self.step == max_steps:
                self.checkpoint(rows)
                rows = []
        if rows:  # stopped by --minutes between checkpoints: keep those steps too
            self.checkpoint(rows)

    def checkpoint(self, rows: list[dict]) -> None:
        """Save last.pt, then append the mean of `rows` (the steps since the last checkpoint) to log.csv and print
        it: a run killed between the two may miss a row of the log, never repeat one."""
        self.save()
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        row = {"step": self.step, "seconds": round(self.seconds), "cpu_seconds": round(self.cpu_seconds)}
        append_row(self.out / "log.csv", LOG, row | {k: f"{v:.4f}" for k, v in mean.items()})
        print(", ".join([f"{k} {v}" for k, v in row.items()] + [f"{k} {v:.3f}" for k, v in mean.items()]), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(ap, "folder of photos (colour or gray)", "TOML file of CrackConfig fields", "torch threads")
    args = ap.parse_args()
    cfg = load_crack_config(args.config, steps=args.steps, minutes=args.minutes, threads=args.threads)
    CrackTrainer(cfg, args.data, args.out, resume=args.resume).run(cfg.steps, cfg.minutes)


if __name__ == "__main__":
    main()
