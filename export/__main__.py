"""Export a training checkpoint to a self-contained colorizer/1 ONNX model (colorizer/2 for a network with a hint
branch), then verify it.

    python -m export CHECKPOINT -o onnx_models/NAME.onnx [--max-mb 10] [--weights float16|float32]
                     [--render-size PX] [--temperature T] [--prior-correction BETA] [--chroma-gain G]
                     [--shadow-fade S] [--highlight-fade H] [--hint-levels K]

Rebuilds the network from the checkpoint's own arch and arguments (EMA weights where the run kept them),
folds the decoding into its head (train.colorize.model.ColorCNN.fold_decoding; the decoding flags override its
arch_args, no retraining, and the values used are part of the exported arch_args; so is --hint-levels, how far
a colour hint may spread: train.colorize.hint_branch.HintBranch) and every BatchNorm into its conv, exports with
dynamic N, H, W, stamps the metadata and runs the ONNX checker. --render-size sets the long side the library
runs the network at (default: the training run's; choose it with python -m train.colorize.tune
--render-size).
--weights float16 (the default, for the shipped files): the conv weights are stored as float16, each behind a
Cast to float32 that ONNX Runtime folds when the session starts, so the file is half the size (a Space takes
files up to 10 MB without LFS) and the arithmetic stays float32.
Then ONNX Runtime is compared with PyTorch on the luminance of real photos (scikit-image samples) at two render
sizes (for colorizer/2, each without hints and with eight): against the same network with its conv weights
rounded to float16 (must agree within PARITY_TOL), and, for the record, against the float32 checkpoint.
Fails (exit 1, no file left) on a parity failure or when the file exceeds --max-mb.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

import numpy as np
import torch
from skimage import data as skdata
from torch import nn

from colorizer.model import CONTRACT, HINTS_CONTRACT
from colorizer.pipeline import Photo
from export.onnx_file import export_parser, keep_or_remove, max_differences, round_to_float16, write_onnx
from train.checkpoint import load_checkpoint
from train.colorize.efficientnet import fold_batchnorms
from train.colorize.model import DECODING, colorizer_from_checkpoint, decoding_flag
from train.predict import torch_predict

PARITY_TOL = 0.05  # max |ab_onnx - ab_torch| in Lab units; a just-visible colour difference is about 1


def metadata(ck: dict) -> dict[str, str]:
    """The contract's metadata_props, all strings, from a checkpoint (its own step names the version: a last.pt
    also carries the best step so far, which is another network)."""
    return {
        "contract": HINTS_CONTRACT if takes_hints(ck) else CONTRACT,
        "kind": ck["kind"],
        "arch": ck["arch"],
        "arch_args": json.dumps(ck["arch_args"]),
        "render_size": str(ck["render_size"]),
        "size_multiple": str(ck["size_multiple"]),
        "train_data": ck["train_data"],
        "train_steps": str(ck["step"]),
        "train_seconds": f"{ck['seconds']:.0f}",
        # CPU seconds over all threads / 3600, this run's and those of the runs it started from (--init-from)
        "train_core_hours": f"{(ck.get('cpu_seconds', 0.0) + ck.get('init_cpu_seconds', 0.0)) / 3600:.2f}",
        "train_threads": str(ck["config"].get("threads", 0)),
        "git_commit": ck["git_commit"],
        "val_metrics": json.dumps(ck.get("val_metrics") or {}),
        "train_config": json.dumps(ck["config"]),
        "version": f"{ck['kind']}-{datetime.date.today():%Y%m%d}-step{ck['step']}",
    }


def takes_hints(ck: dict) -> bool:
    """Whether the checkpoint's network has a hint branch (and exports as colorizer/2)."""
    return bool(ck["arch_args"].get("hint_width"))


def exportable(ck: dict, float16: bool) -> nn.Module:
    """The network an ONNX file holds, in PyTorch: decoding and BatchNorms folded, and with float16=True its
    conv weights rounded to float16 (what store_float16 keeps of them)."""
    net = fold_batchnorms(colorizer_from_checkpoint(ck).fold_decoding())
    return round_to_float16(net) if float16 else net


def export(ck: dict, out: Path, float16: bool = True) -> None:
    """Write the ONNX file for a checkpoint (single file, dynamic N/H/W, metadata stamped):
    L float32 [N,1,H,W] 0..100 (and for colorizer/2 hints float32 [N,3,H,W]) -> ab float32 [N,2,H,W]."""
    net = exportable(ck, float16=False)
    m = ck["size_multiple"]
    dim = torch.export.Dim
    # H and W are multiples of the size multiple: H = m * h_blocks, expressed so the exporter keeps them symbolic.
    dims = {0: dim("N", max=64), 2: m * dim("h_blocks", max=1024), 3: m * dim("w_blocks", max=1024)}
    examples = {"L": torch.full((1, 1, 4 * m, 6 * m), 50.0)}
    shapes = {"lum": dims}
    if takes_hints(ck):
        examples["hints"] = torch.zeros(1, 3, 4 * m, 6 * m)
        shapes["hints"] = dims
    write_onnx(net, examples, "ab", shapes, out, metadata(ck), float16)


def parity_inputs(ck: dict) -> list[tuple[np.ndarray, ...]]:
    """The file's inputs for the parity check: the luminance of three real photos at two render sizes, each
    (L,) for colorizer/1, or (L, no hints) and (L, eight hints of the photo's own colours) for colorizer/2."""
    rng = np.random.default_rng(0)
    inputs = []
    for image in (skdata.astronaut(), skdata.coffee(), skdata.camera()):
        photo = Photo.from_image(image)
        rgb = image if image.ndim == 3 else rng.integers(0, 256, (*image.shape, 3))
        for size in (ck["render_size"], ck["render_size"] // 2 + 40):
            lum = photo.model_input(size, ck["size_multiple"])[0]
            if not takes_hints(ck):
                inputs.append((lum,))
                continue
            ys, xs = rng.integers(0, image.shape[0], 8), rng.integers(0, image.shape[1], 8)
            hints = [(int(x), int(y), tuple(int(c) for c in rgb[y, x])) for x, y in zip(xs, ys)]
            drawn = photo.hint_input(hints, size, ck["size_multiple"])
            inputs += [(lum, np.zeros_like(drawn)), (lum, drawn)]
    return inputs


def parity(ck: dict, out: Path, float16: bool = True) -> tuple[float, float]:
    """Largest |ab| difference between ONNX Runtime and PyTorch on real photos at two render sizes: against
    the exported network (float16-rounded weights where the file stores them) and against the checkpoint's
    float32 network (what float16 storage costs)."""
    nets = (exportable(ck, float16), colorizer_from_checkpoint(ck))
    worst = max_differences(out, [torch_predict(net) for net in nets], parity_inputs(ck))
    return worst[0], worst[1]


def main() -> None:
    ap = export_parser(__doc__, "python -m train", "float16")
    ap.add_argument("--render-size", type=int, help="long side (px) the network runs at (default: the run's)")
    ap.add_argument("--hint-levels", type=int, help="spreads a hint may use, finest first, 1-4 (default: all)")
    for name, text in DECODING.items():
        ap.add_argument(decoding_flag(name), type=float, help=text)
    args = ap.parse_args()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    ck = load_checkpoint(args.checkpoint)
    chosen = {k: getattr(args, k) for k in (*DECODING, "hint_levels") if getattr(args, k) is not None}
    if args.hint_levels is not None and not takes_hints(ck):
        sys.exit("--hint-levels: this checkpoint's network takes no hints")
    ck["arch_args"] = ck["arch_args"] | chosen
    if args.render_size:
        if args.render_size % ck["size_multiple"]:
            sys.exit(f"--render-size {args.render_size} is not a multiple of {ck['size_multiple']}")
        ck["render_size"] = args.render_size
    float16 = args.weights == "float16"
    export(ck, out, float16)
    mb = out.stat().st_size / 2**20
    diff, vs_float32 = parity(ck, out, float16)
    print(
        f"{out}: {mb:.2f} MB ({args.weights} weights), {ck['kind']} {ck['arch']} step {ck['step']}, "
        f"{'colorizer/2 (hints)' if takes_hints(ck) else 'colorizer/1'}, "
        f"max |ab| ONNX vs torch {diff:.2e} (vs the float32 checkpoint {vs_float32:.2e})"
    )
    failure = f"ONNX Runtime differs from PyTorch by {diff:.3g} ab units (tolerance {PARITY_TOL})"
    keep_or_remove(out, mb, args.max_mb, failure if diff > PARITY_TOL else None)


if __name__ == "__main__":
    main()
