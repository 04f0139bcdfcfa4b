"""Colorize black-and-white photos from the command line.

    python -m colorizer INPUT... -o OUTDIR [--model cnn|gan|both] [--render-size N] [--overwrite]
                        [--saturation S] [--brightness B] [--auto-contrast] [--blend T]
                        [--restore] [--cracks] [--own-colours] [--hints FILE.json]
                        [--engine local|ray [--address ADDRESS]]

Each INPUT is a file or a folder (read at its top level; files without an image extension are skipped).
Writes OUTDIR/<input stem>_<model>.png (lossless, sRGB-tagged); with --model both and --blend T also
<stem>_blend.png, the two models' colour mixed from all-CNN (T=0) to all-GAN (T=1), with no extra inference.
--saturation, --brightness and --auto-contrast (a capped percentile stretch of L*) adjust every result.
--restore repairs scratches, dust and grain in the luminance with the restoration model before anything else.
--cracks is for a cracked print: the crack filler (onnx_models/cracks.onnx) first fills the cracks, scratches and
dust its detector finds, then the restoration model runs (it implies --restore). Not for clean photos: it also
takes some thin light lines of a picture for cracks.
--own-colours also writes <stem>_own.png for a photo that still carries real colour (a faded colour print, a
colour scan): its own colours restored by white balance, de-fading and auto-contrast, no model; a black-and-white
or toned photo is named with the reason and gets none.
--hints FILE.json steers the colour with colour hints (a colorizer/2 model): a JSON list of
{"x": .., "y": .., "color": "#rrggbb"} (x, y in the photo's full-resolution pixels) for a single input, or an object
mapping file names (as in the folder, without folders) to such lists; a photo the file does not name gets none.
A photo whose hints cannot be used (a bad list or hint, a position outside the photo) is named with the file and the
reason and fails; the others are coloured. A file that cannot be read at all (missing, not JSON, neither a list nor
an object) leaves no photo's hints known, so every photo fails with that reason: coloured without their hints,
they would leave outputs that a run with the file fixed keeps. Saved PNGs say how many hints were used. Existing
outputs of a photo are kept as without hints: give --overwrite after changing its hints.
Inputs are never written over and existing outputs are kept unless --overwrite is given (a photo whose outputs
all exist is not run again). A file that cannot be read is reported in one line and skipped; the exit status is
1 if any file failed.
Every output is written atomically (colorizer.atomic): a run stopped by Ctrl-C (exit status 130) or killed
leaves complete files only, and the next run removes the temporary files it left and does the rest.
--engine ray colours the photos on a Ray cluster (colorizer.archive: requirements-archive.txt; a local Ray
instance on this machine's cores, or the cluster at --address) with the same outputs and exit status, and writes
OUTDIR/results.csv, a row per input.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from colorizer import storage
from colorizer.atomic import remove_stale_temps
from colorizer.batch import ANY, DONE, FAILED, SKIPPED, Job, colorize_photo, job_from_args
from colorizer.imageio import IMAGE_EXTS, unique_stems
from colorizer.manifest import ManifestError
from colorizer.session import ContractError
from colorizer.storage import Folder, is_uri


def collect(inputs: list[str]) -> tuple[list[Path | str], list[str]]:
    """Image files named by INPUT arguments (folders at top level, sorted; a URI's through pyarrow, as URIs), and
    errors for missing paths."""
    files, errors = [], []
    for arg in inputs:
        p = Path(arg)
        if is_uri(arg):
            try:
                files += storage.list_images(arg)
            except FileNotFoundError as e:
                errors.append(str(e))
        elif p.is_dir():
            files += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTS)
        elif p.is_file():
            if p.suffix.lower() in IMAGE_EXTS:
                files.append(p)
        else:
            errors.append(f"{arg}: no such file or folder")
    return list(dict.fromkeys(files)), errors


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked (argparse exits with status 2 on a bad one)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    ap.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the results")
    ap.add_argument("--model", default="both", help="cnn, gan, both (default), or a path to a .onnx model")
    ap.add_argument("--render-size", type=int, help="long side in px the model runs at (default: the model's)")
    ap.add_argument("--overwrite", action="store_true", help="replace existing outputs (never inputs)")
    ap.add_argument("--saturation", type=float, default=1.0, help="colour boost, 1 = as predicted (0..3)")
    ap.add_argument("--brightness", type=float, default=0.0, help="L* offset, 0 = as is (-30..30)")
    ap.add_argument("--auto-contrast", action="store_true", help="stretch the tones (0.5 %% clipped, gain <= 1.5)")
    ap.add_argument("--blend", type=float, help="also write <stem>_blend.png: 0 = all CNN .. 1 = all GAN")
    ap.add_argument("--restore", action="store_true", help="repair scratches, dust and grain first (restore model)")
    ap.add_argument("--cracks", action="store_true", help="a cracked print: fill its cracks first (implies --restore)")
    ap.add_argument("--own-colours", action="store_true", help="also write <stem>_own.png for photos with colour")
    ap.add_argument("--hints", metavar="FILE.json", help="colour hints: a list, or file names -> lists (see above)")
    ap.add_argument("--engine", choices=["local", "ray"], default="local", help="where the photos are coloured")
    ap.add_argument("--address", help="--engine ray: the Ray cluster (default: a local instance)")
    args = ap.parse_args(argv)
    if args.render_size is not None and not 16 <= args.render_size <= 4096:
        ap.error("--render-size must be between 16 and 4096")
    if not 0 <= args.saturation <= 3 or not -30 <= args.brightness <= 30:
        ap.error("--saturation must be in 0..3 and --brightness in -30..30")
    if args.blend is not None and (args.model != "both" or not 0 <= args.blend <= 1):
        ap.error("--blend needs --model both and a value in 0..1")
    if args.address and args.engine != "ray":
        ap.error("--address needs --engine ray")
    if args.engine != "ray" and any(map(is_uri, [*args.inputs, args.output])):
        ap.error("inputs or outputs given by URI (scheme://...) need --engine ray")
    if args.hints:  # absolute: the Ray engine's actors read it from another working folder
        args.hints = str(Path(args.hints).absolute())
    return args


def hint_problems(job: Job, files: list[Path | str]) -> tuple[str, list[str]]:
    """What is wrong with the hints file for the whole run: (an error that stops it, "" if none: one list of hints for
    several photos; warnings: names that match no input, as a typo leaves a photo without its hints)."""
    if job.hints is None or job.hints.error:  # a file that cannot be read fails every photo (colorize_photo)
        return "", []
    if ANY in job.hints.hints and len(files) > 1:
        error = f"{job.hints.path} holds one list of hints, for a single input; {len(files)} photos are given"
        return error + ": map each file name to its list", []
    names = {Path(f).name for f in files}
    unknown = [n for n in job.hints.hints if n is not ANY and n not in names]
    return "", [f"{job.hints.path}: no input is named {n!r}" for n in unknown]


def colorize_files(files: list[Path], job: Job, outdir: Folder) -> tuple[int, int, int]:
    """Write every file's outputs to `outdir` (colorizer.batch); returns the counts of outputs written and kept,
    and of photos that failed or were skipped."""
    inputs = {str(f.resolve()) for f in files}
    written = kept = failed = 0
    with tqdm(total=len(files), desc="colorizing", unit="photo") as bar:
        for f, stem in zip(files, unique_stems(files)):
            bar.update(1)
            out = colorize_photo(job, f, str(f), stem, outdir, inputs)
            failure = {FAILED: [f"skipped {out.error}"], SKIPPED: [out.error]}.get(out.status, [])
            for line in out.notes + failure:
                tqdm.write(line, file=sys.stderr)
            written, kept = written + len(out.written), kept + len(out.kept)
            failed += out.status != DONE
    return written, kept, failed


def on_ray(files: list[Path | str], args: argparse.Namespace, job: Job, outdir: Folder, errors: int) -> int:
    """The Ray engine (colorizer.archive): the summary line and the CLI's exit status."""
    from colorizer import archive  # imports Ray: only for this engine

    counts, rate = archive.run(files, args, job, outdir)
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    print(f"{summary}, {rate:.2f} photos/s; results in {outdir.path(archive.TABLE)}", file=sys.stderr)
    return 1 if errors or counts[FAILED] or counts[SKIPPED] else 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit status (0 ok, 1 a file failed, 2 unusable model or restorer, 130 interrupted)."""
    args = parse_args(argv)
    outdir = Folder(args.output)
    try:
        files, errors = collect(args.inputs)
        for e in errors:
            print(e, file=sys.stderr)
        try:
            job = job_from_args(args)
        except (ManifestError, ContractError, FileNotFoundError) as e:
            print(e, file=sys.stderr)
            return 2
        error, warnings = hint_problems(job, files)
        for line in [*warnings, error] if error else warnings:
            print(line, file=sys.stderr)
        if error:
            return 2
        outdir.make()
        if outdir.local and (stale := remove_stale_temps(outdir.where)):
            print(f"removed {len(stale)} temporary file(s) left in {outdir} by a stopped run", file=sys.stderr)
        if args.engine == "ray":
            return on_ray(files, args, job, outdir, len(errors))
        start = time.perf_counter()
        written, kept, failed = colorize_files(files, job, outdir)
        rate = len(files) / max(time.perf_counter() - start, 1e-9)
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback; every file under a final name is complete
        print(f"interrupted: the outputs in {outdir} are complete; run again to do the rest", file=sys.stderr)
        return 130
    if kept:
        print(f"kept existing outputs: {kept} (use --overwrite to replace them)", file=sys.stderr)
    failed += len(errors)
    print(f"{written} image(s) written to {outdir}, {failed} failure(s), {rate:.2f} photos/s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
