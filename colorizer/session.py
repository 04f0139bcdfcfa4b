"""Opening a model file: the ONNX Runtime settings every model runs with, and the check of its contract.

Every model kind goes through `open_model` (colorizer/1 and /2: the colorizers; restorer/1: the restorer and the crack
filler). A shipped model is named, not given by path: `shipped_path` finds it in MODEL_DIR (onnx_models/) and
checks it against MODEL_DIR/MANIFEST.json first (colorizer.manifest), so a missing or damaged file stops with
one line naming it and the fix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar

import onnxruntime as ort

from colorizer.manifest import listed, verify, write_manifest

MODEL_DIR = Path(__file__).resolve().parent.parent / "onnx_models"


class ContractError(ValueError):
    """The file is not a model of the contract this library reads for it."""


def session_options() -> ort.SessionOptions:
    """CPU-friendly session options; COLORIZER_THREADS sets intra-op threads (default: all cores)."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = int(os.environ.get("COLORIZER_THREADS", "0"))
    opts.log_severity_level = 3  # errors only: a missing CUDA is reported by `provider`, not by log spam
    # ONNX Runtime's idle threads spin-wait by default, stealing the cores from the merge that runs next:
    # turning it off made both models end to end faster on 2 cores (python -m bench).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The memory pattern, planned on the first run, held more memory from the second run on, at the same speed
    # without it (python -m bench's peak-memory runs).
    opts.enable_mem_pattern = False
    return opts


def providers() -> list[str]:
    """CUDA first when this ONNX Runtime build offers it, CPU always as the fallback."""
    wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return [p for p in wanted if p in ort.get_available_providers()]


Signature = tuple[tuple[str, ...], tuple[str, ...]]  # a contract's (input names, output names), in order


def open_model(path: str | Path, contracts: dict[str, Signature]) -> tuple[ort.InferenceSession, dict[str, str]]:
    """An ONNX Runtime session on `path` and its metadata_props, once the file is known to follow one of
    `contracts` (contract name -> its input and output names).

    FileNotFoundError if there is no file; ContractError, naming the file, if its metadata's "contract" is none of
    them or its input and output names are not that contract's (in that order).
    """
    path = Path(path)
    kind = next(iter(contracts)).split("/")[0]
    if not path.is_file():
        raise FileNotFoundError(f"no {kind} model at {path}")
    session = ort.InferenceSession(str(path), session_options(), providers=providers())
    meta = dict(session.get_modelmeta().custom_metadata_map)
    contract = meta.get("contract")
    if contract not in contracts:
        readable = " or ".join(repr(c) for c in contracts)
        raise ContractError(f"{path}: unknown model contract {contract!r} (this library reads {readable})")
    inputs, outputs = contracts[contract]
    names = [i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()]
    if names != (list(inputs), list(outputs)):
        expected = f"input(s) {', '.join(inputs)} and output(s) {', '.join(outputs)}"
        raise ContractError(f"{path}: expected {expected} for {contract}, got {names[0]} and {names[1]}")
    return session, meta


class OnnxModel:
    """One loaded model file: its session, its metadata, its contract and the provider it runs on. Subclasses
    set the contracts they read (colorizer.model.Model, colorizer.restore.Restorer)."""

    contracts: ClassVar[dict[str, Signature]] = {}

    def __init__(self, path: str | Path, name: str | None = None):
        self.path = Path(path)
        self.session, self.meta = open_model(self.path, self.contracts)
        self.contract = self.meta["contract"]
        self.name = name or self.path.stem
        self.provider = self.session.get_providers()[0]

    @property
    def val_metrics(self) -> dict:
        """Training-time validation figures stamped at export (empty if none)."""
        return json.loads(self.meta.get("val_metrics") or "{}")


def shipped_path(name: str) -> Path:
    """MODEL_DIR/<name>.onnx, checked against the manifest (ManifestError, one line with the fix, if it is
    missing, unlisted or altered)."""
    path = MODEL_DIR / f"{name}.onnx"
    verify(path)
    return path


def is_shipped(name: str) -> bool:
    """Whether MODEL_DIR holds <name>.onnx or its manifest lists it (a listed file that is missing is shipped, and
    broken: shipped_path says so)."""
    return (MODEL_DIR / f"{name}.onnx").is_file() or f"{name}.onnx" in listed(MODEL_DIR)


def refresh_manifest(written: str | Path) -> bool:
    """Rewrite MODEL_DIR/MANIFEST.json if `written`, a model file a tool has just written, is in MODEL_DIR.

    Returns whether it did; a file written anywhere else leaves the manifest alone.
    """
    if Path(written).resolve().parent != MODEL_DIR.resolve():
        return False
    write_manifest(MODEL_DIR)
    return True
