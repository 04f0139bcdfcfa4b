"""What both exporters share (python -m export for the colorizers, python -m export.restorer for the restorer and
the crack filler): writing one self-contained ONNX file with dynamic N, H, W and optional float16 weight storage,
measuring its parity with PyTorch, their common command-line arguments, and keeping or removing the file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from colorizer.model import refresh_manifest

OPSET = 18


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
    examples: dict[str, torch.Tensor],
    output: str,
    shapes: dict,
    out: Path,
    meta: dict[str, str],
    float16: bool,
) -> None:
    """Export `net` (eval mode; float32 [N,C,H,W] inputs like `examples`, one [N,C',H,W] output) to a single
    self-contained ONNX file at `out`, then run the full ONNX check. The inputs are named as the keys of
    `examples` (in the forward's argument order), the output `output`, their dims 0, 2, 3 N, H, W; `shapes` gives
    the dynamic dims (torch.export.Dim, keyed by the forward's argument names). With `float16` the conv weights are
    stored as float16 behind Casts (store_float16). metadata_props: `meta` plus "weights" (float16 or float32)."""
    prog = torch.onnx.export(
        net,
        tuple(examples.values()),
        input_names=list(examples),
        output_names=[output],
        dynamic_shapes=shapes,
        opset_version=OPSET,
        dynamo=True,
        external_data=False,
    )
    prog.save(str(out), external_data=False)
    model = onnx.load(str(out))
    for value in (*model.graph.input, *model.graph.output):  # readable: the exporter's H, W are expressions
        for i, name in ((0, "N"), (2, "H"), (3, "W")):
            value.type.tensor_type.shape.dim[i].dim_param = name
    if float16:
        store_float16(model, set(float16_weights(net)))
    onnx.helper.set_model_props(model, meta | {"weights": "float16" if float16 else "float32"})
    onnx.save(model, str(out))
    onnx.checker.check_model(str(out), full_check=True)


def max_differences(
    out: Path, predicts: Sequence[Callable[..., np.ndarray]], inputs: Iterable[tuple[np.ndarray, ...]]
) -> list[float]:
    """Largest |ONNX Runtime - predict| over `inputs`, one figure per PyTorch `predict` (train.predict.torch_predict),
    for the file at `out` (its one output). inputs: tuples of float32 numpy arrays, one per file input in its order
    and layout ([N,1,H,W]: L 0..100 for a colorizer, gray 0..1 for the restorer; a colorizer/2's hints [N,3,H,W]);
    figures in the output's units."""
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    names_in, name_out = [i.name for i in sess.get_inputs()], sess.get_outputs()[0].name
    worst = [0.0] * len(predicts)
    for xs in inputs:
        y = sess.run([name_out], dict(zip(names_in, xs, strict=True)))[0]
        for k, predict in enumerate(predicts):
            worst[k] = max(worst[k], float(np.abs(y - predict(*xs)).max()))
    return worst


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
