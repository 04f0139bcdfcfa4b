"""Measure colorizers on colour photos they never saw, through the same pipeline users get.

    python -m train.colorize.evaluate --data DIR_OR_LIST [--root DIR] [--models NAME_OR_PATH ...] [--limit N]
                                      [--hints 0 1 2 5 10] [--baseline] [--foreign] [--out DIR] [--stamp]

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
--hints K ...: each model also colours every photo with K colour hints (colorizer/2 models), placed by the fixed
protocol of train.colorize.metrics.protocol_hints; those rows ("cnn, 10 hints") also report the median |Δab|
between each hint's colour and the output at the hint (hint_dab). --baseline adds, for every model and K > 0,
the non-learned way to follow hints: the model's automatic colours plus each hint's residual spread by
train.colorize.metrics.spread (rows "cnn + spread, K hints"); it works for colorizer/1 models too.
--foreign measures how far one hint of a colour the photo does not have stays on its thing (colorizer/2 models):
per photo, a hint at the first protocol position with the truth's hue turned 180° (train.colorize.metrics.
foreign_hint), and the mean |Δab| it causes on the surface it lies on and outside it (a table in results.md,
key "foreign" in the JSON: a user recolouring a cup wants the cup changed and the table left alone).
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
from colorizer.color import gray_to_rgb, rgb_to_gray, rgb_to_lab
from colorizer.hints import Hint, check_hints, render_positions
from colorizer.model import refresh_manifest
from colorizer.pipeline import Photo
from train.colorize.metrics import (
    foreign_change,
    foreign_hint,
    hue_hit_sectors,
    photo_figures,
    pool,
    pooled_hue_counts,
    protocol_hints,
    spread,
)
from train.data import evenly_spaced, load_rgb, read_list
from train.report import image_sheet

SHEET_ROWS = 8
SHEET_HEIGHT = 160  # px per sheet row
# File-name prefixes of the ImageNet and ImageNet-detection samples among the photos: a pretrained ImageNet
# encoder may have seen them, so the figures are also reported without them.
IMAGENET_PREFIXES = ("imagenet_", "imagen_")
SUBSET = "non-ImageNet"  # the name of those figures, in the table and the JSON
FOREIGN = "foreign"  # the results' key of the foreign-hint figures (--foreign)


def is_imagenet(path: Path) -> bool:
    """Whether the photo is an ImageNet sample, by its file name."""
    return path.name.startswith(IMAGENET_PREFIXES)


def row_name(name: str, hints: int) -> str:
    """A result row's name: the model's alone without hints, else "cnn, 1 hint", "cnn, 10 hints"."""
    return name if hints == 0 else f"{name}, {hints} hint{'s' if hints > 1 else ''}"


def hint_dab(out: np.ndarray, hints: list[Hint]) -> list[float]:
    """Per hint, |Δab| (Lab units) between its colour's a*b* and the output RGB uint8 HxWx3's at its pixel."""
    h, w = out.shape[:2]
    return [float(np.hypot(*(rgb_to_lab(out[int(y), int(x)][None, None])[0, 0, 1:] - ab)))
            for x, y, ab in check_hints(hints, h, w)]  # fmt: skip


def colorize_all(
    rgb: np.ndarray, name: str, models: list[colorizer.Model], counts: list[int], baseline: bool
) -> dict[str, tuple[np.ndarray, float, list[Hint]]]:
    """Per row name, the output RGB uint8 HxWx3 for the gray of one colour photo (RGB uint8 HxWx3, file name
    `name`), its seconds and the hints it was given: 'gray' (the input), each model with each count of protocol
    hints it takes (0: automatic), and with `baseline` each model's automatic colours plus the spread hints (its
    seconds: the spread and the render; the network run is the model's own row's)."""
    gray = rgb_to_gray(rgb)
    hints = protocol_hints(rgb, name, max(counts))
    photo = Photo.from_image(gray)  # luminance and render-size inputs made once for every model and count
    outs = {"gray": (gray_to_rgb(gray), 0.0, [])}
    for m in models:
        t = time.perf_counter()
        auto = m.predict_photo(photo)  # the automatic colours, also what the baseline spreads from
        outs[m.name] = (photo.render(auto), time.perf_counter() - t, [])
        lum, (h, w) = photo.model_input(m.render_size, m.size_multiple)
        for k in (k for k in counts if k > 0):
            if m.takes_hints:
                t = time.perf_counter()
                out = photo.render(m.predict_photo(photo, hints=hints[:k]))
                outs[row_name(m.name, k)] = (out, time.perf_counter() - t, hints[:k])
            if baseline:
                t = time.perf_counter()
                ab = spread(auto, lum[0, 0, :h, :w], render_positions(hints[:k], *gray.shape, (h, w)))
                outs[row_name(f"{m.name} + spread", k)] = (photo.render(ab), time.perf_counter() - t, hints[:k])
    return outs


def set_figures(photos: list[dict]) -> dict:
    """pool() of per-photo figures (photo_figures plus 'seconds' and 'hint_dab'), with hue_hit's per-sector
    shares, the mean seconds per image and, for rows with hints, the median |Δab| at the hints."""
    sectors = hue_hit_sectors(*pooled_hue_counts(photos))
    figures = pool(photos) | {"hue_hit_sectors": sectors, "seconds": float(np.mean([p["seconds"] for p in photos]))}
    dab = [d for p in photos for d in p["hint_dab"]]
    return figures | ({"hint_dab_median": float(np.median(dab))} if dab else {})


def evaluate(
    files: list[Path],
    models: list[colorizer.Model],
    counts: list[int] = (0,),
    baseline: bool = False,
    foreign: bool = False,
) -> tuple[dict, list[list]]:
    """Figures per row name ('gray', and each model with each count of hints, see colorize_all), with the
    non-ImageNet ones under SUBSET when the photos mix both, and the sheet rows [gray, each model without hints
    and with the most hints..., original]. With `foreign`, results[FOREIGN] too (foreign_changes, pooled)."""
    photos: dict[str, list[dict]] = {}  # per name, each photo's figures: outputs are not kept
    changes: dict[str, list[tuple[float, float]]] = {}  # per hint-taking model, each photo's foreign_change
    sheet = []
    sample = set(evenly_spaced(range(len(files)), SHEET_ROWS))
    shown = ["gray"] + [row_name(m.name, k) for m in models for k in sorted({0, max(counts)})]
    for i, f in enumerate(tqdm(files, desc="evaluating", unit="photo")):
        rgb = load_rgb(f)
        outs = colorize_all(rgb, f.name, models, list(counts), baseline)
        for name, (out, seconds, hints) in outs.items():
            figures = photo_figures(out, rgb) | {"seconds": seconds, "hint_dab": hint_dab(out, hints)}
            photos.setdefault(name, []).append(figures)
        if i in sample:
            sheet.append([outs[name][0] for name in shown if name in outs] + [rgb])
        for name, change in (foreign_changes(rgb, f.name, models, outs) if foreign else {}).items():
            changes.setdefault(name, []).append(change)
    others = [i for i, f in enumerate(files) if not is_imagenet(f)]
    results = {}
    for name, figures in photos.items():
        results[name] = set_figures(figures)
        if 0 < len(others) < len(files):  # a subset that differs from the whole and is not empty
            results[name][SUBSET] = set_figures([figures[i] for i in others])
    if foreign:
        results[FOREIGN] = {name: dict(zip(("on", "outside"), np.mean(v, 0).tolist())) | {"n": len(v)}
                            for name, v in changes.items()}  # fmt: skip
    return results, sheet


def foreign_changes(rgb: np.ndarray, name: str, models: list[colorizer.Model], outs: dict) -> dict[str, tuple]:
    """Per hint-taking model, foreign_change (on its surface, outside it) of the foreign_hint of a colour photo
    RGB uint8 HxWx3 named `name`, against the model's automatic output in `outs` (colorize_all's)."""
    hint, surface = foreign_hint(rgb, name)
    photo = Photo.from_image(rgb_to_gray(rgb))
    return {m.name: foreign_change(outs[m.name][0], photo.render(m.predict_photo(photo, hints=[hint])), surface)
            for m in models if m.takes_hints}  # fmt: skip


def stamp(model: colorizer.Model, results: dict, data: str) -> None:
    """Store results[model.name] (with its SUBSET figures, if any), the gray baseline, the model's rows with hints
    (under "hints", by row name) and `data` as the file's eval_metrics (atomically)."""
    m = onnx.load(str(model.path))
    props = {p.key: p.value for p in m.metadata_props}
    gray = {f"gray_{k}": results["gray"][k] for k in ("psnr", "de00")}
    hinted = {name: r for name, r in results.items() if name.startswith(f"{model.name}, ")}
    props["eval_metrics"] = json.dumps(results[model.name] | gray | {"hints": hinted, "data": data})
    onnx.helper.set_model_props(m, props)
    atomic_write(model.path, m.SerializeToString())


def markdown(results: dict) -> str:
    """The results as Markdown tables: a row per name, then a row per name for SUBSET if there is one; the hue
    sectors; and the foreign-hint figures if there are any."""
    lines = [
        "| model | PSNR (dB) | ΔE00 | colourfulness | cf_ratio | hue_hit | median Δab at hints | s/image | n |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    named = {name: r for name, r in results.items() if name != FOREIGN}
    subset = [(f"{name} ({SUBSET})", r[SUBSET]) for name, r in named.items() if SUBSET in r]
    for name, r in [*named.items(), *subset]:
        dab = f"{r['hint_dab_median']:.2f}" if "hint_dab_median" in r else "-"
        lines.append(
            f"| {name} | {r['psnr']:.2f} | {r['de00']:.2f} | {r['cf']:.1f} | {r['cf_ratio']:.2f} "
            f"| {r['hue_hit']:.3f} | {dab} | {r['seconds']:.3f} | {r['n']} |"
        )
    # which hues fail: hue_hit's six shares, by the original's hue angle (0° = +a*, red; 240-300° blue)
    lines += ["", "| hue_hit by true hue | " + " | ".join(f"{60 * k}-{60 * k + 60}°" for k in range(6)) + " |"]
    lines.append("|---" * 7 + "|")
    for name, r in [*named.items(), *subset]:
        shares = ("-" if v is None else f"{v:.3f}" for v in r["hue_hit_sectors"])
        lines.append(f"| {name} | " + " | ".join(shares) + " |")
    if FOREIGN in results:
        lines += ["", "| one foreign hint | mean Δab on its surface | outside it | n |", "|---|---|---|---|"]
        lines += [f"| {k} | {v['on']:.2f} | {v['outside']:.2f} | {v['n']} |" for k, v in results[FOREIGN].items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, help="folder of colour photos, or a list file")
    ap.add_argument("--root", type=Path, help="folder that relative paths in a list file are relative to")
    ap.add_argument("--models", nargs="+", default=["cnn", "gan"], help="shipped names or .onnx paths")
    ap.add_argument("--limit", type=int, help="evaluate N evenly spaced photos")
    ap.add_argument("--hints", nargs="+", type=int, default=[0], help="counts of protocol hints (0: none)")
    ap.add_argument("--baseline", action="store_true", help="also the non-learned spread of the hints")
    ap.add_argument("--foreign", action="store_true", help="also how far a hint of a foreign colour spreads")
    ap.add_argument("--out", type=Path, default=Path("eval_out"), help="folder for results.md/json, sheet.png")
    ap.add_argument("--stamp", action="store_true", help="write the figures into each model's metadata")
    args = ap.parse_args()
    files = evenly_spaced(read_list(args.data, args.root), args.limit)
    models = [colorizer.load(m) for m in args.models]
    results, sheet = evaluate(files, models, sorted(set(args.hints)), args.baseline, args.foreign)
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
