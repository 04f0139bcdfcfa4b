"""Shared fixtures: synthetic colour photos, tiny trained runs of both models and their ONNX exports.

Everything is made here, offline: no ../shared data, no downloads.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import DECODING_FLAGS, TINY, run, synthetic_photo

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(autouse=True)
def ieee_floats():
    """After each test, subnormal floats work again: the restorer's trainer flushes them to zero for the whole
    process (torch.set_flush_denormal), which breaks later tests that need IEEE floats (hypothesis's)."""
    yield
    if "torch" in sys.modules:
        sys.modules["torch"].set_flush_denormal(False)


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory) -> Path:
    """A folder of 24 synthetic colour JPEGs, 160 to 220 px."""
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(24):
        h, w = (int(v) for v in rng.integers(160, 221, 2))
        Image.fromarray(synthetic_photo(rng, h, w)).save(d / f"syn_{i:02d}.jpg", quality=95)
    return d


ARCH = 'arch = "ColorCNN"\narch_args = { encoder = "lite0", widths = [48, 96, 128] }\n'
# The GAN of the tiny runs takes colour hints (a colorizer/2 file): both contracts are trained, exported and run
HINTS_ARCH = ARCH.replace(" }", ", hint_width = 8 }")


@pytest.fixture(scope="session")
def trained(tmp_path_factory, photo_dir) -> dict[str, Path]:
    """Train each model for a few steps with `python -m train` (the CNN with ARCH: the default network, its
    arguments spelt out in the config so that a test sees them reach the exported file; the GAN with HINTS_ARCH, a
    colorizer/2 network), export with `python -m export`: the CNN as trained, the GAN with the decoding flags
    DECODING_FLAGS and a render size of 96 px.

    Returns {"cnn_run": run dir, "cnn": onnx path, "gan_run": ..., "gan": ...}.
    """
    base = tmp_path_factory.mktemp("trained")
    out = {}
    for kind, arch in (("cnn", ARCH), ("gan", HINTS_ARCH)):
        cfg = base / f"tiny_{kind}.toml"
        cfg.write_text(TINY + arch)
        run_dir = base / f"run_{kind}"
        run("-m", "train", "--model", kind, "--data", str(photo_dir), "--out", str(run_dir), "--config", str(cfg))
        onnx_path = base / f"{kind}.onnx"
        flags = [*DECODING_FLAGS, "--render-size", "96"] if kind == "gan" else []
        run("-m", "export", str(run_dir / "best.pt"), "-o", str(onnx_path), *flags)
        out[f"{kind}_run"], out[kind] = run_dir, onnx_path
    return out


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The app with its default limits, started once for every test that needs a server."""
    from bench.load import launched_app  # `python demo/app.py` on a free port, as the load test starts it

    with launched_app(tmp_path_factory.mktemp("app") / "app.log") as (url, _):
        yield url
