"""Train a colorizer.

    python -m train --model cnn|gan --data DIR --out RUN_DIR [--config FILE] [--steps N | --minutes M] [--resume]
                    [--threads T] [--init-from CHECKPOINT]

--steps N is the total step count of the run (a resumed run continues up to it); --minutes M bounds the wall
time of this call, so a long run can be spread over several sessions with --resume. --init-from starts the
colorizer from another run's weights (the GAN from the trained CNN). RUN_DIR receives
last.pt, best.pt, log.csv, loss.png and samples/. Keep long runs outside the work tree.

Several processes (DistributedDataParallel; gloo on CPU, NCCL on GPU; rank 0 logs and saves):
    torchrun --nproc_per_node=K -m train --model gan --config train/configs/gan.toml --data DIR --out RUN_DIR
"""

from __future__ import annotations

import argparse

from train import distributed
from train.config import load_config
from train.loop import Trainer


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["cnn", "gan"], required=True)
    threads = "torch threads per process (overrides the config; speed only)"
    add_run_arguments(ap, "folder of colour photos", "TOML file of TrainConfig fields", threads)
    ap.add_argument("--init-from", help="checkpoint whose colorizer weights start the run (overrides the config)")
    args = ap.parse_args()
    overrides = {"steps": args.steps, "minutes": args.minutes, "threads": args.threads, "init_from": args.init_from}
    cfg = load_config(args.config, model_default=args.model, **overrides)
    if cfg.model != args.model:
        ap.error(f"--model {args.model} disagrees with the config's model {cfg.model!r}")
    trainer = Trainer(cfg, args.data, args.out, resume=args.resume)
    try:
        trainer.run(cfg.steps, cfg.minutes)
    finally:
        distributed.close(trainer.ctx)


if __name__ == "__main__":
    main()
