r"""Train the restorer (contract restorer/1; train.restore.trainer) on synthetic damage of clean photos' luminance.

    python -m train.restore --data DIR --out RUN_DIR [--config FILE] [--steps N | --minutes M] [--resume]
                            [--threads T] [--init-from CHECKPOINT]

The shipped restorer is made in five parts, each --init-from the one before (train/configs/restore_wide8_a.toml,
then _b, _c, _d and _f), and the mean of the last two (python -m train.soup); the first part:
    python -m train.restore --config train/configs/restore_wide8_a.toml --data ../shared/data/photos \
        --out ~/runs/wide8_a
--init-from CHECKPOINT starts from another restorer run's weights and goes on from its step; the network may be
grown (layers that start at zero, RestoreUNet's global_context and gate, or wider levels:
train.restore.model.grow_from), so the run starts as the source network. The source may be an exported restorer
.onnx too, e.g. the shipped onnx_models/restore.onnx (its weights and step).
--steps N is the run's total; --minutes M bounds this call's wall time, so the run can be spread over several calls
with --resume, which continues exactly (weights, optimiser, EMA, random streams; log rows past the checkpoint are
dropped). RUN_DIR receives last.pt, best.pt, log.csv, loss.png and samples/ (damaged | restored | clean). Keep runs
outside the work tree.
"""

from __future__ import annotations

import argparse

from train.config import config_from_toml
from train.restore.config import RestoreConfig
from train.restore.trainer import RestoreTrainer
from train.trainer import add_run_arguments


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    threads = "torch threads (overrides the config; speed only)"
    add_run_arguments(ap, "folder of photos (colour or gray)", "TOML file of RestoreConfig fields", threads)
    ap.add_argument("--init-from", help="restorer checkpoint whose weights start the run (overrides the config)")
    args = ap.parse_args()
    overrides = {"steps": args.steps, "minutes": args.minutes, "threads": args.threads, "init_from": args.init_from}
    cfg = config_from_toml(RestoreConfig, args.config, **overrides)
    RestoreTrainer(cfg, args.data, args.out, resume=args.resume).run(cfg.steps, cfg.minutes)


if __name__ == "__main__":
    main()
