"""Export a checkpoint of python -m train.restore (or of python -m train.restore.crack) to a self-contained
restorer/1 ONNX model, then verify it.

    python -m export.restorer CHECKPOINT -o onnx_models/restore.onnx [--max-mb 10] [--weights float32|float16]
                              [--tile-size PX] [--tile-overlap PX] [--work-size PX] [--flips 1|2|4]
                              [--threshold P] [--grow PX] [--sigma PX]

The shipped restorer, from the soup of train/configs/restore_wide8_f.toml:
    python -m export.restorer ~/runs/wide8_soup/last.pt -o onnx_models/restore.onnx --flips 2
The shipped crack filler, from a checkpoint of python -m train.restore.crack (known by its kind):
    python -m export.restorer ~/runs/crack_b/last.pt --threshold 0.7 -o onnx_models/cracks.onnx

Rebuilds the network from the checkpoint's arch and arguments (EMA weights), exports it with dynamic N, H, W
(input `gray` [N,1,H,W], output `restored`; H and W multiples of size_multiple, so of 32), stamps the
metadata (contract, task, tiling, working resolution, flips, training provenance) and runs the ONNX checker.
The tiling, the working resolution and the flips are the run's config values unless the flags override them
(they are the library's settings, chosen after training; the network does not depend on them).
A crack detector checkpoint is exported as train.restore.crack_model.CrackFill (detector and fill, same contract):
--threshold (the probability above which a pixel is filled), --grow (px the mask is grown by) and --sigma (px, the
fill's Gaussian) are stamped under `fill`; its tiling and working size default to CRACK_TILING.
--weights float32 (the default: the file is small either way, and the parity is exact) or float16
(conv weights stored as float16 behind a Cast that ONNX Runtime folds when the session starts, as python -m
export does for the colorizers). Then ONNX Runtime is compared with PyTorch on damaged and clean luminance of
real photos (scikit-image samples) at two sizes: against the same network with the stored weights (must agree
within PARITY_TOL) and, for the record, against the float32 checkpoint. Fails (exit 1, no file left) on a parity
failure or when the file exceeds --max-mb. Writing into onnx_models/ rewrites its MANIFEST.json.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data as skdata
from torch import nn

from colorizer.color import rgb_to_gray
from colorizer.restore import RESTORER_CONTRACT
from export.onnx_file import export_parser, keep_or_remove, max_differences, round_to_float16, write_onnx
from train.checkpoint import load_checkpoint
from train.predict import torch_predict
from train.restore.crack_model import SIZE_MULTIPLE as CRACK_SIZE_MULTIPLE
from train.restore.crack_model import CrackFill, crack_detector
from train.restore.degrade import Damage, apply_damage
from train.restore.model import restorer_from_checkpoint

CRACK_TASK = ("fill the cracks, scratches and dust a detector finds in a damaged print's 8-bit luminance from the "
              "pixels around them; for prints the user says are cracked, before the restorer")  # fmt: skip
CRACK_TILING = {"tile_size": 1024, "tile_overlap": 64, "work_size": 1024, "flips": 1}  # as the restorer's
PARITY_TOL = 0.5 / 255  # max |restored_onnx - restored_torch|: half an 8-bit level
TASK = ("restore local damage (noise, film grain, blur, JPEG, dust, scratches) of a photo's 8-bit luminance; "
        "global tone (fading, contrast, casts) is left as it is")  # fmt: skip


def metadata(ck: dict) -> dict[str, str]:
    """The contract's metadata_props, all strings, from a checkpoint of a restorer (a python -m train.soup average
    adds `soup`: the checkpoints averaged, each one's step, seconds and weight) or of a crack detector (`fill`: its
    threshold, grow and sigma; `train_cpu_seconds`)."""
    c, crack = ck["config"], ck["kind"] == "crack_detector"
    common = {
        "contract": RESTORER_CONTRACT,
        "task": CRACK_TASK if crack else TASK,
        "arch": ck["arch"],
        "arch_args": json.dumps(ck["arch_args"]),
        "size_multiple": str(ck["size_multiple"]),
        "tile_size": str(c["tile_size"]),
        "tile_overlap": str(c["tile_overlap"]),
        "work_size": str(c["work_size"]),
        "flips": str(c.get("flips", 1)),
        "train_data": ck["train_data"],
        "train_steps": str(ck["step"]),
        "train_seconds": f"{ck['seconds']:.0f}",
        "git_commit": ck["git_commit"],
        "train_config": json.dumps(c),
        "version": f"{'cracks' if crack else 'restorer'}-{datetime.date.today():%Y%m%d}-step{ck['step']}",
    }
    if crack:
        return common | {"context": "local", "fill": json.dumps(ck["fill"]), "val_metrics": "{}",
                         "train_cpu_seconds": f"{ck['cpu_seconds']:.0f}"}  # fmt: skip
    restorer = {
        "context": "global" if ck["arch_args"].get("global_context") else "local",
        "val_metrics": json.dumps({k: v for k, v in (ck.get("val_metrics") or {}).items() if k != "groups"}),
    }
    return common | restorer | ({"soup": json.dumps(ck["soup"])} if ck.get("soup") else {})


def exportable(ck: dict, float16: bool) -> nn.Module:
    """The network the ONNX file holds, in PyTorch: with float16=True its conv weights rounded to float16."""
    if ck["kind"] == "crack_detector":
        net = CrackFill(crack_detector(ck), **ck["fill"]).eval()
    else:
        net = restorer_from_checkpoint(ck)
    return round_to_float16(net) if float16 else net


def export(ck: dict, out: Path, float16: bool = False) -> None:
    """Write the ONNX file for a checkpoint (single file, dynamic N/H/W, metadata stamped, checked):
    gray float32 [N,1,H,W] 0..1 -> restored, the same."""
    net = exportable(ck, float16=False)
    m, dim = ck["size_multiple"], torch.export.Dim
    # H = m * h_blocks keeps H symbolic and tells the exporter it is a multiple of m
    shapes = {"gray": {0: dim("N", max=64), 2: m * dim("h_blocks", max=2048), 3: m * dim("w_blocks", max=2048)}}
    write_onnx(net, {"gray": torch.rand(1, 1, 4 * m, 6 * m)}, "restored", shapes, out, metadata(ck), float16)


def parity_inputs() -> list[tuple[np.ndarray]]:
    """Gray float32 [1,1,H,W] 0..1 test inputs, each as a 1-tuple (the file's one input): three real photos'
    luminance, clean and damaged, at 256x256 and 224x320 (multiples of 32)."""
    inputs = []
    for k, image in enumerate((skdata.camera(), skdata.astronaut(), skdata.coffee())):
        gray = image if image.ndim == 2 else rgb_to_gray(image)
        for w, h in ((256, 256), (320, 224)):
            small = np.asarray(Image.fromarray(gray).resize((w, h), Image.Resampling.LANCZOS))
            damage = Damage(noise=10, dust=2000, scratches=3, jpeg=50)
            for g in (small, apply_damage(small, damage, np.random.default_rng(k))):
                inputs.append((g.astype(np.float32)[None, None] / 255.0,))
    return inputs


def parity(ck: dict, out: Path, float16: bool = False) -> tuple[float, float]:
    """Largest |restored| difference between ONNX Runtime and PyTorch (0..1 units) on parity_inputs(): against
    the exported network (float16-rounded weights where the file stores them) and against the checkpoint's float32
    network (what float16 storage costs)."""
    nets = [torch_predict(exportable(ck, float16)), torch_predict(exportable(ck, float16=False))]
    worst = max_differences(out, nets, parity_inputs())
    return worst[0], worst[1]


def main() -> None:
    ap = export_parser(__doc__, "python -m train.restore or train.restore.crack", "float32")
    ap.add_argument("--tile-size", type=int, help="tile side in px, a multiple of 32 (default: the run's config)")
    ap.add_argument("--tile-overlap", type=int, help="minimum overlap of neighbouring tiles in px")
    ap.add_argument("--work-size", type=int, help="long side above which a shrunk copy is restored (0 = never)")
    ap.add_argument("--flips", type=int, choices=(1, 2, 4), help="mirror images the library averages the network over")
    ap.add_argument("--threshold", type=float, default=0.7, help="crack filler: fill above this probability (0.7)")
    ap.add_argument("--grow", type=int, default=1, help="crack filler: grow the mask by this many px (1)")
    ap.add_argument("--sigma", type=float, default=2.0, help="crack filler: the fill's Gaussian sigma in px (2)")
    args = ap.parse_args()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    ck = load_checkpoint(args.checkpoint)
    if ck.get("kind") == "crack_detector":  # its settings are the library's: the exporter's defaults
        ck |= {"size_multiple": CRACK_SIZE_MULTIPLE, "fill": {"threshold": args.threshold, "grow": args.grow,
                                                              "sigma": args.sigma}}  # fmt: skip
        ck["config"] = ck["config"] | CRACK_TILING
    elif ck.get("kind") != "restorer":
        sys.exit(f"{args.checkpoint} is not a checkpoint of python -m train.restore or train.restore.crack "
                 f"(kind {ck.get('kind')!r})")  # fmt: skip
    settings = ("tile_size", "tile_overlap", "work_size", "flips")
    chosen = {k: getattr(args, k) for k in settings if getattr(args, k) is not None}
    ck["config"] = ck["config"] | chosen
    float16 = args.weights == "float16"
    export(ck, out, float16)
    mb = out.stat().st_size / 2**20
    diff, vs_float32 = parity(ck, out, float16)
    print(
        f"{out}: {mb:.2f} MB ({args.weights} weights), {ck['arch']} step {ck['step']}, max |restored| ONNX vs "
        f"torch {diff * 255:.2e} levels (vs the float32 checkpoint {vs_float32 * 255:.2e})"
    )
    failure = f"ONNX Runtime differs from PyTorch by {diff * 255:.3g} levels (tolerance 0.5)"
    keep_or_remove(out, mb, args.max_mb, failure if diff > PARITY_TOL else None)


if __name__ == "__main__":
    main()
