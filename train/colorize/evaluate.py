"""Measure colorizers on colour photos they never saw, through the same pipeline users get.

    python -m train.colorize.evaluate --data DIR_OR_LIST [--root DIR] [--models NAME_OR_PATH ...] [--limit N]
                                      [--out DIR] [--stamp]

For each photo: an 8-bit ITU-R 601 grayscale input (as a scanner makes) is colorized at full resolution
and compared with the original. Reported per model and for the gray input itself (the baseline): RGB PSNR,
mean CIEDE2000, Hasler-Suesstrunk colourfulness, cf_ratio (mean colourfulness of outputs / of originals),
hue_hit (share of clearly coloured pixels given the right hue, averaged over six hue sectors; see
train/colorize/metrics.py) and seconds per image, all over images. When the photos mix ImageNet samples (file names
starting with IMAGENET_PREFIXES, which a pretrained ImageNet encoder may have seen) with others, each name also
gets the same figures over the others alone: rows "NAME (non-ImageNet)" in the table, key "non-ImageNet" in
the JSON. Writes OUT/results.md, OUT/results.json and OUT/sheet.png (gray | each model | original for a fixed
sample). --data is a folder or a text file of paths, one per line, relative ones resolved against --root
(default: the list file's folder). --limit keeps N evenly spaced photos.
--stamp writes each model's figures, the gray baseline's and the data they came from into the model file's
metadata (eval_metrics): the final validation table travels with the shipped file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnx
from tqdm import tqdm

import colorizer
from colorizer.atomic import atomic_write
from colorizer.color import gray_to_rgb, rgb_to_gray
from colorizer.model import refresh_manifest
from train.colorize.metrics import hue_hit_sectors, photo_figures, pool, pooled_hue_counts
from train.data import evenly_spaced, load_rgb, read_list
from train.report import image_sheet

SHEET_ROWS = 8
SHEET_HEIGHT = 160  # px per sheet row
# File-name prefixes of the ImageNet and ImageNet-detection samples among the photos: a pretrained ImageNet
# encoder may have seen them, so the figures are also reported without them.
IMAGENET_PREFIXES = ("imagenet_", "imagen_")
SUBSET = "non-ImageNet"  # the name of those figures, in the table and the JSON


def is_imagenet(path: Path) -> bool:
    """Whether the photo is an ImageNet sample, by its file name."""
    return path.name.startswith(IMAGENET_PREFIXES)


def colorize_all(gray: np.ndarray, models: list[colorizer.Model]) -> dict[str, tuple[np.ndarray, float]]:
    """Per name, the output RGB uint8 HxWx3 for one gray uint8 HxW photo and its seconds ('gray': the input, 0)."""
    outs = {"gray": (gray_to_rgb(gray), 0.0)}
    for m in models:
        t = time.perf_counter()
        out = m.colorize(gray)
        outs[m.name] = (out, time.perf_counter() - t)
    return outs


def set_figures(photos: list[dict]) -> dict:
    """pool() of per-photo figures (photo_figures plus 'seconds'), with hue_hit's per-sector shares and the mean
    seconds per image."""
    sectors = hue_hit_sectors(*pooled_hue_counts(photos))
    return pool(photos) | {"hue_hit_sectors": sectors, "seconds": float(np.mean([p["seconds"] for p in photos]))}


def evaluate(files: list[Path], models: list[colorizer.Model]) -> tuple[dict, list[list]]:
    """Figures per name ('gray' and each model), with the non-ImageNet ones under SUBSET when the photos mix
    both, and the sheet rows [gray, model outputs..., original]."""
    photos: dict[str, list[dict]] = {}  # per name, each photo's figures: outputs are not kept
    sheet = []
    sample = set(evenly_spaced(range(len(files)), SHEET_ROWS))
    for i, f in enumerate(tqdm(files, desc="evaluating", unit="photo")):
        rgb = load_rgb(f)
        outs = colorize_all(rgb_to_gray(rgb), models)
        for name, (out, seconds) in outs.items():
            photos.setdefault(name, []).append(photo_figures(out, rgb) | {"seconds": seconds})
        if i in sample:
            sheet.append([out for out, _ in outs.values()] + [rgb])
    others = [i for i, f in enumerate(files) if not is_imagenet(f)]
    results = {}
    for name, figures in photos.items():
        results[name] = set_figures(figures)
        if 0 < len(others) < len(files):  # a subset that differs from the whole and is not empty
            results[name][SUBSET] = set_figures([figures[i] for i in others])
    return results, sheet


def stamp(model: colorizer.Model, results: dict, data: str) -> None:
    """Store results[model.name] (with its SUBSET figures, if any), the gray baseline and `data` as the file's
    eval_metrics (atomically)."""
    m = onnx.load(str(model.path))
    props = {p.key: p.value for p in m.metadata_props}
    gray = {f"gray_{k}": results["gray"][k] for k in ("psnr", "de00")}
    props["eval_metrics"] = json.dumps(results[model.name] | gray | {"data": data})
    onnx.helper.set_model_props(m, props)
    atomic_write(model.path, m.SerializeToString())


def markdown(results: dict) -> str:
    """The results as a Markdown table: a row per name, then a row per name for SUBSET if there is one."""
    rows = [
        "| model | PSNR (dB) | ΔE00 | colourfulness | cf_ratio | hue_hit | s/image | n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    subset = [(f"{name} ({SUBSET})", r[SUBSET]) for name, r in results.items() if SUBSET in r]
    for name, r in [*results.items(), *subset]:
        rows.append(
            f"| {name} | {r['psnr']:.2f} | {r['de00']:.2f} | {r['cf']:.1f} | {r['cf_ratio']:.2f} "
            f"| {r['hue_hit']:.3f} | {r['seconds']:.3f} | {r['n']} |"
        )
    # which hues fail: hue_hit's six shares, by the original's hue angle (0° = +a*, red; 240-300° blue)
    rows += ["", "| hue_hit by true hue | " + " | ".join(f"{60 * k}-{60 * k + 60}°" for k in range(6)) + " |"]
    rows.append("|---" * 7 + "|")
    for name, r in [*results.items(), *subset]:
        shares = ("-" if v is None else f"{v:.3f}" for v in r["hue_hit_sectors"])
        rows.append(f"| {name} | " + " | ".join(shares) + " |")
    return "\n".join(rows) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, help="folder of colour photos, or a list file")
    ap.add_argument("--root", type=Path, help="folder that relative paths in a list file are relative to")
    ap.add_argument("--models", nargs="+", default=["cnn", "gan"], help="shipped names or .onnx paths")
    ap.add_argument("--limit", type=int, help="evaluate N evenly spaced photos")
    ap.add_argument("--out", type=Path, default=Path("eval_out"), help="folder for results.md/json, sheet.png")
    ap.add_argument("--stamp", action="store_true", help="write the figures into each model's metadata")
    args = ap.parse_args()
    files = evenly_spaced(read_list(args.data, args.root), args.limit)
    models = [colorizer.load(m) for m in args.models]
    results, sheet = evaluate(files, models)
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown(results)
    (args.out / "results.md").write_text(table)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    image_sheet(sheet, args.out / "sheet.png", SHEET_HEIGHT)
    if args.stamp:
        for m in models:
            stamp(m, results, f"{args.data.name}: {len(files)} photos, full resolution")
            refresh_manifest(m.path)  # a shipped model's file changed: the manifest must follow
    print(table + f"\nwritten to {args.out}/ (results.md, results.json, sheet.png)")


if __name__ == "__main__":
    main()
