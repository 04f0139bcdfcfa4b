"""The colorizers' product for the training loop (train.trainer.Trainer): their step, validation and state.

CNN: rarity-rebalanced cross-entropy over ab cells. The ImageNet-pretrained encoder is frozen for the first
`freeze_encoder_steps`, then fine-tuned at encoder_lr_ratio x the decoder's lr (its BatchNorm stays frozen).
A network with a hint branch (arch_args hint_width > 0) also gets simulated colour hints on some crops and an
L1 loss on those that trains the branch alone (train.colorize.hints).
GAN: the CNN trained further (`init_from` a CNN checkpoint; or `pretrain_steps` of the CNN's loss alone, "NoGAN"),
keeping the cross-entropy as its anchor, plus adv_weight times the hinge adversarial loss from a spectrally
normalised PatchGAN conditioned on L that sees the decoded ab.
With ema_decay > 0 an exponential average of the weights is what is validated and exported.
Under torchrun each process trains on its own shard of the photos (photos[rank::world], the distributed
sampler), DDP averages the gradients, and rank 0 alone logs, validates and saves. AMP is used on CUDA.
Validation colorizes the validation photos through the library's own pipeline (colorizer.pipeline) at the run's
render size, so its figures are those of the exported model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from colorizer.hints import Hint
from colorizer.pipeline import colorize_array
from train import distributed, report
from train.checkpoint import load_checkpoint, load_matching, weights
from train.colorize.config import LOWER_IS_BETTER, ColorizeConfig
from train.colorize.from_onnx import calibrate_batchnorms, unfolded_state
from train.colorize.hints import hint_loss, recolour, simulate_hints
from train.colorize.losses import ab_histogram, d_loss, g_loss, log_cell_weights, rebalance_weights, weighted_ce
from train.colorize.metrics import protocol_hints, summarise
from train.colorize.model import PatchDiscriminator, build_colorizer
from train.data import PhotoBank, evenly_spaced, load_rgb, split_photos
from train.predict import torch_predict
from train.trainer import Trainer


def colorize_rgb(
    net: torch.nn.Module, rgb: np.ndarray, render_size: int = 256, hints: Sequence[Hint] = ()
) -> np.ndarray:
    """Colorize an RGB uint8 HxWx3 photo from its luma with `net` (eval mode) through the library's pipeline,
    following colour hints where given (colorizer.hints; a hint-taking net only): RGB uint8 HxWx3, same size."""
    return colorize_array(torch_predict(net), rgb, render_size, net.size_multiple, hints)


VAL_HINTS = 10  # protocol hints per validation photo for a hint-taking network's second set of figures


class ColorizeTrainer(Trainer):
    """The CNN or the GAN (cfg.model) in RUN_DIR: last.pt, best.pt, log.csv, loss.png, samples/."""

    parallel = True
    validation = ("val_psnr", "val_de00", "val_cf", "val_cf_ratio", "val_hue_hit")
    plots: ClassVar[dict[str, tuple[str, ...]]] = {
        "training losses": ("ce", "hint", "adv", "d"),
        "validation": ("val_de00", "val_psnr"),
    }
    cfg: ColorizeConfig

    def build(self, data_dir: str | Path, fresh: bool) -> None:
        """The photos (this rank's shard), the rarity weights, the colorizer (pretrained encoder, or init_from's
        weights), its optimiser and, for the GAN, the discriminator and its optimiser."""
        cfg, ctx = self.cfg, self.ctx
        self.kind = cfg.model
        self.takes_hints = bool(cfg.arch_args.get("hint_width"))
        if self.takes_hints:  # also validated with VAL_HINTS protocol hints per photo
            self.validation = (*type(self).validation, "val_psnr_hints", "val_hue_hit_hints")
        self.losses = ("ce", *("hint",) * self.takes_hints, *("adv", "d") * (cfg.model == "gan"))
        if cfg.hints_only:
            if not (self.takes_hints and cfg.init_from):
                raise ValueError("hints_only trains a hint branch (arch_args hint_width) on an init_from network")
            self.losses = ("hint",)
        train_files, val_files = split_photos(data_dir, cfg.val_percent)
        self.bank = PhotoBank(train_files[ctx.rank :: ctx.world], cfg.max_short_side, min(cfg.crop_sizes))
        self.val = [load_rgb(f, cfg.max_short_side) for f in evenly_spaced(val_files, cfg.val_images)]
        self.train_data = f"{Path(data_dir).name}: {len(train_files)} train / {len(val_files)} val photos"
        hist = distributed.mean_array(ab_histogram([p.ab for p in self.bank.photos]), ctx)
        self.weights = None
        if cfg.rebalance > 0:
            self.weights = torch.from_numpy(rebalance_weights(hist, cfg.rebalance)).to(ctx.device)

        self.model = build_colorizer(cfg.arch, cfg.arch_args).to(ctx.device)
        self.init_cpu_seconds = 0.0  # the CPU time of the runs this one started from (init_from's lineage)
        if fresh:  # (a resumed run's weights, rarity weights included, come from its last.pt)
            self.init_weights(log_cell_weights(hist, cfg.rebalance))
        if cfg.hints_only:  # the branch alone trains: the automatic colours stay exactly the file's
            self.model.requires_grad_(False)
            self.model.hints.requires_grad_(True)
        bad = [c for c in cfg.crop_sizes if c % self.model.size_multiple]
        if bad:
            raise ValueError(f"crop_sizes {bad} are not multiples of {cfg.arch}'s {self.model.size_multiple}")
        self.net = distributed.wrap(self.model, ctx)  # what trains; self.model is the bare module inside
        encoder = list(self.model.encoder.parameters())
        rest = [p for n, p in self.model.named_parameters() if not n.startswith("encoder.") and p.requires_grad]
        groups = [{"params": rest, "lr_ratio": 1.0}]
        if not cfg.hints_only:
            groups.append({"params": encoder, "lr_ratio": cfg.encoder_lr_ratio})
        self.opt = torch.optim.Adam(groups, cfg.lr, tuple(cfg.betas), weight_decay=cfg.weight_decay)
        self.scaler = torch.amp.GradScaler("cuda", enabled=ctx.amp)
        self.disc = self.net_d = self.opt_d = None
        if cfg.model == "gan" and not cfg.hints_only:
            self.disc = PatchDiscriminator(cfg.d_width).to(ctx.device)
            self.net_d = distributed.wrap(self.disc, ctx)
            self.opt_d = torch.optim.Adam(self.disc.parameters(), cfg.d_lr, tuple(cfg.betas))

    def init_weights(self, log_w: np.ndarray) -> None:
        """A fresh run's weights and rarity weights log_w (float32 [Q], of our photos): the ImageNet encoder, or
        init_from's network: a checkpoint's (the GAN starts from the trained CNN), or an exported ONNX file's,
        unfolded with log_w (the file's own say which cells it dropped) and its decoder's BatchNorms calibrated on
        a batch of our crops (train.colorize.from_onnx)."""
        cfg = self.cfg
        if Path(cfg.init_from).suffix == ".onnx":
            state, meta, fresh = unfolded_state(self.model, cfg.init_from, log_w)
            self.model.load_state_dict(state)
            if fresh:
                print(f"not in {cfg.init_from}, trained from scratch: {', '.join(fresh)}")
            lum = self.bank.batch(np.random.default_rng(0), 16, min(cfg.crop_sizes))[0]
            calibrate_batchnorms(self.model, torch.from_numpy(lum).to(self.ctx.device))
            self.init_cpu_seconds = float(meta.get("train_core_hours", 0.0)) * 3600
            return
        if not cfg.init_from:
            self.model.encoder.load_pretrained()  # ImageNet weights from the pinned pip package
        else:
            init = load_checkpoint(cfg.init_from)
            if new := load_matching(self.model, weights(init)):  # e.g. a hint branch the CNN had not
                print(f"not in {cfg.init_from}, trained from scratch: {', '.join(new)}")
            self.init_cpu_seconds = init.get("cpu_seconds", 0.0) + init.get("init_cpu_seconds", 0.0)
        self.model.log_weights.copy_(torch.from_numpy(log_w))  # the checkpoint's network, our rarity weights

    def train_step(self) -> dict[str, float]:
        """Draw a batch, update the colorizer (and the discriminator); returns ce (and adv, d) as floats."""
        cfg, ctx = self.cfg, self.ctx
        size = int(self.rng.choice(cfg.crop_sizes))
        batch = self.bank.batch(self.rng, max(1, cfg.batch_pixels // size**2), size)
        if self.takes_hints:  # the hints, and the truth they follow (a surface recoloured on some crops)
            truth, surfaces = recolour(self.rng, *batch, cfg.p_recolour) if cfg.p_recolour else (batch[1], None)
            batch = (*batch, simulate_hints(self.rng, truth, cfg.p_no_hints, surfaces), truth)
        lum, ab, *hints = (torch.from_numpy(a).to(ctx.device, non_blocking=True) for a in batch)
        hints, truth = hints if hints else (None, None)
        autocast = torch.autocast(ctx.device.type, enabled=ctx.amp)
        adversarial = self.net_d is not None and self.step >= cfg.pretrain_steps
        self.set_lr(self.opt, cfg.lr)  # the config's lrs for this step, also after a resume
        if self.opt_d is not None:
            self.set_lr(self.opt_d, cfg.d_lr)
        if cfg.hints_only:
            return self.hints_step(lum, truth, hints)
        # A frozen encoder gets no gradients at all (so Adam leaves it alone and backward stops at the decoder).
        self.model.encoder.requires_grad_(self.step >= cfg.freeze_encoder_steps)
        self.net.train()
        with autocast:
            cell_logits, hinted = self.net(lum, hints, logits=True)
            loss = weighted_ce(cell_logits, ab, self.weights)
            losses = {"ce": loss.item()}
            follow = hint_loss(hinted.float(), truth, hints) if hinted is not None else None
            if follow is not None:
                loss = loss + cfg.hint_weight * follow
                losses["hint"] = follow.item()
            fake = self.model.decode(cell_logits, lum) if adversarial else None  # what the discriminator sees
        if adversarial:
            with autocast:  # real and fake pairs in one forward: one DDP reduction per backward
                logits = self.net_d(torch.cat([lum, lum]), torch.cat([ab, fake.detach()])).float()
                d = d_loss(*logits.chunk(2))
            self.opt_d.zero_grad(set_to_none=True)
            self.scaler.scale(d).backward()
            self.scaler.step(self.opt_d)
            with autocast:
                adv = g_loss(self.net_d(lum, fake).float())
            loss = loss + cfg.adv_weight * adv
            losses |= {"d": d.item(), "adv": adv.item()}
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return losses

    def hints_step(self, lum: torch.Tensor, truth: torch.Tensor, hints: torch.Tensor) -> dict[str, float]:
        """One step of hints_only: the network in eval mode (its automatic colours fixed, decoded by its arch_args,
        which should be the file's), the hint branch trained by the hints' loss alone (truth: what they follow)."""
        self.net.eval()
        loss = hint_loss(self.net(lum, hints), truth, hints)
        if loss is None:  # no crop of the batch had hints
            return {}
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"hint": loss.item()}

    @torch.no_grad()
    def validate(self, samples: Path) -> tuple[dict, dict]:
        """The averaged network's figures on the validation photos (train.colorize.metrics.summarise) and their
        log row; the first 8 photos as gray | colorized | original in `samples`."""
        net, size = self.averaged.eval(), self.cfg.render_size
        preds = [colorize_rgb(net, rgb, size) for rgb in self.val]
        metrics = summarise(preds, self.val)
        report.sample_grid(self.val[:8], preds[:8], samples)
        row = {f"val_{k}": v for k, v in metrics.items() if k != "n"}
        if self.takes_hints:
            hinted = [
                colorize_rgb(net, rgb, size, protocol_hints(rgb, str(i), VAL_HINTS)) for i, rgb in enumerate(self.val)
            ]
            with_hints = summarise(hinted, self.val)
            metrics["hints"] = {"count": VAL_HINTS} | with_hints
            row |= {"val_psnr_hints": with_hints["psnr"], "val_hue_hit_hints": with_hints["hue_hit"]}
        return metrics, row

    def score(self, metrics: dict) -> tuple:
        """Sort key of an evaluation, higher is better: first whether it reaches best_min_cf_ratio, then
        the named metric (if it does) or cf_ratio (if it does not)."""
        ok = metrics["cf_ratio"] >= self.cfg.best_min_cf_ratio
        value = metrics[self.cfg.best_metric] if ok else metrics["cf_ratio"]
        return ok, -value if ok and LOWER_IS_BETTER[self.cfg.best_metric] else value

    def is_better(self, metrics: dict) -> bool:
        """Whether an evaluation beats the best so far by `score`; the GAN's only from its adversarial phase."""
        if self.disc is not None and self.step <= self.cfg.pretrain_steps:
            return False  # the GAN's best is chosen from its adversarial phase only
        return self.best is None or self.score(metrics) > self.score(self.best)

    def state(self) -> dict:
        """The colorizer's keys: kind, arch, arch_args, render_size, size_multiple (what export reads),
        init_cpu_seconds (the CPU time of the runs init_from came from) and the discriminator with its optimiser
        (None for the CNN)."""
        return {
            "kind": self.cfg.model,
            "arch": self.cfg.arch,
            "arch_args": self.cfg.arch_args,
            "render_size": self.cfg.render_size,
            "size_multiple": self.model.size_multiple,
            "init_cpu_seconds": self.init_cpu_seconds,
            "disc": self.disc.state_dict() if self.disc else None,
            "opt_d": self.opt_d.state_dict() if self.opt_d else None,
        }

    def load_state(self, ck: dict) -> None:
        """The GAN's discriminator and its optimiser, and the lineage's CPU time, from a checkpoint of `state`."""
        self.init_cpu_seconds = ck.get("init_cpu_seconds", 0.0)
        if self.disc is not None:
            self.disc.load_state_dict(ck["disc"])
            self.opt_d.load_state_dict(ck["opt_d"])
