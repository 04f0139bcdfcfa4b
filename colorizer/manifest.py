"""onnx_models/MANIFEST.json: each shipped model file's sha256, contract and size, and the check against it.

The tools that write a model into onnx_models/ (python -m export, export.restorer, train.colorize.evaluate --stamp)
rewrite the manifest (colorizer.session.refresh_manifest). colorizer.load checks a shipped model against it
before loading (verify), so a missing, truncated or altered file stops start-up with one line naming the file
and the fix, instead of a protobuf error or, worse, a model that runs with damaged weights. A path to a user's
own .onnx file is not checked. Each file is hashed once per process (cached by path, mtime and size).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnxruntime as ort

from colorizer.atomic import atomic_write

MANIFEST = "MANIFEST.json"
_digests: dict[tuple[str, int, int], str] = {}  # (resolved path, mtime_ns, size) -> sha256 hex


class ManifestError(RuntimeError):
    """A shipped model file that is missing or differs from the manifest; str(error) is one line with the fix."""


def sha256(path: Path) -> str:
    """The file's sha256 (hex), computed once per process for each path, mtime and size."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _digests:
        with open(path, "rb") as f:
            _digests[key] = hashlib.file_digest(f, "sha256").hexdigest()
    return _digests[key]


def contract(path: Path) -> str:
    """The model's metadata "contract" ('' if none), read by ONNX Runtime without optimising the graph."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return session.get_modelmeta().custom_metadata_map.get("contract", "")


def entries(folder: Path) -> dict[str, dict]:
    """{file name: {"sha256", "contract", "bytes"}} of every .onnx file at the top of `folder`, by name."""
    files = sorted(p for p in Path(folder).glob("*.onnx") if p.is_file())
    return {p.name: {"sha256": sha256(p), "contract": contract(p), "bytes": p.stat().st_size} for p in files}


def write_manifest(folder: str | Path) -> Path:
    """Scan `folder`'s .onnx files and write its MANIFEST.json atomically; returns the manifest's path."""
    path = Path(folder) / MANIFEST
    atomic_write(path, (json.dumps({"files": entries(Path(folder))}, indent=2) + "\n").encode())
    return path


def read_manifest(folder: str | Path) -> dict[str, dict]:
    """The manifest's {file name: entry}; ManifestError (one line with the fix) if it is missing or unreadable."""
    path = Path(folder) / MANIFEST
    shown = f"{path.parent.name}/{MANIFEST}"
    try:
        return json.loads(path.read_text())["files"]
    except FileNotFoundError:
        raise ManifestError(f"{shown} is missing: restore it with git checkout -- {shown}") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ManifestError(f"{shown} is unreadable ({e}): restore it with git checkout -- {shown}") from None


def listed(folder: str | Path) -> set[str]:
    """The file names the manifest lists (none if it cannot be read)."""
    try:
        return set(read_manifest(folder))
    except ManifestError:
        return set()


def verify(path: str | Path) -> None:
    """Check a shipped model file against its folder's manifest: size, then sha256.

    Raises ManifestError, whose message is one line naming the file and the fix, when the file is missing,
    unlisted, truncated or altered.
    """
    path = Path(path)
    folder = path.parent
    files = read_manifest(folder)
    shown, manifest = f"{folder.name}/{path.name}", f"{folder.name}/{MANIFEST}"
    fix = f"restore it with git checkout -- {shown} or re-export it"
    entry = files.get(path.name)
    if entry is None:
        raise ManifestError(f"{shown} is not listed in {manifest}: {fix} (the export tools rewrite the manifest)")
    if not path.is_file():
        raise ManifestError(f"{shown} is missing (listed in {manifest}): {fix}")
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise ManifestError(
            f"{shown} does not match {manifest} ({size:,} bytes, expected {entry['bytes']:,}; truncated or "
            f"replaced): {fix}"
        )
    digest = sha256(path)
    if digest != entry["sha256"]:
        raise ManifestError(
            f"{shown} does not match {manifest} (sha256 {digest[:12]}…, expected {entry['sha256'][:12]}…): {fix}"
        )
