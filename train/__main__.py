"""Train a colorizer (the CNN or the GAN; train.colorize).

    python -m train --model cnn|gan --data DIR --out RUN_DIR [--config FILE] [--steps N | --minutes M] [--resume]
                    [--threads T] [--init-from CHECKPOINT | FILE.onnx]

The shipped colorizers' recipes: train/configs/cnn.toml, then train/configs/gan.toml started from the CNN:
    python -m train --model cnn --config train/configs/cnn.toml --data ../shared/data/photos --out ~/runs/cnn
    python -m train --model gan --config train/configs/gan.toml --init-from ~/runs/cnn/last.pt \
        --data ../shared/data/photos --out ~/runs/gan

--steps N is the total step count of the run (a resumed run continues up to it); --minutes M bounds the wall
time of this call, so a long run can be spread over several sessions with --resume. --init-from starts the
colorizer from another run's weights (the GAN from the trained CNN) or from an exported ONNX file (fine-tune the
shipped models on your own photos without their checkpoints: train.colorize.from_onnx). RUN_DIR receives
last.pt, best.pt, log.csv, loss.png and samples/. Keep long runs outside the work tree.

Several processes (DistributedDataParallel; gloo on CPU, NCCL on GPU; rank 0 logs and saves):
    torchrun --nproc_per_node=K -m train --model gan --config train/configs/gan.toml --data DIR --out RUN_DIR
"""

from __future__ import annotations

import argparse

from train import distributed
from train.colorize.config import ColorizeConfig
from train.colorize.trainer import ColorizeTrainer
from train.config import config_from_toml
from train.trainer import add_run_arguments


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["cnn", "gan"], required=True)
    threads = "torch threads per process (overrides the config; speed only)"
    add_run_arguments(ap, "folder of colour photos", "TOML file of ColorizeConfig fields", threads)
    ap.add_argument("--init-from", help="checkpoint or ONNX file whose network starts the run (overrides the config)")
    args = ap.parse_args()
    overrides = {"steps": args.steps, "minutes": args.minutes, "threads": args.threads, "init_from": args.init_from}
    cfg = config_from_toml(ColorizeConfig, args.config, {"model": args.model}, **overrides)
    if cfg.model != args.model:
        ap.error(f"--model {args.model} disagrees with the config's model {cfg.model!r}")
    trainer = ColorizeTrainer(cfg, args.data, args.out, resume=args.resume)
    try:
        trainer.run(cfg.steps, cfg.minutes)
    finally:
        distributed.close(trainer.ctx)


if __name__ == "__main__":
    main()
