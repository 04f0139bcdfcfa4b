"""Colorize black-and-white photos from the command line.

    python -m colorizer INPUT... -o OUTDIR [--model cnn|gan|both] [--render-size N] [--overwrite]
                        [--saturation S] [--brightness B] [--blend T]

Each INPUT is a file or a folder (read at its top level; files without an image extension are skipped).
Writes OUTDIR/<input stem>_<model>.png (lossless, sRGB-tagged); with --model both and --blend T also
<stem>_blend.png, the two models' colour mixed from all-CNN (T=0) to all-GAN (T=1), with no extra inference.
--saturation and --brightness adjust every result. Inputs are never written over and existing outputs are
kept unless --overwrite is given. A file that cannot be read is reported in one line and
skipped; the exit status is 1 if any file failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from colorizer.compare import blend_text, compare
from colorizer.imageio import IMAGE_EXTS, ImageError, open_image, save_png, unique_stems
from colorizer.model import load


def collect(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Image files named by INPUT arguments (folders at top level, sorted), and errors for missing paths."""
    files, errors = [], []
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTS)
        elif p.is_file():
            if p.suffix.lower() in IMAGE_EXTS:
                files.append(p)
        else:
            errors.append(f"{arg}: no such file or folder")
    return list(dict.fromkeys(files)), errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    ap.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the results")
    ap.add_argument("--model", default="both", help="cnn, gan, both (default), or a path to a .onnx model")
    ap.add_argument("--render-size", type=int, help="long side in px the model runs at (default: the model's)")
    ap.add_argument("--overwrite", action="store_true", help="replace existing outputs (never inputs)")
    ap.add_argument("--saturation", type=float, default=1.0, help="colour boost, 1 = as predicted (0..3)")
    ap.add_argument("--brightness", type=float, default=0.0, help="L* offset, 0 = as is (-30..30)")
    ap.add_argument("--blend", type=float, help="also write <stem>_blend.png: 0 = all CNN .. 1 = all GAN")
    args = ap.parse_args(argv)
    if args.render_size is not None and not 16 <= args.render_size <= 4096:
        ap.error("--render-size must be between 16 and 4096")
    if not 0 <= args.saturation <= 3 or not -30 <= args.brightness <= 30:
        ap.error("--saturation must be in 0..3 and --brightness in -30..30")
    if args.blend is not None and (args.model != "both" or not 0 <= args.blend <= 1):
        ap.error("--blend needs --model both and a value in 0..1")

    files, errors = collect(args.inputs)
    for e in errors:
        print(e, file=sys.stderr)
    models = [load(n) for n in (["cnn", "gan"] if args.model == "both" else [args.model])]
    outdir = Path(args.output)
    outdir.mkdir(parents=True, exist_ok=True)
    protected = {f.resolve() for f in files}
    failed, written = len(errors), 0
    for f, stem in zip(tqdm(files, desc="colorizing", unit="photo"), unique_stems(files)):
        try:
            result = compare(models, open_image(f), args.render_size)
        except ImageError as e:
            tqdm.write(f"skipped {e}", file=sys.stderr)
            failed += 1
            continue
        looks = {m.name: (result.ab[m.name], m.png_text()) for m in models}
        if args.blend is not None:
            looks["blend"] = (result.blend("cnn", "gan", args.blend), blend_text(models, args.blend))
        for name, (ab, text) in looks.items():
            out = outdir / f"{stem}_{name}.png"
            if out.resolve() in protected:
                tqdm.write(f"not written: {out} is one of the inputs", file=sys.stderr)
                failed += 1
                continue
            try:
                rgb = result.photo.render(ab, args.saturation, args.brightness)
                save_png(out, rgb, text, overwrite=args.overwrite)
                written += 1
            except FileExistsError:
                tqdm.write(f"kept existing {out} (use --overwrite to replace it)", file=sys.stderr)
    print(f"{written} image(s) written to {outdir}, {failed} failure(s)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
