"""Benchmark the colorization pipeline stage by stage, with references, on this machine.

    python -m bench [--sizes 512 1024 2048 4096 3000x2000] [--repeat 7] [--json bench_results.json]
    python -m bench --quick            # one size, one repetition, small references (what the tests run)

Prints the median and spread (min-max) in ms of each stage per size, end-to-end times for each model and
for both (decoding and encoding excluded), what 10 colour hints add to a colorizer/2 model's time (paired with
none), the restoration model's time on the photo's luminance (not part of "both": it is optional) and the crack
filler's (run before it on cracked prints only), the pipeline's peak resident memory (a child process without
torch) without restoration, with it, and with the crack filler too, the ONNX Runtime version, provider and
threads, and references timed in this process: (a) our networks under PyTorch eager, (b) the original project's
two networks at the full image size under ONNX Runtime, with the speed-up of ours over (b) for the same 1024x1024
output.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import platform
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

import colorizer
from bench import measure
from colorizer.imageio import png_bytes
from colorizer.merge import table
from colorizer.pipeline import Photo
from colorizer.session import MODEL_DIR, session_options
from train.colorize.metrics import protocol_hints  # torch-free: the stages run without torch loaded

TARGET_BOTH_MS = {512: 50, 2048: 150, 4096: 600}  # square side -> both models end to end
TARGET_PEAK_MB = {2048: 800, 4096: 2048, 10000: 4096}
TARGET_MERGE_MS = {2048: 30}
TARGET_SPEEDUP = 50.0  # ours (both) vs the original project's two networks, 1024x1024
TARGET_RESTORE_MS = {2048: 1000}  # square side -> the restoration model on the luminance
TARGET_RESTORE_EXTRA_MB = {2048: 500}  # peak memory with restoration minus without
HINTS = 10  # colour hints timed against none, for a colorizer/2 model
TARGET_HINTS_EXTRA = 0.05  # what they may add, as a share of that model's end-to-end time


def test_photo(height: int, width: int) -> np.ndarray:
    """A realistic RGB uint8 photo of the given size: scikit-image's astronaut, resized, plus fine grain."""
    from skimage import data  # a dev dependency, needed only here

    base = np.asarray(Image.fromarray(data.astronaut()).resize((width, height), Image.Resampling.BILINEAR))
    grain = np.random.default_rng(0).integers(-6, 7, (height, width, 1), dtype=np.int16)
    return np.clip(base + grain, 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray) -> bytes:
    """RGB uint8 HxWx3 -> JPEG bytes (quality 90), the usual form of an upload."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def stages(
    models: list[colorizer.Model],
    restorer: colorizer.Restorer | None,
    image: np.ndarray,
    repeat: int,
    filler: colorizer.Restorer | None = None,
) -> dict[str, dict | None]:
    """Per-stage and end-to-end timings (ms) for one RGB photo; restoration None without a restorer, the crack
    filler's (run before the restorer on a cracked print only) None without one."""
    t = measure.timeit
    data, photo, m0 = jpeg(image), Photo.from_image(image), models[0]
    ab = {m.name: m.predict_photo(photo) for m in models}
    out = photo.render(ab[m0.name])
    r = {
        "decode": t(lambda: colorizer.open_image(data), repeat),
        "luminance": t(lambda: Photo.from_image(image), repeat),
        "resize to render": t(lambda: Photo(photo.gray).model_input(m0.render_size, m0.size_multiple), repeat),
    }
    for m in models:
        lum = photo.model_input(m.render_size, m.size_multiple)[0]
        r[f"model {m.name}"] = t(lambda m=m, lum=lum: m.predict(lum), repeat)
    r["upsample+merge"] = t(lambda: photo.render(ab[m0.name]), repeat)
    enhanced, plain = (lambda: photo.render(ab[m0.name], 1.3, 5.0)), (lambda: photo.render(ab[m0.name]))
    r["enhancement (extra)"] = measure.extra_time(enhanced, plain, repeat)
    r["restoration"] = None if restorer is None else t(lambda: restorer.restore(photo.gray), repeat)
    r["crack filler (cracked prints, extra)"] = (
        None if filler is None else t(lambda: filler.restore(photo.gray), repeat)
    )
    r["encode png"] = t(lambda: png_bytes(out), repeat)
    r["numpy copy of the result"] = t(out.copy, repeat)
    for m in models:
        r[f"end-to-end {m.name}"] = t(lambda m=m: colorizer.compare([m], image).rgb(m.name), repeat)

    def both() -> None:
        c = colorizer.compare(models, image)
        for m in models:
            c.rgb(m.name)

    r["end-to-end both"] = t(both, repeat)
    for m in models:  # a model that takes colour hints: what 10 of them add, paired with no hints on this photo
        if m.takes_hints:
            hinted = functools.partial(m.predict_photo, photo, hints=protocol_hints(image, "bench", HINTS))
            plain = functools.partial(m.predict_photo, photo)
            r[f"{HINTS} hints, {m.name} (extra)"] = measure.extra_time(hinted, plain, repeat)
    return r


def reference_a(models: list[colorizer.Model], size: int, repeat: int) -> dict[str, dict]:
    """(a) our networks (random weights, same architecture) under PyTorch eager at the render size."""
    import torch

    from train.colorize.model import build_colorizer

    torch.set_num_threads(ort.SessionOptions().intra_op_num_threads or measure.threads())
    out = {}
    for m in models:
        net = build_colorizer(m.meta["arch"], json.loads(m.meta["arch_args"])).eval()
        lum = torch.full((1, 1, size, size), 50.0)
        with torch.no_grad():
            out[f"torch eager {m.name} @{size}"] = measure.timeit(lambda net=net, lum=lum: net(lum), repeat)
    return out


def reference_b(size: int, repeat: int) -> dict[str, dict]:
    """(b) the original project's two networks at the full image size (size x size) under ONNX Runtime."""
    from bench.reference import export_references

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in export_references(Path(tmp)).items():
            sess = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
            x = np.full((1, 1, size, size), 0.5, np.float32)
            out[f"original {name} @{size}"] = measure.timeit(lambda s=sess, x=x: s.run(None, {"x": x}), repeat)
    return out


def memory_runs(sizes: list[str], restorer: bool, filler: bool) -> dict[str, float]:
    """Peak memory (MiB) of a fresh process per size: both models, then with the restorer first and with the crack
    filler before it too (where they ship)."""
    out = {}
    for text in sizes:
        h, w = measure.parse_size(text)
        out[f"{w}x{h}"] = measure.peak_memory_mb(h, w)
        if restorer:
            out[f"{w}x{h} restored"] = measure.peak_memory_mb(h, w, restore=True)
        if restorer and filler:
            out[f"{w}x{h} cracks filled, restored"] = measure.peak_memory_mb(h, w, restore="cracks")
    return out


def main() -> None:
    """`python -m bench`: measure, print the tables and the targets' verdicts, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["512", "1024", "2048", "4096", "3000x2000"])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--memory-sizes", nargs="*", default=["2048", "4096", "10000"], help="peak-RSS runs")
    ap.add_argument("--reference-size", type=int, default=1024, help="square size for reference (b)")
    ap.add_argument("--quick", action="store_true", help="512 only, one repetition, reference (b) at 256")
    ap.add_argument("--json", type=Path, default=Path("bench_results.json"))
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.repeat, args.memory_sizes, args.reference_size = ["512"], 1, ["512"], 256

    models = [colorizer.load("cnn"), colorizer.load("gan")]
    restorer = colorizer.load_restorer() if (MODEL_DIR / "restore.onnx").is_file() else None
    filler = colorizer.load_restorer("cracks") if (MODEL_DIR / "cracks.onnx").is_file() else None
    table()  # the merge's lookup table is built once per process; not part of any photo's time
    env = {
        "onnxruntime": ort.__version__,
        "provider": models[0].provider,
        "threads": measure.threads(),
        "cpu": platform.processor() or platform.machine(),
        "render_size": {m.name: m.render_size for m in models},
    }
    results: dict = {"env": env, "sizes": {}, "memory_mb": {}, "references": {}}
    for text in args.sizes:
        h, w = measure.parse_size(text)
        results["sizes"][f"{w}x{h}"] = stages(models, restorer, test_photo(h, w), args.repeat, filler)
        print(measure.stage_table(f"{w}x{h}", results["sizes"][f"{w}x{h}"]), flush=True)
    results["memory_mb"] = memory_runs(args.memory_sizes, restorer is not None, filler is not None)
    ref = args.reference_size
    size = models[0].render_size
    refs = reference_a(models, size, args.repeat) | reference_b(ref, args.repeat)
    results["references"] = refs
    targets = (TARGET_BOTH_MS, TARGET_PEAK_MB, TARGET_MERGE_MS, TARGET_SPEEDUP)
    results["summary"] = measure.summary(results, ref, *targets, TARGET_RESTORE_MS, TARGET_RESTORE_EXTRA_MB)
    results["summary"] |= measure.hints_summary(results, HINTS, TARGET_HINTS_EXTRA)
    print(measure.report(results))
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
