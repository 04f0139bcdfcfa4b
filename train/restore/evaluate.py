"""Measure a restorer on damaged copies of validation photos, and show it on real old prints.

    python -m train.restore.evaluate CHECKPOINT_OR_ONNX --data DIR_OR_LIST [--root DIR] [--limit N] [--out DIR]
                                     [--work-size N] [--scale K] [--seed S] [--old-photos DIR --sheet PATH]
                                     [--cracks CRACKS_ONNX]

For instance, on the validation split the colorizers use:
    python -m train.restore.evaluate onnx_models/restore.onnx --data train/val_split.txt --root ../shared/data/photos

Each photo's 8-bit luminance gets a fixed damage per group (numpy seed [S, photo index, group index], so the
set is the same on every run): one group per damage kind at the issue's strengths (train.restore.degrade.ISSUE_RANGES),
`dust_dense` (200..1000 spots per megapixel, as on the scanned prints), `mixed` (2 to 4 kinds at once), `cracks`
(2..20 short ragged cracks, the kind of scratches the real print bopbtl_a has; not among the issue's),
`sharpened` (mixed damage on a scan sharpened after it by an unsharp mask, as scans often are; its target is
the photo sharpened alike), and two
undamaged groups the model must leave alone: `clean` and `low_contrast` (the photo faded by
train.restore.degrade.tone; its target is itself). Per group: PSNR and SSIM (scikit-image, peak 255) of the damaged
input and of the restored output against the clean original, averaged over photos; an output identical to its
target counts as PSNR_CAP dB. A .pt checkpoint runs in PyTorch, an .onnx file through the library
(colorizer.Restorer), both through the same tiling code. --scale K enlarges each photo K times first and
scales the damage with it (a scan K times larger); --work-size overrides the model's working resolution
(0 = full resolution), to measure what the working resolution does. Writes OUT/results.md and OUT/results.json
and prints the table. --old-photos DIR --sheet PATH: before/after of the real prints DIR/bopbtl_* (whole
photo, then a 2x crop of its centre) as one PNG, for looking at, not committing; and two figures, since the
prints have no clean original: the share of each print's pixels the restorer changes, and how much of
bopbtl_a's real cracks it removes when they are added to the first 30 photos (real_cracks_removed).
--cracks runs a crack filler before the model, as the library does for a cracked print (restore="cracks").
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import binary_dilation, median_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from tqdm import tqdm

from colorizer.color import gray_to_rgb, rgb_to_gray
from colorizer.imageio import open_image
from colorizer.pipeline import to_gray
from colorizer.restore import Restorer, changed_share, flip_averaged, restore_scaled
from train.checkpoint import load_checkpoint
from train.data import evenly_spaced, load_rgb, read_list
from train.predict import torch_predict
from train.report import image_sheet
from train.restore.degrade import ISSUE_RANGES, KINDS, Damage, apply_damage, draw, mixed_damage, tone
from train.restore.model import restorer_from_checkpoint

GROUPS = ("clean", "low_contrast", *KINDS, "dust_dense", "mixed", "cracks", "sharpened")  # new ones last: pair_rng
DENSE_DUST = (200, 1000)  # spots per megapixel
# short ragged cracks per photo (train.restore.degrade.cracks): not the issue's kind, the real prints' scratches
CRACKS = (2, 20)
SHARPEN = (0.5, 2.0)  # unsharp-mask amount of the `sharpened` group's scans (radius 1 px)
PSNR_CAP = 60.0  # dB given to an output identical to its target (PSNR is infinite there)
Restore = Callable[[np.ndarray], np.ndarray]  # gray uint8 HxW -> restored gray uint8 HxW


def damaged_pair(gray: np.ndarray, group: str, rng: np.random.Generator, scale: float = 1.0) -> tuple:
    """(target, damaged), both gray uint8 HxW, for one evaluation group (module docstring)."""
    if group == "clean":
        return gray, gray
    if group == "low_contrast":
        faded = tone(gray, rng)
        return faded, faded
    if group == "sharpened":  # the scan sharpened after its damage, and so the target too
        damage = replace(mixed_damage(rng), sharpen=rng.uniform(*SHARPEN), scale=scale)
        return apply_damage(gray, Damage(sharpen=damage.sharpen, scale=scale), rng), apply_damage(gray, damage, rng)
    if group == "mixed":
        damage = mixed_damage(rng)
    elif group == "dust_dense":
        damage = Damage(dust=draw("dust", rng, {"dust": DENSE_DUST}))
    elif group == "cracks":
        damage = Damage(cracks=draw("cracks", rng, {"cracks": CRACKS}))
    else:
        damage = Damage(**{group: draw(group, rng, ISSUE_RANGES)})
    return gray, apply_damage(gray, replace(damage, scale=scale), rng)


def pair_rng(seed: int, photo: int, group: str) -> np.random.Generator:
    """The fixed random stream of one photo's damage in one group (seeded by the group's index in GROUPS: a new
    group goes at the end, so that the others keep their damaged sets and old figures stay comparable)."""
    return np.random.default_rng([seed, photo, GROUPS.index(group)])


def capped_psnr(out: np.ndarray, target: np.ndarray) -> float:
    """PSNR (dB, peak 255) of two gray uint8 arrays, PSNR_CAP where they are identical."""
    if np.array_equal(out, target):
        return PSNR_CAP
    return min(PSNR_CAP, float(peak_signal_noise_ratio(target, out, data_range=255)))


def figures(target: np.ndarray, damaged: np.ndarray, restored: np.ndarray) -> dict[str, float]:
    """PSNR and SSIM of the damaged input and of the restored output against the target (gray uint8 HxW)."""
    ssim = lambda a: float(structural_similarity(target, a, data_range=255))  # noqa: E731
    return {
        "psnr_in": capped_psnr(damaged, target),
        "psnr_out": capped_psnr(restored, target),
        "ssim_in": ssim(damaged),
        "ssim_out": ssim(restored),
    }


def summarise(per_group: dict[str, list[dict]]) -> dict[str, dict]:
    """Per group, the mean of each figure over photos, the PSNR gain (out - in) and the photo count n."""
    out = {}
    for group, rows in per_group.items():
        means = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        out[group] = means | {"gain": means["psnr_out"] - means["psnr_in"], "n": len(rows)}
    return out


def evaluate(
    grays: list[np.ndarray], restore: Restore, groups=GROUPS, seed: int = 0, scale: float = 1.0, progress=False
) -> dict[str, dict]:
    """summarise() of every group over gray uint8 photos restored by `restore` (damage made on the fly)."""
    per_group: dict[str, list[dict]] = {g: [] for g in groups}
    for i, gray in enumerate(tqdm(grays, desc="evaluating", unit="photo", disable=not progress)):
        if scale != 1:
            size = (round(gray.shape[1] * scale), round(gray.shape[0] * scale))
            gray = np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.LANCZOS))
        for g in groups:
            target, damaged = damaged_pair(gray, g, pair_rng(seed, i, g), scale)
            per_group[g].append(figures(target, damaged, restore(damaged)))
    return summarise(per_group)


def markdown(results: dict[str, dict]) -> str:
    """The results as a Markdown table, a row per group."""
    rows = [
        "| group | PSNR in (dB) | PSNR out (dB) | gain (dB) | SSIM in | SSIM out | n |",
        "|---|---|---|---|---|---|---|",
    ]
    for g, r in results.items():
        rows.append(
            f"| {g} | {r['psnr_in']:.2f} | {r['psnr_out']:.2f} | {r['gain']:+.2f} | {r['ssim_in']:.4f} "
            f"| {r['ssim_out']:.4f} | {r['n']} |"
        )
    return "\n".join(rows) + "\n"


def load_restore(path: Path, work_size: int | None) -> tuple[Restore, dict]:
    """A restore function for a .pt checkpoint (PyTorch) or a restorer/1 .onnx file (the library), and a
    description of the model for the JSON."""
    if path.suffix == ".onnx":
        model = Restorer(path)
        return (lambda g: model.restore(g, work_size)), {"model": str(path), "meta_version": model.meta.get("version")}
    ck = load_checkpoint(path)
    net, c = restorer_from_checkpoint(ck), ck["config"]
    size = c["work_size"] if work_size is None else work_size
    context = ck["arch_args"].get("global_context", False)
    predict = flip_averaged(torch_predict(net), c.get("flips", 1))
    args = (predict, c["tile_size"], c["tile_overlap"], ck["size_multiple"], size, context)
    return (lambda g: restore_scaled(g, *args)), {"model": str(path), "step": ck["step"]}


def old_photo_sheet(folder: Path, restore: Restore, out: Path, height: int = 360) -> dict[str, dict]:
    """Before / after of each DIR/bopbtl_* print: the whole photo, then its centre at 2x (PNG, rows of 4). Returns,
    per print, the share (%) of its pixels the restorer changes at all and by more than 2 levels: the prints have
    no clean original, and a restorer that leaves one untouched shows it here before anyone looks at the sheet."""
    rows, changed = [], {}
    for f in sorted(folder.glob("bopbtl_*")):
        before = to_gray(open_image(f))
        after = restore(before)
        shares = {"changed_pct": changed_share(before, after, 0), "over_2_pct": changed_share(before, after, 2)}
        changed[f.stem] = {k: 100 * v for k, v in shares.items()}
        h, w = before.shape
        y, x, s = h // 2 - h // 6, w // 2 - w // 6, min(h, w) // 3
        crops = [a[y : y + s, x : x + s] for a in (before, after)]
        rows.append([gray_to_rgb(a) for a in (before, after, *crops)])
    image_sheet(rows, out, height)
    return changed


CRACK_PATCH = np.s_[220:360, 380:492]  # rows, columns of bopbtl_a with its worst cracks (140 x 112 px)


def real_cracks_removed(crack_print: Path, grays: list[np.ndarray], restore: Restore) -> float | None:
    """The share (%) of bopbtl_a's real cracks that the restorer removes when they are moved onto clean photos
    (gray uint8 HxW; those smaller than the patch are skipped, None if all are). The cracks: where the patch is
    more than 25 levels above its 9x9 median, grown by a pixel (light core and dark fringe), added to the middle
    of each photo; then the mean |restored - clean| over them is compared with the added one. The prints have no
    clean original: this is their damage with one."""
    patch = to_gray(open_image(crack_print))[CRACK_PATCH].astype(np.float32)
    layer = patch - median_filter(patch, 9)
    where = binary_dilation(layer > 25)
    layer = np.where(where, layer, 0)
    removed = []
    for gray in (g for g in grays if g.shape[0] >= layer.shape[0] and g.shape[1] >= layer.shape[1]):
        y, x = (gray.shape[0] - layer.shape[0]) // 2, (gray.shape[1] - layer.shape[1]) // 2
        box = np.s_[y : y + layer.shape[0], x : x + layer.shape[1]]
        damaged = gray.astype(np.float32)
        damaged[box] += layer
        damaged = np.clip(np.rint(damaged), 0, 255).astype(np.uint8)
        clean, before, after = (a[box][where].astype(np.float32) for a in (gray, damaged, restore(damaged)))
        removed.append(1 - np.abs(after - clean).mean() / np.abs(before - clean).mean())
    return 100 * float(np.mean(removed)) if removed else None


def old_print_figures(folder: Path, sheet: Path, grays: list[np.ndarray], restore: Restore) -> dict:
    """The real prints' sheet (old_photo_sheet) and figures (the share changed, real_cracks_removed on the first 30
    of grays), printed and returned for the JSON."""
    changed = old_photo_sheet(folder, restore, sheet)
    for name, c in changed.items():
        print(f"{name}: {c['changed_pct']:.1f} % of pixels changed, {c['over_2_pct']:.2f} % by more than 2 levels")
    crack_print = folder / "bopbtl_a.jpg"
    removed = real_cracks_removed(crack_print, grays[:30], restore) if crack_print.exists() else None
    print("bopbtl_a's real cracks moved onto clean photos: " + ("-" if removed is None else f"{removed:.1f} % removed"))
    return {"old_prints": changed, "real_cracks_removed_pct": removed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path, help="a checkpoint of python -m train.restore (.pt) or a restorer .onnx")
    ap.add_argument("--data", required=True, type=Path, help="folder of photos, or a list file")
    ap.add_argument("--root", type=Path, help="folder that relative paths in a list file are relative to")
    ap.add_argument("--limit", type=int, help="evaluate N evenly spaced photos")
    ap.add_argument("--out", type=Path, default=Path("restore_eval_out"), help="folder for results.md/json")
    ap.add_argument("--work-size", type=int, help="override the working resolution (0 = full resolution)")
    ap.add_argument("--scale", type=float, default=1.0, help="enlarge photos and damage K times first")
    ap.add_argument("--seed", type=int, default=0, help="seed of the fixed damaged set")
    ap.add_argument("--old-photos", type=Path, help="folder with the real prints bopbtl_*")
    ap.add_argument("--sheet", type=Path, help="where to write the old prints' before/after sheet (PNG)")
    ap.add_argument("--cracks", type=Path, help="a crack filler .onnx (onnx_models/cracks.onnx) run before the model")
    args = ap.parse_args()
    files = evenly_spaced(read_list(args.data, args.root), args.limit)
    restore, about = load_restore(args.model, args.work_size)
    if args.cracks:  # as the library's restore="cracks" runs them (colorizer.restore.Chain)
        filler, restorer = Restorer(args.cracks), restore
        restore, about["cracks"] = (lambda g: restorer(filler.restore(g))), str(args.cracks)
    grays = [rgb_to_gray(load_rgb(f)) for f in files]
    t = time.perf_counter()
    results = evaluate(grays, restore, seed=args.seed, scale=args.scale, progress=True)
    seconds = time.perf_counter() - t
    table = markdown(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(table)
    about |= {"data": f"{args.data}: {len(files)} photos", "seed": args.seed, "scale": args.scale,
              "work_size": args.work_size, "seconds": round(seconds, 1)}  # fmt: skip
    report = {"about": about, "groups": results}
    print(table + f"\nwritten to {args.out}/ (results.md, results.json)")
    if args.old_photos and args.sheet:
        report |= old_print_figures(args.old_photos, args.sheet, grays, restore)
        print(f"old prints: {args.sheet}")
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
