"""Shared fixtures: synthetic colour photos, tiny trained runs of both models and their ONNX exports.

Everything is made here, offline: no ../shared data, no downloads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def synthetic_photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A colourful RGB uint8 HxWx3 image: smooth colour fields plus a few solid shapes."""
    base = rng.random((4, 5, 3)) * 255
    img = np.asarray(Image.fromarray(base.astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)).copy()
    for _ in range(3):
        y, x = rng.integers(0, h - 20), rng.integers(0, w - 20)
        img[y : y + rng.integers(10, 40), x : x + rng.integers(10, 40)] = rng.integers(0, 256, 3)
    return img


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory) -> Path:
    """A folder of 24 synthetic colour JPEGs, 160 to 220 px."""
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(24):
        h, w = (int(v) for v in rng.integers(160, 221, 2))
        Image.fromarray(synthetic_photo(rng, h, w)).save(d / f"syn_{i:02d}.jpg", quality=95)
    return d


def run(*args: str, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run `python args...` from the repository root; fail the test with its output if it fails."""
    p = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{args} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


TINY = """
steps = 6
pretrain_steps = 2
eval_every = 3
ckpt_every = 2
val_images = 3
val_percent = 20
crop_sizes = [64, 96]
batch_pixels = 16384
threads = 1
"""


@pytest.fixture(scope="session")
def trained(tmp_path_factory, photo_dir) -> dict[str, Path]:
    """Train each model for a few steps with `python -m train`, export with `python -m export`.

    Returns {"cnn_run": run dir, "cnn": onnx path, "gan_run": ..., "gan": ...}.
    """
    base = tmp_path_factory.mktemp("trained")
    cfg = base / "tiny.toml"
    cfg.write_text(TINY)
    out = {}
    for kind in ("cnn", "gan"):
        run_dir = base / f"run_{kind}"
        run("-m", "train", "--model", kind, "--data", str(photo_dir), "--out", str(run_dir), "--config", str(cfg))
        onnx_path = base / f"{kind}.onnx"
        run("-m", "export", str(run_dir / "best.pt"), "-o", str(onnx_path))
        out[f"{kind}_run"], out[kind] = run_dir, onnx_path
    return out
