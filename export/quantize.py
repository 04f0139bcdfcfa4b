"""Make a static int8 copy of an exported colorizer, calibrated on photos, and check it against the original.

    python -m export.quantize onnx_models/NAME.onnx -o onnx_models/NAME_int8.onnx --calib DIR [--photos 48]
                              [--max-de00 0.5]

QDQ format: uint8 activations, int8 per-channel weights, calibrated (min-max) on the luminance of --photos
evenly spaced training photos from DIR (its validation split is left out, see train.data.split_photos).
Make it from a float32 export (python -m export ... --weights float32). The decoding head stays float: the
Conv that reads the weight `head.weight` (the cell logits) and every Conv after it (the annealed mean):
quantizing those too made the first CNN's colour error 5x larger (mean ΔE00 0.83 against 0.17 per photo) for
a quarter less time. The copy keeps the metadata and
adds precision=int8. It is then checked through the colorizer pipeline on real photos (scikit-image
samples) and a random one: the mean CIEDE2000 between the float and int8 results must stay within
--max-de00 on each (the merge's own tolerance, 0.5, by default); otherwise the file is removed and the
command fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from skimage import data as skdata

import colorizer
from colorizer.model import refresh_manifest
from colorizer.pipeline import Photo
from train.config import TrainConfig
from train.data import load_rgb, split_photos
from train.evaluate import evenly_spaced
from train.metrics import de00


class LuminanceReader(CalibrationDataReader):
    """Feeds the model's own inputs (L at its render size, padded) for each calibration photo."""

    def __init__(self, files: list[Path], model: colorizer.Model):
        size, multiple = model.render_size, model.size_multiple
        self.inputs = iter(Photo.from_image(load_rgb(f)).model_input(size, multiple)[0] for f in files)

    def get_next(self) -> dict | None:
        lum = next(self.inputs, None)
        return None if lum is None else {"L": lum}


HEAD_WEIGHT = "head.weight"  # the initializer name of train.models.ColorCNN.head's weight in the exported graph


def float_head(model: onnx.ModelProto) -> list[str]:
    """Names of the Conv nodes from the one that reads HEAD_WEIGHT on (nodes are topologically sorted).
    By name, not by position: the encoder's ReLU6 exports as Clip, so "after the last Relu" finds nothing sure."""
    nodes = list(model.graph.node)
    start = next((i for i, n in enumerate(nodes) if HEAD_WEIGHT in n.input), None)
    if start is None:
        raise ValueError(f"no node reads {HEAD_WEIGHT!r}: not a colorizer exported by python -m export")
    return [n.name for n in nodes[start:] if n.op_type == "Conv"]


def quantize(model: colorizer.Model, out: Path, calib: list[Path]) -> None:
    """Write the int8 QDQ copy of a float model to `out`, calibrated on `calib`, with its metadata + precision."""
    src = model.path
    original = onnx.load(str(src))
    meta = {p.key: p.value for p in original.metadata_props}
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)  # dynamic H, W: no symbolic shapes
        quantize_static(
            str(pre),
            str(out),
            LuminanceReader(calib, model),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=float_head(original),
        )
    model = onnx.load(str(out))
    meta["precision"] = "int8"
    meta["version"] = meta.get("version", src.stem) + "-int8"
    meta["quantization"] = f"static QDQ u8/s8 per-channel, min-max on {len(calib)} training photos"
    onnx.helper.set_model_props(model, meta)
    onnx.save(model, str(out))
    onnx.checker.check_model(str(out))


def differences(reference: colorizer.Model, int8: colorizer.Model) -> dict[str, float]:
    """Mean CIEDE2000 between the two models' results per test photo (real samples and random noise)."""
    photos = {name: getattr(skdata, name)() for name in ("astronaut", "coffee", "chelsea", "camera")}
    photos["random"] = np.random.default_rng(0).integers(0, 256, (300, 400), np.uint8)
    return {name: de00(reference.colorize(img), int8.colorize(img)) for name, img in photos.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path, help="an exported colorizer/1 .onnx file (float)")
    ap.add_argument("-o", "--output", required=True, type=Path, help="the int8 .onnx file to write")
    ap.add_argument("--calib", required=True, type=Path, help="folder of colour photos (the training data)")
    ap.add_argument("--photos", type=int, default=48, help="calibration photos (default 48)")
    ap.add_argument("--max-de00", type=float, default=0.5, help="largest mean ΔE00 against the float model")
    args = ap.parse_args()
    train_files, _ = split_photos(args.calib, TrainConfig().val_percent)
    fp32 = colorizer.Model(args.model)
    if fp32.meta.get("weights") == "float16":
        sys.exit(
            f"{args.model} stores float16 weights: quantize a float32 export (python -m export ... --weights float32)"
        )
    quantize(fp32, args.output, evenly_spaced(train_files, args.photos))
    diffs = differences(fp32, colorizer.Model(args.output))
    print(f"{args.output}: mean ΔE00 against {args.model.name}: " + ", ".join(f"{k} {v:.3f}" for k, v in diffs.items()))
    if max(diffs.values()) > args.max_de00:
        args.output.unlink()
        sys.exit(f"quantization failed, {args.output} removed: mean ΔE00 {max(diffs.values()):.3f} > {args.max_de00}")
    if refresh_manifest(args.output):
        print(f"{args.output.parent / 'MANIFEST.json'} rewritten")


if __name__ == "__main__":
    main()
