"""The one training loop: every product (the colorizers, the restorer, the crack detector) is a Trainer.

The skeleton owns what the products share: the step and wall-clock budget (--steps / --minutes), the weight
EMA, the CSV log and its plot, validation and checkpoint scheduling, checkpoints written atomically (last.pt;
best.pt where the product validates), exact resume (weights, optimiser, EMA, every random stream, and the log
rows written after the checkpoint dropped) and the command-line arguments every training command takes.

A product subclasses Trainer and supplies:
  build(data_dir, fresh)  its data, `self.model` and `self.opt` (and anything else it trains); `fresh` is False
                          when the run resumes from RUN_DIR/last.pt, whose weights then replace the built ones
  train_step()            one optimisation step, drawing its randomness from `self.rng` (numpy) and torch's
                          global generator; returns its figures as floats (those named in `losses` are logged)
  state() / load_state()  its own checkpoint keys beyond the shared ones, and reading them back
  validate(samples)       (products with `validation` columns) the figures of the averaged network and a sample
                          sheet; is_better(metrics) decides whether they make a new best.pt
Under torchrun (products with `parallel = True`) every rank runs the loop; rank 0 alone logs, validates and
writes; `save` is collective.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import math
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from colorizer.atomic import remove_stale_temps
from train import distributed, report
from train.checkpoint import git_commit, load_checkpoint, save_atomic
from train.config import RunConfig

LOG_EVERY = 50  # steps per row of training losses in log.csv (their mean over those steps)


def add_run_arguments(ap: argparse.ArgumentParser, data: str, config: str, threads: str) -> None:
    """The arguments of every training command: --data, --out, --config, --steps | --minutes, --resume and
    --threads; `data`, `config` and `threads` are the help texts that differ between them."""
    ap.add_argument("--data", required=True, help=data)
    ap.add_argument("--out", required=True, help="run folder (checkpoints, logs, samples)")
    ap.add_argument("--config", help=config)
    budget = ap.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="total steps of the run (overrides the config)")
    budget.add_argument("--minutes", type=float, help="wall-clock minutes for this call")
    ap.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt exactly")
    ap.add_argument("--threads", type=int, help=threads)


def lr_factor(cfg: RunConfig, step: int) -> float:
    """Multiplier of the configured lr at a step: 1 until cfg.lr_decay_from (0: always 1), then a half cosine
    that reaches cfg.lr_min_ratio at cfg.steps."""
    if not cfg.lr_decay_from or step < cfg.lr_decay_from:
        return 1.0
    t = min(1.0, (step - cfg.lr_decay_from) / max(1, cfg.steps - cfg.lr_decay_from))
    return cfg.lr_min_ratio + (1.0 - cfg.lr_min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


class Trainer:
    """The loop, budget, EMA, log, checkpoints and resume of one run in RUN_DIR (see the module docstring)."""

    kind = ""  # the checkpoint's kind and the progress bar's label
    parallel = False  # whether the product trains under torchrun (train.distributed)
    losses: tuple[str, ...] = ()  # train_step figures logged every LOG_EVERY steps
    validation: tuple[str, ...] = ()  # validate's log columns; empty: the product does not validate
    plots: ClassVar[dict[str, tuple[str, ...]]] = {}  # loss.png's panels: title -> columns

    model: nn.Module
    opt: torch.optim.Optimizer
    train_data: str  # what the run trained on, for the checkpoint and the exported metadata

    def __init__(self, cfg: RunConfig, data_dir: str | Path, out_dir: str | Path, resume: bool = False):
        self.cfg, self.out = cfg, Path(out_dir)
        self.ctx = distributed.init() if self.parallel else distributed.local()
        self.out.mkdir(parents=True, exist_ok=True)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        self.rng = np.random.default_rng(cfg.seed + self.ctx.rank)  # different crops on every rank
        self.step, self.seconds, self.cpu_seconds, self.best = 0, 0.0, 0.0, None
        self.commits = [git_commit()]  # the code this process runs, read once: later edits do not run
        last = self.out / "last.pt"
        resuming = resume and last.exists()
        self.build(data_dir, fresh=not resuming)
        self.ema = None
        if cfg.ema_decay > 0:
            self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)
        if resuming:
            self._resume(load_checkpoint(last))
        if self.ctx.main:  # rank 0 alone writes the run folder
            remove_stale_temps(self.out)  # half-written checkpoints of a killed run
            if resume:
                report.drop_rows_after(self.out / "log.csv", self.step)

    # ---- what a product supplies --------------------------------------------------------------
    def build(self, data_dir: str | Path, fresh: bool) -> None:
        """Load the data and make self.model, self.opt and self.train_data (module docstring)."""
        raise NotImplementedError

    def train_step(self) -> dict[str, float]:
        """One optimisation step at self.step (the loop counts it); returns its figures as floats."""
        raise NotImplementedError

    def state(self) -> dict:
        """The product's own checkpoint keys (kind, arch, arch_args, ...)."""
        return {"kind": self.kind}

    def load_state(self, ck: dict) -> None:
        """Read back what `state` added that resuming needs (beyond model, ema, opt, progress and rng)."""

    def validate(self, samples: Path) -> tuple[dict, dict]:
        """(metrics for the checkpoint, the row of `validation` columns for the log); draws a sample sheet."""
        raise NotImplementedError

    def is_better(self, metrics: dict) -> bool:
        """Whether `metrics` make a new best.pt, given self.best (None before one qualified)."""
        raise NotImplementedError

    # ---- shared parts ------------------------------------------------------------------------
    @property
    def averaged(self) -> nn.Module:
        """The network that is validated and exported: the EMA where the run keeps one."""
        return self.ema if self.ema is not None else self.model

    def set_lr(self, opt: torch.optim.Optimizer, lr: float) -> None:
        """Set each parameter group's lr for this step: lr x lr_factor x the group's own lr_ratio (default 1)."""
        factor = lr_factor(self.cfg, self.step)
        for group in opt.param_groups:
            group["lr"] = lr * factor * group.get("lr_ratio", 1.0)

    def advance(self) -> dict[str, float]:
        """One step: the product's train_step, the EMA, the step count and the time it took (wall and CPU)."""
        t, c = time.time(), time.process_time()
        figures = self.train_step()
        if self.ema is not None:
            self._update_ema()
        self.step += 1
        self.seconds += time.time() - t
        self.cpu_seconds += time.process_time() - c
        return figures

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))  # warm start
        for e, p in zip(self.ema.parameters(), self.model.parameters()):
            e.lerp_(p, 1 - decay)
        for e, b in zip(self.ema.buffers(), self.model.buffers()):
            e.copy_(b)

    def checkpoint(self, rng: list[dict], metrics: dict | None) -> dict:
        """Everything export, --resume, --init-from and train.soup read (train.checkpoint): the product's
        state, config, weights (and EMA), optimiser, progress, provenance, and every rank's random states."""
        return self.state() | {
            "config": self.cfg.to_dict(),
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "opt": self.opt.state_dict(),
            "step": self.step,
            "seconds": self.seconds,  # training time so far, over every call of a resumed run
            "cpu_seconds": self.cpu_seconds,  # this process's CPU time over all its threads, likewise
            "best": self.best,  # the best evaluation so far ({"step": ...} | its figures)
            "val_metrics": metrics,  # the evaluation made at this save, None between evaluations
            "train_data": self.train_data,
            "git_commit": " ".join(self.commits),  # every commit the run has trained from, oldest first
            "rng": rng,
        }

    def _resume(self, ck: dict) -> None:
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["opt"])
        if self.ema is not None:  # a run that had no EMA so far starts averaging here
            self.ema.load_state_dict(ck.get("ema") or ck["model"])
        self.load_state(ck)
        self.step, self.seconds, self.best = ck["step"], ck["seconds"], ck.get("best")
        self.cpu_seconds = ck.get("cpu_seconds", 0.0)
        self.continue_lineage(ck["git_commit"])
        states = ck["rng"] if isinstance(ck["rng"], list) else [ck["rng"]]
        if "numpy" not in states[0]:  # the crack detector's checkpoints before this trainer: numpy's state alone
            states = [{"numpy": states[0], "torch": torch.get_rng_state()}]
        if len(states) == self.ctx.world:  # same process count: continue every rank's random stream exactly
            self.rng.bit_generator.state = states[self.ctx.rank]["numpy"]
            torch.set_rng_state(states[self.ctx.rank]["torch"])
        else:  # a different world size cannot replay the old streams; start fresh ones from the step
            self.rng = np.random.default_rng([self.cfg.seed, self.ctx.rank, self.step])

    def continue_lineage(self, commits: str) -> None:
        """Put the commits a run was trained from (space-separated) before this process's, unless among them."""
        earlier = commits.split()
        self.commits = earlier + [c for c in self.commits if c not in earlier]

    def log(self, values: dict[str, float]) -> None:
        """Append a row to RUN_DIR/log.csv: step, seconds, cpu_seconds and `values` (6 significant digits)."""
        columns = ["step", "seconds", "cpu_seconds", *self.losses, *self.validation]
        row = {"step": self.step, "seconds": round(self.seconds, 1), "cpu_seconds": round(self.cpu_seconds, 1)}
        report.log_row(self.out / "log.csv", columns, row | {k: float(f"{v:.6g}") for k, v in values.items()})

    def save(self, evaluate: bool) -> dict:
        """Collective (every rank calls it): rank 0 writes last.pt and, when `evaluate`, first validates (where
        the product does), logs, writes best.pt if better, and plots the log. Returns the validation's log row."""
        rng = distributed.gather({"numpy": self.rng.bit_generator.state, "torch": torch.get_rng_state()}, self.ctx)
        if not self.ctx.main:
            return {}
        metrics, row = None, {}
        if evaluate and self.validation:
            metrics, row = self.validate(self.out / "samples" / f"step_{self.step:07d}.png")
            self.log(row)
            if self.is_better(metrics):
                self.best = {"step": self.step} | {k: v for k, v in metrics.items() if not isinstance(v, dict)}
                save_atomic(self.checkpoint(rng, metrics), self.out / "best.pt")
        if evaluate and (self.out / "log.csv").exists():
            report.plot_log(self.out / "log.csv", self.out / "loss.png", self.plots)
        save_atomic(self.checkpoint(rng, metrics), self.out / "last.pt")
        return row

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

    def run(self, max_steps: int, max_minutes: float = 0.0) -> None:
        """Train until `max_steps` in total or `max_minutes` of this call's wall time (0 = no limit); validate
        every eval_every steps, checkpoint every ckpt_every, and validate and checkpoint where the call ends."""
        cfg, main = self.cfg, self.ctx.main
        deadline = time.time() + 60 * max_minutes if max_minutes else 0.0
        bar = tqdm(total=max_steps, initial=self.step, desc=f"train {self.kind}", dynamic_ncols=True, disable=not main)
        window: list[dict] = []
        while self.step < max_steps and not self._time_is_up(deadline):
            window.append(self.advance())
            bar.update(1)
            if self.step % LOG_EVERY == 0 and main:
                logged = [k for k in self.losses if any(k in w for w in window)]  # a step may lack a figure
                means = {k: float(np.mean([w[k] for w in window if k in w])) for k in logged}
                self.log(means)
                bar.set_postfix({k: f"{v:.4g}" for k, v in means.items()})
                window = []
            if self.step % cfg.eval_every == 0:
                row = self.save(evaluate=True)
                if row:  # rank 0
                    bar.write(f"step {self.step}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
            elif self.step % cfg.ckpt_every == 0:
                self.save(evaluate=False)
        bar.close()
        distributed.sync_buffers(self.model, self.ctx)
        if self.step % cfg.eval_every:
            self.save(evaluate=True)
        self._write_digest()
