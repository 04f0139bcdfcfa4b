"""Average the weights of checkpoints of one lineage into one checkpoint (a "model soup", Wortsman et al. 2022).

    python -m train.soup A.pt B.pt [C.pt ...] -o OUT.pt [--weights 0.5 0.5 ...]

The shipped restorer is such a mean (train/configs/restore_wide8_f.toml):
    python -m train.soup ~/runs/wide8_d/last.pt ~/runs/wide8_f/last.pt -o ~/runs/wide8_soup/last.pt

Checkpoints trained on from one another, or from one parent, sit in one basin of the loss: their weighted mean
is a working network, and where each traded one damage group for another the mean tends to keep most of both.
The checkpoints must share kind, arch and arch_args; their EMA weights (the model's where none) are averaged,
float32. The output is the last checkpoint's config and
provenance with those weights as both `model` and `ema`, its step and the largest `seconds` (exact when each
checkpoint is an ancestor of the last, as for a run and its own later part: siblings' own seconds must be added
by hand, so `soup` lists each one's path, step, seconds and weight). It keeps no optimiser state, random
streams or validation figures: export it (python -m export.restorer) or start a run from it (--init-from).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from train.checkpoint import load_checkpoint, save_atomic
from train.checkpoint import weights as network_weights

SAME = ("kind", "arch", "arch_args", "size_multiple")  # what every ingredient must share


def soup(checkpoints: list[dict], weights: list[float], names: list[str]) -> dict:
    """The checkpoint of the weighted mean of `checkpoints`' EMA weights (weights > 0, normalised to sum 1);
    `names` (their paths) go into its `soup` record. ValueError if they differ in SAME or in their tensors."""
    if len(checkpoints) < 2 or len(weights) != len(checkpoints) or min(weights) <= 0:
        raise ValueError("give two or more checkpoints and one positive weight for each")
    first = checkpoints[0]
    for name, ck in zip(names[1:], checkpoints[1:]):
        differ = [k for k in SAME if ck.get(k) != first.get(k)]
        if differ:
            raise ValueError(f"{name} differs from {names[0]} in {', '.join(differ)}: not one lineage")
    total = sum(weights)
    states = [network_weights(ck) for ck in checkpoints]
    mean = {}
    for key, value in states[0].items():
        if any(s[key].shape != value.shape for s in states):
            raise ValueError(f"{key}: the checkpoints' tensors differ in shape")
        if not value.is_floating_point():  # counters (e.g. batch-norm's) are not averaged
            mean[key] = value.clone()
            continue
        mean[key] = sum(w / total * s[key].float() for w, s in zip(weights, states)).to(value.dtype)
    last = checkpoints[-1]
    out = {k: v for k, v in last.items() if k not in ("opt", "rng", "best", "val_metrics", "model", "ema")}
    out |= {"model": mean, "ema": mean, "seconds": max(ck["seconds"] for ck in checkpoints)}
    out["soup"] = [
        {"checkpoint": name, "step": ck["step"], "seconds": round(ck["seconds"], 1), "weight": w / total}
        for name, ck, w in zip(names, checkpoints, weights)
    ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", help="two or more checkpoints of one architecture")
    ap.add_argument("-o", "--output", required=True, help="the averaged checkpoint to write (keep it outside the repo)")
    ap.add_argument("--weights", type=float, nargs="+", help="one per checkpoint (default: equal)")
    args = ap.parse_args()
    weights = args.weights or [1.0] * len(args.checkpoints)
    names = [f"{Path(p).parent.name}/{Path(p).name}" for p in args.checkpoints]  # run folder/file, not the home path
    try:
        ck = soup([load_checkpoint(p) for p in args.checkpoints], weights, names)
    except ValueError as e:
        sys.exit(f"error: {e}")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(ck, out)
    parts = ", ".join(f"{s['weight']:.2f} x step {s['step']}" for s in ck["soup"])
    print(f"{out}: {ck['kind']} {ck['arch']}, {parts}")


if __name__ == "__main__":
    main()
