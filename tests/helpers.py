"""Helpers shared by the tests: paths, subprocess runs, synthetic photos, the tiny training configs."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def ab_distance(rgb: np.ndarray, x: int, y: int, colour: tuple[int, int, int]) -> float:
    """How far (CIE a*b*, Lab units) the colour of RGB uint8 HxWx3 around pixel (x, y) (a 3x3 mean) is from the
    chroma of `colour` (sRGB 0..255): what a colour hint there should make smaller."""
    from colorizer.color import rgb_to_lab

    patch = np.ascontiguousarray(rgb[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2, :3]).astype(np.uint8)
    ab = rgb_to_lab(patch)[..., 1:].reshape(-1, 2).mean(0)
    target = rgb_to_lab(np.array([[colour]], np.uint8))[0, 0, 1:]
    return float(np.hypot(*(ab - target)))


def synthetic_photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A colourful RGB uint8 HxWx3 image: smooth colour fields plus a few solid shapes."""
    base = rng.random((4, 5, 3)) * 255
    img = np.asarray(Image.fromarray(base.astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)).copy()
    for _ in range(3):
        y, x = rng.integers(0, h - 20), rng.integers(0, w - 20)
        img[y : y + rng.integers(10, 40), x : x + rng.integers(10, 40)] = rng.integers(0, 256, 3)
    return img


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

# A decoding that `python -m export` folds into the graph (flag names are the fields' with dashes), given to the
# trained GAN's export: far from the defaults, so that a test sees each one arrive
DECODING = {"temperature": 1.0, "prior_correction": 0.5, "chroma_gain": 1.2, "shadow_fade": 50.0, "highlight_fade": 5.0}
DECODING_FLAGS = [x for k, v in DECODING.items() for x in (f"--{k.replace('_', '-')}", str(v))]

# python -m train.restore's tiny run (fields of train.restore.config.RestoreConfig)
TINY_RESTORE = {"steps": 4, "eval_every": 3, "ckpt_every": 2, "val_images": 2, "val_percent": 20, "crop_size": 64,
                "batch_size": 4, "threads": 1, "arch_args": {"widths": [8, 16, 16], "depth": 1}}  # fmt: skip


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


T = TypeVar("T")


def straight_and_resumed(trainer: Callable[[Path, bool], T], tmp_path: Path) -> tuple[T, T]:
    """A 4-step run made twice by trainer(run_dir, resume) (a train.trainer.Trainer): straight through, and
    stopped at step 2 (an evaluation and last.pt), then resumed from there; resume tests compare the two."""
    straight = trainer(tmp_path / "a", False)
    straight.run(4)
    first = trainer(tmp_path / "b", False)
    first.run(2)  # ends with an evaluation and last.pt at step 2
    resumed = trainer(tmp_path / "b", True)
    assert resumed.step == 2
    resumed.run(4)
    return straight, resumed


def cracked_camera() -> tuple[np.ndarray, np.ndarray]:
    """(cracked, clean) gray uint8 288x384: scikit-image's camera photo with 12 thick ragged light cracks (seed 0,
    drawn 2x: 2-8 px wide), as on a scanned print; the restorer alone leaves them, the crack filler takes them."""
    from skimage import data

    from train.restore.degrade import cracks, to_float, to_uint8

    clean = data.camera()[:288, :384]
    return to_uint8(cracks(to_float(clean), 12, np.random.default_rng(0), 2.0)), clean
