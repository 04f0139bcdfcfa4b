"""The training loop for both colorizers: one Trainer, one `train_step` per model kind.

CNN: rarity-rebalanced cross-entropy over ab cells. The ImageNet-pretrained encoder is frozen for the first
`freeze_encoder_steps`, then fine-tuned at encoder_lr_ratio x the decoder's lr (its BatchNorm stays frozen).
GAN: the CNN trained further (`init_from` a CNN checkpoint; or `pretrain_steps` of the CNN's loss alone, "NoGAN"),
keeping the cross-entropy as its anchor, plus adv_weight times the adversarial loss from a spectrally
normalised PatchGAN conditioned on L that sees the decoded ab.
With ema_decay > 0 (the GAN recipes) an exponential average of the weights is what is evaluated and exported.
Under torchrun each process trains on its own shard of the photos (photos[rank::world], the distributed
sampler), DDP averages the gradients, and rank 0 alone logs, validates and saves. AMP is used on CUDA.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import math
import time
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from colorizer.atomic import atomic_write, remove_stale_temps
from train import distributed, report
from train.checkpoint import colorizer_weights, git_commit, load_checkpoint, save_atomic
from train.config import TrainConfig
from train.data import PhotoBank, load_rgb, split_photos
from train.losses import ab_histogram, d_loss, g_loss, log_cell_weights, rebalance_weights, weighted_ce
from train.metrics import summarise
from train.models import PatchDiscriminator, build_colorizer
from train.predict import colorize_rgb

LOWER_IS_BETTER = {"de00": True, "psnr": False, "cf_ratio": False}


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """Multiplier of the configured lr at a step: 1 until cfg.lr_decay_from, then a half cosine that reaches
    cfg.lr_min_ratio at cfg.steps. (Measured on the CNN, 5,000 constant + 3,000 decaying steps: no better than
    stopping at 5,000; see README "Training results".)"""
    if not cfg.lr_decay_from or step < cfg.lr_decay_from:
        return 1.0
    t = min(1.0, (step - cfg.lr_decay_from) / max(1, cfg.steps - cfg.lr_decay_from))
    return cfg.lr_min_ratio + (1.0 - cfg.lr_min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


def drop_rows_after(log: Path, step: int) -> None:
    """Remove the CSV log's rows past `step`, and a last row cut short: written after the checkpoint a run
    resumes from, they belong to lost work that the resumed run logs again (no duplicated or missing rows)."""
    if not log.exists():
        return
    text = log.read_text()
    whole = text[: text.rfind("\n") + 1]  # a run killed while appending leaves a partial last line
    rows = list(csv.reader(io.StringIO(whole)))
    if not rows:  # not even a whole header: log_row starts the file again
        log.unlink()
        return
    at = rows[0].index("step")
    keep = rows[:1] + [r for r in rows[1:] if r and int(float(r[at])) <= step]
    if whole != text or len(keep) < len(rows):
        buf = io.StringIO()
        csv.writer(buf).writerows(keep)  # "\r\n" line ends, as report.log_row's csv writer makes them
        atomic_write(log, buf.getvalue().encode())


class Run(Protocol):
    """What every trainer (Trainer here, train.restore.RestoreTrainer) keeps of its run's progress and provenance."""

    step: int
    seconds: float  # training time so far, over every call of a resumed run
    best: dict | None  # the best evaluation so far ({"step": ...} | its metrics), None before one qualifies
    train_data: str
    commits: list[str]  # every commit the run has trained from, oldest first


def progress(run: Run, metrics: dict | None) -> dict:
    """The checkpoint entries every trainer writes alike (their keys, in this order, are part of the checkpoint
    format that export and --resume read): step, seconds, best, val_metrics (the evaluation made at this save,
    None between evaluations), train_data and git_commit (the commits, space-separated)."""
    return {
        "step": run.step,
        "seconds": run.seconds,
        "best": run.best,
        "val_metrics": metrics,
        "train_data": run.train_data,
        "git_commit": " ".join(run.commits),
    }


def resume_progress(run: Run, ck: dict) -> None:
    """Set `run`'s progress from a checkpoint written with `progress`; this process's commit is added to the
    run's earlier ones, unless it is one of them."""
    run.step, run.seconds, run.best = ck["step"], ck["seconds"], ck["best"]
    earlier = ck["git_commit"].split()
    run.commits = earlier + [c for c in run.commits if c not in earlier]


class Trainer:
    """Owns data, models, optimisers and the run folder (last.pt, best.pt, log.csv, plots)."""

    def __init__(self, cfg: TrainConfig, data_dir: str | Path, out_dir: str | Path, resume: bool = False):
        if cfg.best_metric not in LOWER_IS_BETTER:
            raise ValueError(f"best_metric must be one of {sorted(LOWER_IS_BETTER)}")
        self.cfg, self.out = cfg, Path(out_dir)
        self.ctx = ctx = distributed.init()
        self.out.mkdir(parents=True, exist_ok=True)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        self.rng = np.random.default_rng(cfg.seed + ctx.rank)  # different crops on every rank

        train_files, val_files = split_photos(data_dir, cfg.val_percent)
        self.bank = PhotoBank(train_files[ctx.rank :: ctx.world], cfg.max_short_side, min(cfg.crop_sizes))
        # Validation photos as RGB uint8, evenly spaced over the split so a short list is still varied.
        pick = np.linspace(0, len(val_files) - 1, min(cfg.val_images, len(val_files))).round().astype(int)
        self.val = [load_rgb(val_files[i], cfg.max_short_side) for i in sorted(set(pick))]
        self.train_data = f"{Path(data_dir).name}: {len(train_files)} train / {len(val_files)} val photos"
        hist = distributed.mean_array(ab_histogram([p.ab for p in self.bank.photos]), ctx)
        self.weights = None
        if cfg.rebalance > 0:
            self.weights = torch.from_numpy(rebalance_weights(hist, cfg.rebalance)).to(ctx.device)

        self.model = build_colorizer(cfg.arch, cfg.arch_args).to(ctx.device)
        if cfg.init_from:  # the GAN starts from a trained CNN: its weights, our rarity weights
            self.model.load_state_dict(colorizer_weights(load_checkpoint(cfg.init_from)))
        elif not resume:
            self.model.encoder.load_pretrained()  # ImageNet weights from the pinned pip package
        self.model.log_weights.copy_(torch.from_numpy(log_cell_weights(hist, cfg.rebalance)))
        bad = [c for c in cfg.crop_sizes if c % self.model.size_multiple]
        if bad:
            raise ValueError(f"crop_sizes {bad} are not multiples of {cfg.arch}'s {self.model.size_multiple}")
        self.net = distributed.wrap(self.model, ctx)  # what trains; self.model is the bare module inside
        encoder = list(self.model.encoder.parameters())
        rest = [p for n, p in self.model.named_parameters() if not n.startswith("encoder.")]
        groups = [{"params": rest, "lr_ratio": 1.0}, {"params": encoder, "lr_ratio": cfg.encoder_lr_ratio}]
        self.opt = torch.optim.Adam(groups, cfg.lr, tuple(cfg.betas), weight_decay=cfg.weight_decay)
        self.scaler = torch.amp.GradScaler("cuda", enabled=ctx.amp)
        self.ema = self.disc = self.net_d = self.opt_d = None
        if cfg.ema_decay > 0:
            self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)
        if cfg.model == "gan":
            self.disc = PatchDiscriminator(cfg.d_width, scales=cfg.d_scales).to(ctx.device)
            self.net_d = distributed.wrap(self.disc, ctx)
            self.opt_d = torch.optim.Adam(self.disc.parameters(), cfg.d_lr, tuple(cfg.betas))
        self.step, self.seconds, self.best = 0, 0.0, None
        self.commits = [git_commit()]  # the code this process runs, read once: later edits do not run
        if resume and (self.out / "last.pt").exists():
            self._restore(load_checkpoint(self.out / "last.pt"))
        if ctx.main:  # rank 0 alone writes the run folder
            remove_stale_temps(self.out)  # half-written checkpoints of a killed run
            if resume:
                drop_rows_after(self.out / "log.csv", self.step)

    # ---- one optimisation step -------------------------------------------------------------
    def train_step(self) -> dict:
        """Draw a batch, update the model(s); returns the step's losses as floats."""
        cfg, ctx = self.cfg, self.ctx
        size = int(self.rng.choice(cfg.crop_sizes))
        batch = self.bank.batch(self.rng, max(1, cfg.batch_pixels // size**2), size, tuple(cfg.scale_range))
        lum, ab = (torch.from_numpy(a).to(ctx.device, non_blocking=True) for a in batch)
        autocast = torch.autocast(ctx.device.type, enabled=ctx.amp)
        adversarial = self.net_d is not None and self.step >= cfg.pretrain_steps
        factor = lr_factor(cfg, self.step)  # the config's lrs for this phase and step, also after a resume
        for group in self.opt.param_groups:
            group["lr"] = (cfg.adv_lr if adversarial and cfg.adv_lr else cfg.lr) * factor * group["lr_ratio"]
        for group in self.opt_d.param_groups if self.opt_d else []:
            group["lr"] = cfg.d_lr * factor
        # A frozen encoder gets no gradients at all (so Adam leaves it alone and backward stops at the decoder).
        self.model.encoder.requires_grad_(self.step >= cfg.freeze_encoder_steps)
        self.net.train()
        with autocast:
            cell_logits = self.net(lum, logits=True)
            loss = weighted_ce(cell_logits, ab, self.weights)
            losses = {"ce": loss.item()}
            fake = self.model.decode(cell_logits, lum) if adversarial else None  # what the discriminator sees
        if adversarial:
            with autocast:  # real and fake pairs in one forward: one DDP reduction per backward
                logits = self.net_d(torch.cat([lum, lum]), torch.cat([ab, fake.detach()])).float()
                d = d_loss(*logits.chunk(2), cfg.gan_loss)
            self.opt_d.zero_grad(set_to_none=True)
            self.scaler.scale(d).backward()
            self.scaler.step(self.opt_d)
            with autocast:
                adv = g_loss(self.net_d(lum, fake).float(), cfg.gan_loss)
            loss = loss + cfg.adv_weight * adv
            losses |= {"d": d.item(), "adv": adv.item()}
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
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
        net = (self.ema if self.ema is not None else self.model).eval()
        preds = [colorize_rgb(net, rgb, self.cfg.render_size) for rgb in self.val]
        return summarise(preds, self.val), preds

    # ---- checkpoints ---------------------------------------------------------------------------
    def state(self, rng: list[dict], metrics: dict | None = None) -> dict:
        """Everything needed to export (arch, args, weights, provenance) and to resume exactly.

        `rng` holds every rank's random-generator states, in rank order.
        """
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
            **progress(self, metrics),
            "rng": rng,
        }

    def _restore(self, ck: dict) -> None:
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["opt"])
        if self.ema is not None:  # a run that had no EMA so far starts averaging here
            self.ema.load_state_dict(ck["ema"] or ck["model"])
        if self.disc is not None:
            self.disc.load_state_dict(ck["disc"])
            self.opt_d.load_state_dict(ck["opt_d"])
        resume_progress(self, ck)
        states = ck["rng"] if isinstance(ck["rng"], list) else [ck["rng"]]
        if len(states) == self.ctx.world:  # same process count: continue every rank's random stream exactly
            self.rng.bit_generator.state = states[self.ctx.rank]["numpy"]
            torch.set_rng_state(states[self.ctx.rank]["torch"])
        else:  # a different world size cannot replay the old streams; start fresh ones from the step
            self.rng = np.random.default_rng([self.cfg.seed, self.ctx.rank, self.step])

    def score(self, metrics: dict) -> tuple:
        """Sort key of an evaluation, higher is better: first whether it reaches best_min_cf_ratio, then
        the named metric (if it does) or cf_ratio (if it does not)."""
        ok = metrics["cf_ratio"] >= self.cfg.best_min_cf_ratio
        value = metrics[self.cfg.best_metric] if ok else metrics["cf_ratio"]
        return ok, -value if ok and LOWER_IS_BETTER[self.cfg.best_metric] else value

    def _is_better(self, metrics: dict) -> bool:
        if self.disc is not None and self.step <= self.cfg.pretrain_steps:
            return False  # the GAN's best is chosen from its adversarial phase only
        return self.best is None or self.score(metrics) > self.score(self.best)

    def save(self, evaluate: bool) -> dict:
        """Collective (every rank calls it): rank 0 writes last.pt and, when `evaluate`, validates, logs,
        draws the sample grid and plots, and writes best.pt if the named metric improved."""
        rng = distributed.gather({"numpy": self.rng.bit_generator.state, "torch": torch.get_rng_state()}, self.ctx)
        if not self.ctx.main:
            return {}
        metrics = None
        if evaluate:
            metrics, preds = self.validate()
            vals = {f"val_{k}": round(v, 4) for k, v in metrics.items() if k != "n"}
            report.log_row(self.out / "log.csv", {"step": self.step, "seconds": round(self.seconds, 1)} | vals)
            report.sample_grid(self.val[:8], preds[:8], self.out / "samples" / f"step_{self.step:07d}.png")
            report.plot_log(self.out / "log.csv", self.out / "loss.png")
            if self._is_better(metrics):
                self.best = {"step": self.step} | metrics
                save_atomic(self.state(rng, metrics), self.out / "best.pt")
        save_atomic(self.state(rng, metrics), self.out / "last.pt")
        return metrics or {}

    def _time_is_up(self, deadline: float) -> bool:
        """Whether any rank has passed the wall-clock deadline (all ranks stop at the same step)."""
        if not deadline:
            return False  # no wall-clock budget: nothing to agree on, no collective per step
        late = time.time() > deadline
        return any(distributed.gather(late, self.ctx)) if self.ctx.world > 1 else late

    def _write_digest(self) -> None:
        """RUN_DIR/rank{R}.sha256: a hash of this rank's weights and buffers, to check that DDP ranks agree."""
        h = hashlib.sha256()
        for t in self.model.state_dict().values():
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        (self.out / f"rank{self.ctx.rank}.sha256").write_text(h.hexdigest() + "\n")

    # ---- the loop ----------------------------------------------------------------------------
    def run(self, max_steps: int, max_minutes: float = 0.0) -> None:
        """Train until `max_steps` in total or `max_minutes` of this call's wall time (0 = no limit)."""
        cfg, main = self.cfg, self.ctx.main
        deadline = time.time() + 60 * max_minutes if max_minutes else 0.0
        bar = tqdm(total=max_steps, initial=self.step, desc=f"train {cfg.model}", dynamic_ncols=True, disable=not main)
        window: list[dict] = []
        while self.step < max_steps and not self._time_is_up(deadline):
            t0 = time.time()
            window.append(self.train_step())
            self.seconds += time.time() - t0
            bar.update(1)
            if self.step % 50 == 0 and main:
                means = {k: float(np.mean([w[k] for w in window if k in w])) for k in window[-1]}
                report.log_row(self.out / "log.csv", {"step": self.step, "seconds": round(self.seconds, 1)} | means)
                bar.set_postfix({k: f"{v:.3f}" for k, v in means.items()})
                window = []
            if self.step % cfg.eval_every == 0:
                metrics = self.save(evaluate=True)
                if metrics:  # rank 0
                    bar.write(f"step {self.step}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
            elif self.step % cfg.ckpt_every == 0:
                self.save(evaluate=False)
        bar.close()
        distributed.sync_buffers(self.model, self.ctx)
        if self.step % cfg.eval_every:
            self.save(evaluate=True)
        self._write_digest()
