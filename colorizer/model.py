"""ONNX colorizer models: loading, the versioned contract check, and running them.

The contract (colorizer/1): one input `L` float32 [N,1,H,W] (CIE L*, 0..100), one output `ab` float32
[N,2,H,W] (Lab units), H and W multiples of metadata `size_multiple`; metadata_props carry contract, kind,
arch, render_size, size_multiple and the training provenance (and `precision`=int8 on quantized copies).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from colorizer.manifest import listed, verify, write_manifest
from colorizer.pipeline import Photo, SupportsRestore, get_restorer

__version__ = "0.1.0"
CONTRACT = "colorizer/1"
MODEL_DIR = Path(__file__).resolve().parent.parent / "onnx_models"
SHIPPED = ("cnn", "gan")
PRECISIONS = ("auto", "fp32", "int8")


class ContractError(ValueError):
    """The file is not a colorizer model this library understands."""


def session_options() -> ort.SessionOptions:
    """CPU-friendly session options; COLORIZER_THREADS sets intra-op threads (default: all cores)."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = int(os.environ.get("COLORIZER_THREADS", "0"))
    opts.log_severity_level = 3  # errors only: a missing CUDA is reported by `provider`, not by log spam
    # ONNX Runtime's idle threads spin-wait by default, stealing the cores from the merge that runs next:
    # turning it off made both models end to end 25-30 % faster at 512 to 2048 px on 2 cores (python -m bench).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The memory pattern, planned on the first run, held more from the second run on, at the same speed without
    # it: the restorer on a 1024x1024 tile 355 against 215 MiB peak, both colorizers on 2048x2048 293 against 277.
    opts.enable_mem_pattern = False
    return opts


def providers() -> list[str]:
    """CUDA first when this ONNX Runtime build offers it, CPU always as the fallback."""
    wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return [p for p in wanted if p in ort.get_available_providers()]


def resolve(name_or_path: str | Path, precision: str | None = None) -> Path:
    """A shipped model name ('cnn', 'gan') -> its file in onnx_models/; anything else is a file path.

    precision (default: env COLORIZER_PRECISION, else 'auto'): 'fp32' -> NAME.onnx; 'int8' -> NAME_int8.onnx
    (static int8, checked against the float model by export.quantize); 'auto' -> the int8 file when it
    exists (or MANIFEST.json lists it) and ONNX Runtime has no CUDA (int8 is about twice as fast on CPU; on GPU
    the float one is).
    """
    if str(name_or_path) not in SHIPPED:
        return Path(name_or_path)
    precision = precision or os.environ.get("COLORIZER_PRECISION", "auto")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    int8 = MODEL_DIR / f"{name_or_path}_int8.onnx"
    cpu_only = "CUDAExecutionProvider" not in providers()
    shipped_int8 = int8.is_file() or int8.name in listed(MODEL_DIR)  # listed but missing: verify says so
    if precision == "int8" or (precision == "auto" and cpu_only and shipped_int8):
        return int8
    return MODEL_DIR / f"{name_or_path}.onnx"


class Model:
    """One loaded colorizer: an ONNX Runtime session plus its contract metadata."""

    def __init__(self, path: str | Path, name: str | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no colorizer model at {self.path}")
        self.session = ort.InferenceSession(str(self.path), session_options(), providers=providers())
        self.meta = dict(self.session.get_modelmeta().custom_metadata_map)
        if self.meta.get("contract") != CONTRACT:
            raise ContractError(
                f"{self.path}: unknown model contract {self.meta.get('contract')!r} (this library reads {CONTRACT!r})"
            )
        ins, outs = self.session.get_inputs(), self.session.get_outputs()
        if [i.name for i in ins] != ["L"] or [o.name for o in outs] != ["ab"]:
            raise ContractError(f"{self.path}: expected one input 'L' and one output 'ab'")
        self.kind = self.meta["kind"]
        self.name = name or self.path.stem  # a shipped model keeps its name whatever its precision
        self.precision = self.meta.get("precision", "fp32")
        self.render_size = int(self.meta["render_size"])
        self.size_multiple = int(self.meta["size_multiple"])
        self.provider = self.session.get_providers()[0]

    @property
    def val_metrics(self) -> dict:
        """Training-time validation figures stamped at export (empty if none)."""
        return json.loads(self.meta.get("val_metrics") or "{}")

    def png_text(self) -> dict[str, str]:
        """PNG text chunks naming the software, the model and its version, for every saved result."""
        return {
            "Software": f"colorizer {__version__} (black-and-white photo colorization)",
            "Description": f"AI-colourised by the {self.kind.upper()} model {self.meta.get('version', self.name)}; "
            "the colours are the model's guess, not a historical record",
        }

    def predict(self, lum: np.ndarray) -> np.ndarray:
        """L float32 [N,1,H,W] (0..100, H and W multiples of size_multiple) -> ab float32 [N,2,H,W]."""
        return self.session.run(["ab"], {"L": lum})[0]

    def predict_photo(self, photo: Photo, render_size: int | None = None) -> np.ndarray:
        """ab float32 [2,h,w] for a prepared photo at `render_size` (default: the model's own)."""
        return photo.predict_ab(self.predict, render_size or self.render_size, self.size_multiple)

    def colorize(
        self,
        image: np.ndarray,
        render_size: int | None = None,
        saturation: float = 1.0,
        brightness: float = 0.0,
        auto_contrast: bool = False,
        restore: bool | str | SupportsRestore = False,
    ) -> np.ndarray:
        """Photo array (uint8/uint16 HxW, HxWx3 RGB or HxWx4 RGBA) -> RGB uint8 HxWx3, same height and width.

        render_size: long side (px) the network runs at (default: the model's own); saturation: colour
        boost (1 = as predicted); brightness: L* offset (0 = as is); auto_contrast: percentile stretch of L*
        (colorizer.enhance); restore: repair the luminance first (True: the shipped restoration model; "cracks":
        the crack filler, then that model; or any object with .restore(gray uint8 HxW) -> uint8 HxW).
        """
        photo = Photo.from_image(image, get_restorer(restore))
        return photo.render(self.predict_photo(photo, render_size), saturation, brightness, auto_contrast)

    def __repr__(self) -> str:
        return (
            f"Model({self.name!r}, kind={self.kind}, render_size={self.render_size}, precision={self.precision}, "
            f"provider={self.provider})"
        )


def load(name_or_path: str | Path, precision: str | None = None) -> Model:
    """Load a shipped model by name ('cnn', 'gan'; precision as in `resolve`) or a colorizer/1 .onnx by path.

    A shipped model is first checked against onnx_models/MANIFEST.json: ManifestError (one line naming the
    file and the fix) if it is missing, truncated or altered. A path is loaded as it is.
    """
    shipped = str(name_or_path) in SHIPPED
    path = resolve(name_or_path, precision)
    if shipped:
        verify(path)
    return Model(path, str(name_or_path) if shipped else None)


def refresh_manifest(written: str | Path) -> bool:
    """Rewrite MODEL_DIR/MANIFEST.json if `written`, a model file a tool has just written, is in MODEL_DIR.

    Returns whether it did; a file written anywhere else leaves the manifest alone.
    """
    if Path(written).resolve().parent != MODEL_DIR.resolve():
        return False
    write_manifest(MODEL_DIR)
    return True
