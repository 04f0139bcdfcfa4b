"""The training loop for both colorizers: one Trainer, one `train_step` per model kind.

CNN: rarity-rebalanced L1 regression of ab.
GAN: the same L1 for `pretrain_steps` ("NoGAN" generator pretraining), then L1 + an adversarial loss
from a spectrally normalised PatchGAN conditioned on L; an EMA of the generator is evaluated and exported.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from train import report
from train.checkpoint import git_commit, load_checkpoint, save_atomic
from train.config import TrainConfig
from train.data import PhotoBank, load_rgb, split_photos
from train.losses import ab_histogram, d_loss, g_loss, rebalance_weights, weighted_l1
from train.metrics import summarise
from train.models import PatchDiscriminator, build_colorizer
from train.predict import colorize_rgb

LOWER_IS_BETTER = {"de00": True, "psnr": False, "cf_ratio": False}


class Trainer:
    """Owns data, models, optimisers and the run folder (last.pt, best.pt, log.csv, plots)."""

    def __init__(self, cfg: TrainConfig, data_dir: str | Path, out_dir: str | Path, resume: bool = False):
        if cfg.best_metric not in LOWER_IS_BETTER:
            raise ValueError(f"best_metric must be one of {sorted(LOWER_IS_BETTER)}")
        self.cfg, self.out = cfg, Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)

        train_files, val_files = split_photos(data_dir, cfg.val_percent)
        self.bank = PhotoBank(train_files, cfg.max_short_side, min(cfg.crop_sizes))
        # Validation photos as RGB uint8, evenly spaced over the split so a short list is still varied.
        pick = np.linspace(0, len(val_files) - 1, min(cfg.val_images, len(val_files))).round().astype(int)
        self.val = [load_rgb(val_files[i], cfg.max_short_side) for i in sorted(set(pick))]
        self.train_data = f"{Path(data_dir).name}: {len(self.bank)} train / {len(val_files)} val photos"
        hist = ab_histogram([p.ab for p in self.bank.photos])
        self.weights = torch.from_numpy(rebalance_weights(hist, cfg.rebalance)) if cfg.rebalance > 0 else None

        self.model = build_colorizer(cfg.arch, cfg.arch_args)
        bad = [c for c in cfg.crop_sizes if c % self.model.size_multiple]
        if bad:
            raise ValueError(f"crop_sizes {bad} are not multiples of {cfg.arch}'s {self.model.size_multiple}")
        self.opt = torch.optim.Adam(self.model.parameters(), cfg.lr, tuple(cfg.betas), weight_decay=cfg.weight_decay)
        self.ema = self.disc = self.opt_d = None
        if cfg.model == "gan":
            self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)
            self.disc = PatchDiscriminator(cfg.d_width)
            self.opt_d = torch.optim.Adam(self.disc.parameters(), cfg.d_lr, tuple(cfg.betas))
        self.step, self.seconds, self.best = 0, 0.0, None
        if resume and (self.out / "last.pt").exists():
            self._restore(load_checkpoint(self.out / "last.pt"))

    # ---- one optimisation step -------------------------------------------------------------
    def train_step(self) -> dict:
        """Draw a batch, update the model(s); returns the step's losses as floats."""
        cfg = self.cfg
        size = int(self.rng.choice(cfg.crop_sizes))
        lum, ab = (torch.from_numpy(a) for a in self.bank.batch(self.rng, max(1, cfg.batch_pixels // size**2), size))
        self.model.train()
        fake = self.model(lum)
        l1 = weighted_l1(fake, ab, self.weights)
        losses = {"l1": l1.item()}
        loss = cfg.l1_weight * l1 if cfg.model == "gan" else l1
        if self.disc is not None and self.step >= cfg.pretrain_steps:
            d = d_loss(self.disc(lum, ab), self.disc(lum, fake.detach()), cfg.gan_loss)
            self.opt_d.zero_grad(set_to_none=True)
            d.backward()
            self.opt_d.step()
            adv = g_loss(self.disc(lum, fake), cfg.gan_loss)
            loss = loss + cfg.adv_weight * adv
            losses |= {"d": d.item(), "adv": adv.item()}
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.ema is not None:
            self._update_ema()
        self.step += 1
        return losses

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))  # warm start
        for e, p in zip(self.ema.parameters(), self.model.parameters()):
            e.lerp_(p, 1 - decay)
        for e, b in zip(self.ema.buffers(), self.model.buffers()):
            e.copy_(b)

    # ---- validation --------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> tuple[dict, list[np.ndarray]]:
        """Metrics of the exported network (EMA for the GAN) on the validation photos, and its outputs."""
        net = (self.ema or self.model).eval()
        preds = [colorize_rgb(net, rgb, self.cfg.render_size) for rgb in self.val]
        return summarise(preds, self.val), preds

    # ---- checkpoints ---------------------------------------------------------------------------
    def state(self, metrics: dict | None = None) -> dict:
        """Everything needed to export (arch, args, weights, provenance) and to resume exactly."""
        return {
            "config": self.cfg.to_dict(),
            "kind": self.cfg.model,
            "arch": self.cfg.arch,
            "arch_args": self.cfg.arch_args,
            "render_size": self.cfg.render_size,
            "size_multiple": self.model.size_multiple,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None,
            "disc": self.disc.state_dict() if self.disc else None,
            "opt": self.opt.state_dict(),
            "opt_d": self.opt_d.state_dict() if self.opt_d else None,
            "step": self.step,
            "seconds": self.seconds,
            "best": self.best,
            "val_metrics": metrics,
            "train_data": self.train_data,
            "git_commit": git_commit(),
            "rng": {"numpy": self.rng.bit_generator.state, "torch": torch.get_rng_state()},
        }

    def _restore(self, ck: dict) -> None:
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["opt"])
        if self.ema is not None:
            self.ema.load_state_dict(ck["ema"])
            self.disc.load_state_dict(ck["disc"])
            self.opt_d.load_state_dict(ck["opt_d"])
        self.step, self.seconds, self.best = ck["step"], ck["seconds"], ck["best"]
        self.rng.bit_generator.state = ck["rng"]["numpy"]
        torch.set_rng_state(ck["rng"]["torch"])

    def _is_better(self, metrics: dict) -> bool:
        if self.disc is not None and self.step <= self.cfg.pretrain_steps:
            return False  # the GAN's best is chosen from its adversarial phase only
        key = self.cfg.best_metric
        if self.best is None:
            return True
        old, new = self.best[key], metrics[key]
        return new < old if LOWER_IS_BETTER[key] else new > old

    def evaluate_and_save(self) -> dict:
        """Validate, log, draw the sample grid and plots, write last.pt and (if better) best.pt."""
        metrics, preds = self.validate()
        report.log_row(
            self.out / "log.csv",
            {"step": self.step, "seconds": round(self.seconds, 1)}
            | {f"val_{k}": round(v, 4) for k, v in metrics.items() if k != "n"},
        )
        report.sample_grid(self.val[:8], preds[:8], self.out / "samples" / f"step_{self.step:07d}.png")
        report.plot_log(self.out / "log.csv", self.out / "loss.png")
        if self._is_better(metrics):
            self.best = {"step": self.step} | metrics
            save_atomic(self.state(metrics), self.out / "best.pt")
        save_atomic(self.state(metrics), self.out / "last.pt")
        return metrics

    # ---- the loop ----------------------------------------------------------------------------
    def run(self, max_steps: int, max_minutes: float = 0.0) -> None:
        """Train until `max_steps` in total or `max_minutes` of this call's wall time (0 = no limit)."""
        cfg, start = self.cfg, time.time()
        bar = tqdm(total=max_steps, initial=self.step, desc=f"train {cfg.model}", dynamic_ncols=True)
        window: list[dict] = []
        while self.step < max_steps and not (max_minutes and time.time() - start > 60 * max_minutes):
            t0 = time.time()
            window.append(self.train_step())
            self.seconds += time.time() - t0
            bar.update(1)
            if self.step % 50 == 0:
                means = {k: float(np.mean([w[k] for w in window if k in w])) for k in window[-1]}
                report.log_row(self.out / "log.csv", {"step": self.step, "seconds": round(self.seconds, 1)} | means)
                bar.set_postfix({k: f"{v:.3f}" for k, v in means.items()})
                window = []
            if self.step % cfg.eval_every == 0:
                metrics = self.evaluate_and_save()
                bar.write(f"step {self.step}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
            elif self.step % cfg.ckpt_every == 0:
                save_atomic(self.state(), self.out / "last.pt")
        bar.close()
        if self.step % cfg.eval_every:
            self.evaluate_and_save()
