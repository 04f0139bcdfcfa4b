"""Export a training checkpoint to a self-contained colorizer/1 ONNX model, then verify it.

    python -m export CHECKPOINT -o onnx_models/NAME.onnx [--max-mb 10] [--weights float16|float32]
                     [--render-size PX] [--temperature T] [--prior-correction BETA] [--chroma-gain G]
                     [--shadow-fade S] [--highlight-fade H]

Rebuilds the network from the checkpoint's own arch and arguments (EMA weights where the run kept them),
folds the decoding into its head (train.models.ColorCNN.fold_decoding; the decoding flags override its
arch_args, no retraining, and the values used are part of the exported arch_args) and every BatchNorm into its
conv, exports with dynamic N, H, W, stamps the metadata and runs the ONNX checker. --render-size sets the long
side the library runs the network at (default: the training run's; choose it with train.tune --render-size).
--weights float16 (the default, for the shipped files): the conv weights are stored as float16, each behind a
Cast to float32 that ONNX Runtime folds when the session starts, so the file is half the size (a Space takes
files up to 10 MB without LFS) and the arithmetic stays float32. Make an int8 copy (export.quantize) from a
--weights float32 export.
Then ONNX Runtime is compared with PyTorch on the luminance of real photos (scikit-image samples) at two render
sizes: against the same network with its conv weights rounded to float16 (must agree within PARITY_TOL), and,
for the record, against the float32 checkpoint. Fails (exit 1, no file left) on a parity failure or when the
file exceeds --max-mb.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from skimage import data as skdata
from torch import nn

from colorizer.model import CONTRACT, refresh_manifest
from colorizer.pipeline import Photo
from train.checkpoint import colorizer_from_checkpoint, load_checkpoint
from train.efficientnet import fold_batchnorms
from train.models import DECODING, decoding_flag
from train.predict import torch_predict

PARITY_TOL = 0.05  # max |ab_onnx - ab_torch| in Lab units; a just-visible colour difference is about 1
OPSET = 18


def metadata(ck: dict) -> dict[str, str]:
    """The contract's metadata_props, all strings, from a checkpoint (its own step names the version: a last.pt
    also carries the best step so far, which is another network)."""
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
        "version": f"{ck['kind']}-{datetime.date.today():%Y%m%d}-step{ck['step']}",
    }


def exportable(ck: dict, float16: bool) -> nn.Module:
    """The network an ONNX file holds, in PyTorch: decoding and BatchNorms folded, and with float16=True its
    conv weights rounded to float16 (what store_float16 keeps of them)."""
    net = fold_batchnorms(colorizer_from_checkpoint(ck).fold_decoding())
    return round_to_float16(net) if float16 else net


def round_to_float16(net: nn.Module) -> nn.Module:
    """`net` with its float16_weights rounded to float16 and back to float32, in place: the PyTorch twin of a file
    whose store_float16 keeps them as float16, for the parity check."""
    with torch.no_grad():
        for p in float16_weights(net).values():
            p.copy_(p.half().float())
    return net


def float16_weights(net: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters stored as float16: every conv weight (the biases are a few kB and stay float32)."""
    return {name: p for name, p in net.named_parameters() if p.ndim >= 2}


def store_float16(model: onnx.ModelProto, names: set[str]) -> None:
    """Store the named float32 initializers as float16, each read through a Cast back to float32 (in place)."""
    casts = []
    for init in model.graph.initializer:
        if (name := init.name) in names:
            half = onnx.numpy_helper.to_array(init).astype(np.float16)
            init.CopyFrom(onnx.numpy_helper.from_array(half, name + "_fp16"))
            casts.append(onnx.helper.make_node("Cast", [name + "_fp16"], [name], to=onnx.TensorProto.FLOAT))
    missing = names - {c.output[0] for c in casts}
    if missing:  # the exporter renamed or folded a weight: the PyTorch reference would not match
        raise RuntimeError(f"weights not found among the ONNX initializers: {sorted(missing)[:5]}")
    nodes = casts + list(model.graph.node)  # the casts before every use: the graph stays topologically sorted
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def write_onnx(
    net: nn.Module,
    example: torch.Tensor,
    names: tuple[str, str],
    shapes: dict,
    out: Path,
    meta: dict[str, str],
    float16: bool,
) -> None:
    """Export `net` (eval mode; one float32 [N,C,H,W] input like `example`, one [N,C',H,W] output) to a single
    self-contained ONNX file at `out`, then run the full ONNX check. The input and output are named `names`, their
    dims 0, 2, 3 N, H, W; `shapes` gives the dynamic dims (torch.export.Dim, keyed by the forward's argument
    name). With `float16` the conv weights are stored as float16 behind Casts (store_float16). metadata_props:
    `meta` plus "weights" (float16 or float32)."""
    prog = torch.onnx.export(
        net,
        (example,),
        input_names=[names[0]],
        output_names=[names[1]],
        dynamic_shapes=shapes,
        opset_version=OPSET,
        dynamo=True,
        external_data=False,
    )
    prog.save(str(out), external_data=False)
    model = onnx.load(str(out))
    for value in (model.graph.input[0], model.graph.output[0]):  # readable: the exporter's H, W are expressions
        for i, name in ((0, "N"), (2, "H"), (3, "W")):
            value.type.tensor_type.shape.dim[i].dim_param = name
    if float16:
        store_float16(model, set(float16_weights(net)))
    onnx.helper.set_model_props(model, meta | {"weights": "float16" if float16 else "float32"})
    onnx.save(model, str(out))
    onnx.checker.check_model(str(out), full_check=True)


def export(ck: dict, out: Path, float16: bool = True) -> None:
    """Write the ONNX file for a checkpoint (single file, dynamic N/H/W, metadata stamped):
    L float32 [N,1,H,W] 0..100 -> ab float32 [N,2,H,W]."""
    net = exportable(ck, float16=False)
    m = ck["size_multiple"]
    dim = torch.export.Dim
    # H and W are multiples of the size multiple: H = m * h_blocks, expressed so the exporter keeps them symbolic.
    shapes = {"lum": {0: dim("N", max=64), 2: m * dim("h_blocks", max=1024), 3: m * dim("w_blocks", max=1024)}}
    example = torch.full((1, 1, 4 * m, 6 * m), 50.0)
    write_onnx(net, example, ("L", "ab"), shapes, out, metadata(ck), float16)


def max_differences(
    out: Path, predicts: Sequence[Callable[[np.ndarray], np.ndarray]], inputs: Iterable[np.ndarray]
) -> list[float]:
    """Largest |ONNX Runtime - predict| over `inputs`, one figure per PyTorch `predict` (train.predict.torch_predict),
    for the file at `out` (its single input and output). inputs: float32 numpy arrays in the file's input layout and
    range ([N,1,H,W]: L 0..100 for a colorizer, gray 0..1 for the restorer); figures in the output's units."""
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    name_in, name_out = sess.get_inputs()[0].name, sess.get_outputs()[0].name
    worst = [0.0] * len(predicts)
    for x in inputs:
        y = sess.run([name_out], {name_in: x})[0]
        for k, predict in enumerate(predicts):
            worst[k] = max(worst[k], float(np.abs(y - predict(x)).max()))
    return worst


def parity(ck: dict, out: Path, float16: bool = True) -> tuple[float, float]:
    """Largest |ab| difference between ONNX Runtime and PyTorch on real photos at two render sizes: against
    the exported network (float16-rounded weights where the file stores them) and against the checkpoint's
    float32 network (what float16 storage costs)."""
    nets = (exportable(ck, float16), colorizer_from_checkpoint(ck))
    photos = map(Photo.from_image, (skdata.astronaut(), skdata.coffee(), skdata.camera()))
    sizes = (ck["render_size"], ck["render_size"] // 2 + 40)
    lums = (photo.model_input(size, ck["size_multiple"])[0] for photo in photos for size in sizes)
    worst = max_differences(out, [torch_predict(net) for net in nets], lums)
    return worst[0], worst[1]


def export_parser(doc: str, trainer: str, weights: str) -> argparse.ArgumentParser:
    """The arguments every exporter takes: the checkpoint (written by `trainer`, a command), -o, --max-mb, and
    --weights (default `weights`, "float16" or "float32")."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help=f"a best.pt or last.pt written by {trainer}")
    ap.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    ap.add_argument("--max-mb", type=float, default=10.0, help="refuse models larger than this (default 10)")
    choices = [weights] + [w for w in ("float16", "float32") if w != weights]  # the default first, as --help shows
    ap.add_argument("--weights", choices=choices, default=weights, help="storage of conv weights")
    return ap


def keep_or_remove(out: Path, mb: float, max_mb: float, parity_failure: str | None) -> None:
    """Keep the file just written at `out` (`mb` MiB) only if it passed: after a parity failure (described) or
    over `max_mb`, remove it and exit 1 naming every problem, so that no unchecked model is left to be shipped;
    else rewrite its folder's MANIFEST.json where that is onnx_models/ (colorizer.model.refresh_manifest)."""
    problems = [parity_failure] if parity_failure else []
    if mb > max_mb:
        problems.append(f"the model is {mb:.2f} MB, over the {max_mb} MB limit")
    if problems:
        out.unlink()
        sys.exit(f"export failed, {out} removed: " + "; ".join(problems))
    if refresh_manifest(out):
        print(f"{out.parent / 'MANIFEST.json'} rewritten")


def main() -> None:
    ap = export_parser(__doc__, "python -m train", "float16")
    ap.add_argument("--render-size", type=int, help="long side (px) the network runs at (default: the run's)")
    for name, text in DECODING.items():
        ap.add_argument(decoding_flag(name), type=float, help=text)
    args = ap.parse_args()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    ck = load_checkpoint(args.checkpoint)
    chosen = {k: getattr(args, k) for k in DECODING if getattr(args, k) is not None}
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
        f"max |ab| ONNX vs torch {diff:.2e} (vs the float32 checkpoint {vs_float32:.2e})"
    )
    failure = f"ONNX Runtime differs from PyTorch by {diff:.3g} ab units (tolerance {PARITY_TOL})"
    keep_or_remove(out, mb, args.max_mb, failure if diff > PARITY_TOL else None)


if __name__ == "__main__":
    main()
