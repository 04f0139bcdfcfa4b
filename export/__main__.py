"""Export a training checkpoint to a self-contained colorizer/1 ONNX model, then verify it.

    python -m export CHECKPOINT -o onnx_models/NAME.onnx [--max-mb 10]
                     [--temperature T] [--prior-correction BETA] [--chroma-gain G]
                     [--shadow-fade S] [--highlight-fade H]

Rebuilds the network from the checkpoint's own arch and arguments (EMA weights where the run kept them),
exports with dynamic N, H, W, stamps the metadata, runs the ONNX checker, and compares ONNX Runtime with
PyTorch on the luminance of real photos (scikit-image samples) at two render sizes. Fails (exit 1, no file left)
when the largest ab difference exceeds PARITY_TOL or the file exceeds --max-mb. A classification CNN's
decoding is folded into its head (train.models.ColorCNN.fold_decoding); the decoding flags override
its arch_args (no retraining; see ColorCNN), and the values used are part of the exported arch_args.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from skimage import data as skdata

from colorizer.model import CONTRACT
from colorizer.pipeline import Photo
from train.checkpoint import colorizer_from_checkpoint, load_checkpoint
from train.models import DECODING, decoding_flag
from train.predict import torch_predict

PARITY_TOL = 0.05  # max |ab_onnx - ab_torch| in Lab units; a just-visible colour difference is about 1
OPSET = 18


def metadata(ck: dict) -> dict[str, str]:
    """The contract's metadata_props, all strings, from a checkpoint."""
    step = ck["best"]["step"] if ck.get("best") else ck["step"]
    return {
        "contract": CONTRACT,
        "kind": ck["kind"],
        "arch": ck["arch"],
        "arch_args": json.dumps(ck["arch_args"]),
        "render_size": str(ck["render_size"]),
        "size_multiple": str(ck["size_multiple"]),
        "train_data": ck["train_data"],
        "train_steps": str(ck["step"]),
        "train_seconds": f"{ck['seconds']:.0f}",
        "git_commit": ck["git_commit"],
        "val_metrics": json.dumps(ck.get("val_metrics") or {}),
        "train_config": json.dumps(ck["config"]),
        "version": f"{ck['kind']}-{datetime.date.today():%Y%m%d}-step{step}",
    }


def export(ck: dict, out: Path) -> None:
    """Write the ONNX file for a checkpoint (single file, dynamic N/H/W, metadata stamped)."""
    net = colorizer_from_checkpoint(ck)
    if hasattr(net, "fold_decoding"):
        net.fold_decoding()  # parity() compares with the unfolded network
    m = ck["size_multiple"]
    dim = torch.export.Dim
    # H and W are multiples of the size multiple: H = m * h_blocks, expressed so the exporter keeps them symbolic.
    shapes = {"lum": {0: dim("N", max=64), 2: m * dim("h_blocks", max=1024), 3: m * dim("w_blocks", max=1024)}}
    example = torch.full((1, 1, 4 * m, 6 * m), 50.0)
    prog = torch.onnx.export(
        net,
        (example,),
        input_names=["L"],
        output_names=["ab"],
        dynamic_shapes=shapes,
        opset_version=OPSET,
        dynamo=True,
        external_data=False,
    )
    prog.save(str(out), external_data=False)
    model = onnx.load(str(out))
    for value in (model.graph.input[0], model.graph.output[0]):  # readable names: L [N,1,H,W], ab [N,2,H,W]
        for i, name in ((0, "N"), (2, "H"), (3, "W")):
            value.type.tensor_type.shape.dim[i].dim_param = name
    onnx.helper.set_model_props(model, metadata(ck))
    onnx.save(model, str(out))
    onnx.checker.check_model(str(out), full_check=True)


def parity(ck: dict, out: Path) -> float:
    """Largest |ab| difference between ONNX Runtime and PyTorch on real photos at two render sizes."""
    net = colorizer_from_checkpoint(ck)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    worst = 0.0
    for image in (skdata.astronaut(), skdata.coffee(), skdata.camera()):
        photo = Photo.from_image(image)
        for size in (ck["render_size"], ck["render_size"] // 2 + 40):
            lum, _ = photo.model_input(size, ck["size_multiple"])
            ab_onnx = sess.run(["ab"], {"L": lum})[0]
            worst = max(worst, float(np.abs(ab_onnx - torch_predict(net)(lum)).max()))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="a best.pt or last.pt written by python -m train")
    ap.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    ap.add_argument("--max-mb", type=float, default=10.0, help="refuse models larger than this (default 10)")
    for name, text in DECODING.items():
        ap.add_argument(decoding_flag(name), type=float, help=text + " (classification CNN only)")
    args = ap.parse_args()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    ck = load_checkpoint(args.checkpoint)
    chosen = {k: getattr(args, k) for k in DECODING if getattr(args, k) is not None}
    if chosen and not ck["arch_args"].get("classes"):
        sys.exit("the decoding flags apply to a classification CNN only (arch_args classes = true)")
    ck["arch_args"] = ck["arch_args"] | chosen
    export(ck, out)
    mb = out.stat().st_size / 2**20
    diff = parity(ck, out)
    print(f"{out}: {mb:.2f} MB, {ck['kind']} {ck['arch']} step {ck['step']}, max |ab| ONNX vs torch {diff:.2e}")
    problems = []
    if diff > PARITY_TOL:
        problems.append(f"ONNX Runtime differs from PyTorch by {diff:.3g} ab units (tolerance {PARITY_TOL})")
    if mb > args.max_mb:
        problems.append(f"the model is {mb:.2f} MB, over the {args.max_mb} MB limit")
    if problems:
        out.unlink()
        sys.exit(f"export failed, {out} removed: " + "; ".join(problems))


if __name__ == "__main__":
    main()
