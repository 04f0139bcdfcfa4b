"""Choose a classification colorizer's decoding (temperature, prior correction, gain, fades) on held-out photos.

    python -m train.colorize.tune CHECKPOINT --data DIR_OR_LIST [--root DIR] [--limit N] [--half a|b]
                                  [--render-size PX]
                                  [--temperature T ...] [--prior-correction BETA ...] [--chroma-gain G ...]
                                  [--shadow-fade S ...] [--highlight-fade H ...] [--min-cf-ratio R]

The network runs once per photo at its render size (the run's, or --render-size; the pipeline's own luma and
resizing); every setting of the grid only re-decodes the cached cell logits (ColorCNN.decode), merges at full
resolution and is scored like `train.colorize.evaluate`. Prints PSNR, ΔE00 and cf_ratio per setting, then the
best: the lowest ΔE00 among settings with cf_ratio >= --min-cf-ratio, as the flags for `python -m export`.
--half a|b keeps every other photo (a: 1st, 3rd, ...; b: 2nd, 4th, ...), so a setting can be chosen on one half
and checked on the other.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from colorizer.pipeline import Photo
from train.checkpoint import load_checkpoint
from train.colorize.metrics import summarise
from train.colorize.model import DECODING, ColorCNN, colorizer_from_checkpoint, decoding_flag
from train.data import evenly_spaced, load_rgb, read_list

DEFAULT_GRID = {"temperature": [0.35], "prior_correction": [0.5, 0.6, 0.7, 0.8], "chroma_gain": [1.0, 1.2, 1.4]}


@torch.no_grad()
def cell_logits(net: ColorCNN, photos: list[Photo], render_size: int) -> list[tuple]:
    """Per photo: the head's cell logits float32 [1,Q,h'/4,w'/4], the network's input L [1,1,h',w'] (padded
    render size h', w') and the unpadded render size h, w."""
    out = []
    for p in tqdm(photos, desc="network", unit="photo"):
        lum, (h, w) = p.model_input(render_size, net.size_multiple)
        lum = torch.from_numpy(lum)
        out.append((net(lum, logits=True)[0], lum, h, w))
    return out


@torch.no_grad()
def score(ck: dict, setting: dict, logits: list, photos: list[Photo], rgbs: list[np.ndarray]) -> dict:
    """summarise() of the photos decoded with `setting` (a dict of DECODING values) from cached logits."""
    net = colorizer_from_checkpoint(ck | {"arch_args": ck["arch_args"] | setting})
    outs = [p.render(net.decode(z, lum)[0, :, :h, :w].numpy()) for p, (z, lum, h, w) in zip(photos, logits)]
    return summarise(outs, rgbs)


def best_setting(rows: list[tuple[dict, dict]], min_cf_ratio: float) -> tuple[dict, dict] | None:
    """The (setting, figures) with the lowest ΔE00 among those reaching min_cf_ratio; None if none does."""
    ok = [r for r in rows if r[1]["cf_ratio"] >= min_cf_ratio]
    return min(ok, key=lambda r: r[1]["de00"]) if ok else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="a best.pt or last.pt of a CNN or GAN run")
    ap.add_argument("--data", required=True, type=Path, help="folder of colour photos, or a list file")
    ap.add_argument("--root", type=Path, help="folder that relative paths in a list file are relative to")
    ap.add_argument("--limit", type=int, help="use N evenly spaced photos")
    ap.add_argument("--half", choices=["a", "b"], help="every other photo (after --limit)")
    for name, text in DECODING.items():  # each takes a list of values: every combination is scored
        values = DEFAULT_GRID.get(name, [0.0])
        ap.add_argument(decoding_flag(name), type=float, nargs="+", default=values, help=f"{text}; default {values}")
    ap.add_argument("--min-cf-ratio", type=float, default=0.55, help="colourfulness floor of the pick")
    ap.add_argument("--render-size", type=int, help="long side (px) the network runs at (default: the run's)")
    args = ap.parse_args()
    ck = load_checkpoint(args.checkpoint)
    files = evenly_spaced(read_list(args.data, args.root), args.limit)
    files = files[{"a": 0, "b": 1}[args.half] :: 2] if args.half else files
    rgbs = [load_rgb(f) for f in files]
    photos = [Photo.from_image(x) for x in rgbs]
    render_size = args.render_size or ck["render_size"]
    logits = cell_logits(colorizer_from_checkpoint(ck), photos, render_size)
    rows = []
    print(f"{len(files)} photos; {ck['kind']} step {ck['step']}, render size {render_size}")
    print("T      beta   gain   shadow highlight  PSNR  ΔE00  hue_hit  cf_ratio")
    for values in itertools.product(*(getattr(args, name) for name in DECODING)):
        setting = dict(zip(DECODING, values))
        rows.append((setting, score(ck, setting, logits, photos, rgbs)))
        r = rows[-1][1]
        print(
            "  ".join(f"{v:5.2f}" for v in values),
            f" {r['psnr']:.2f}  {r['de00']:.2f}  {r['hue_hit']:.3f}  {r['cf_ratio']:.3f}",
        )
    best = best_setting(rows, args.min_cf_ratio)
    if best is None:
        raise SystemExit(
            f"no setting reaches cf_ratio {args.min_cf_ratio}: try a lower prior correction or a higher gain"
        )
    flags = " ".join(f"{decoding_flag(k)} {v:g}" for k, v in best[0].items())
    flags += f" --render-size {args.render_size}" if args.render_size else ""
    r = best[1]
    figures = f"PSNR {r['psnr']:.2f}, ΔE00 {r['de00']:.2f}, hue_hit {r['hue_hit']:.3f}, cf_ratio {r['cf_ratio']:.3f}"
    print(f"best with cf_ratio >= {args.min_cf_ratio}: {flags}  ({figures})")


if __name__ == "__main__":
    main()
