"""The restorer end to end: a tiny model trained by python -m train.restore, exported by python -m export.restorer,
run by the library (colorizer.Restorer): its contract, tiling, sizes, manifest check, and that it repairs."""

import numpy as np
import onnx
import pytest

import colorizer
from colorizer.manifest import write_manifest
from colorizer.restore import RESTORER_CONTRACT, STRIP_ROWS, Restorer, changed_share, load_restorer, round_up
from colorizer.session import MODEL_DIR
from helpers import run, synthetic_photo
from train.degrade import Damage, apply_damage
from train.metrics import psnr

# Gaussian noise only, on the smooth synthetic photos: what a tiny network learns within 150 steps.
TINY_RESTORER = """
steps = 150
crop_size = 64
batch_size = 8
kinds = ["noise"]
p_each = 1.0
p_clean = 0.0
p_tone = 0.0
lr = 3e-3
lr_decay_from = 0
ema_decay = 0.9
arch_args = { widths = [8, 16, 16], depth = 1 }
tile_size = 128
tile_overlap = 32
work_size = 0
eval_every = 1000
ckpt_every = 1000
val_images = 2
val_percent = 20
threads = 2
"""
META_KEYS = {"contract", "task", "arch", "arch_args", "size_multiple", "tile_size", "tile_overlap", "work_size",
             "context", "train_data", "train_steps", "train_seconds", "git_commit", "val_metrics", "version",
             "weights"}  # fmt: skip
SHIPPED = MODEL_DIR / "restore.onnx"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, photo_dir):
    """{"run": run folder, "onnx": exported file} of a tiny restorer trained on noise for 150 steps."""
    base = tmp_path_factory.mktemp("restorer")
    (base / "tiny.toml").write_text(TINY_RESTORER)
    config, out = str(base / "tiny.toml"), str(base / "run")
    run("-m", "train.restore", "--data", str(photo_dir), "--out", out, "--config", config)
    run("-m", "export.restorer", str(base / "run" / "last.pt"), "-o", str(base / "restore.onnx"))
    return {"run": base / "run", "onnx": base / "restore.onnx"}


def gray_photo(seed: int, h: int, w: int) -> np.ndarray:
    """A smooth synthetic photo's luminance, gray uint8 HxW."""
    return synthetic_photo(np.random.default_rng(seed), h, w).mean(axis=2).round().astype(np.uint8)


def untiled(model: Restorer, gray: np.ndarray) -> np.ndarray:
    """The network run once on the whole photo (mirror-padded to the size multiple as the tiler pads it)."""
    h, w = gray.shape
    m = model.size_multiple
    padded = np.pad(gray, ((0, round_up(h, m) - h), (0, round_up(w, m) - w)), mode="symmetric")
    out = model.predict(padded.astype(np.float32)[None, None] / 255.0)[0, 0, :h, :w]
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def test_model_satisfies_the_contract(tiny):
    graph = onnx.load(str(tiny["onnx"])).graph
    assert [i.name for i in graph.input] == ["gray"] and [o.name for o in graph.output] == ["restored"]
    for value in (graph.input[0], graph.output[0]):
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim] == ["N", 1, "H", "W"]
    model = Restorer(tiny["onnx"])
    assert set(model.meta) >= META_KEYS and model.meta["contract"] == RESTORER_CONTRACT
    assert int(model.meta["train_steps"]) == 150 and "photos" in model.meta["train_data"]
    assert 32 % model.size_multiple == 0
    rng = np.random.default_rng(0)
    for n, h, w in ((1, 32, 32), (2, 64, 96), (1, 160, 32)):  # any multiple of 32, and a batch
        x = rng.random((n, 1, h, w), dtype=np.float32)
        y = model.predict(x)
        assert y.shape == x.shape and y.dtype == np.float32 and y.min() >= 0.0 and y.max() <= 1.0


@pytest.mark.parametrize("contract", ["colorizer/1", "restorer/99"])
def test_other_contracts_are_refused_naming_the_file(tiny, tmp_path, contract):
    m = onnx.load(str(tiny["onnx"]))
    props = {p.key: p.value for p in m.metadata_props} | {"contract": contract}
    onnx.helper.set_model_props(m, props)
    onnx.save(m, str(tmp_path / "other.onnx"))
    with pytest.raises(colorizer.ContractError, match=r"other\.onnx"):
        Restorer(tmp_path / "other.onnx")


def test_restored_scores_higher_psnr_than_the_damaged_input(tiny):
    model = Restorer(tiny["onnx"])
    for seed in range(3):
        clean = gray_photo(100 + seed, 200, 240)
        damaged = apply_damage(clean, Damage(noise=15), np.random.default_rng(seed))
        before, after = psnr(damaged, clean), psnr(model.restore(damaged), clean)
        assert after > before + 1.0, (seed, before, after)


def damaged_photo(damage: Damage) -> np.ndarray:
    """A 333x301 synthetic photo's luminance with `damage` (seed 7), gray uint8: larger than the test tiles."""
    return apply_damage(gray_photo(7, 333, 301), damage, np.random.default_rng(7))


def tiled_and_untiled(model: Restorer, tile: int, overlap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(damaged photo, output tiled at full resolution, output of one untiled run), gray uint8 333x301."""
    gray = damaged_photo(Damage(noise=12, scratches=4))
    model.tile_size, model.tile_overlap = tile, overlap
    return gray, model.restore(gray, work_size=0), untiled(model, gray)


def test_tiled_output_equals_untiled_within_one_level(tiny):
    gray, tiled, whole = tiled_and_untiled(Restorer(tiny["onnx"]), 128, 32)  # 4 x 3 tiles
    assert np.abs(tiled.astype(int) - whole).max() <= 1
    assert not np.array_equal(whole, gray)  # the network did change the photo


def test_shipped_restorer_is_seamless():
    """Tiled like the tiny model if its tiles are independent; else (global context) never tiled at all."""
    if not SHIPPED.exists():
        pytest.skip("onnx_models/restore.onnx is not exported yet")
    model = Restorer(SHIPPED)
    if not model.global_context:
        gray, tiled, whole = tiled_and_untiled(model, 256, 64)  # 2 x 2 tiles
        assert np.abs(tiled.astype(int) - whole).max() <= 1 and not np.array_equal(whole, gray)
        return
    calls = []
    model.predict = lambda g: calls.append(g.shape) or Restorer.predict(model, g)
    model.tile_size = 256  # smaller than the photo: a model with independent tiles would run 2 x 2
    gray = damaged_photo(Damage(noise=12))
    out = model.restore(gray, work_size=0)  # full resolution asked: capped at one tile
    # 333x301 shrunk to 256x231, padded to 8: one tile, run once per flip (the photo and its mirror images)
    assert calls == [(1, 1, 256, 232)] * model.flips and out.shape == gray.shape
    assert np.array_equal(out, model.restore(gray, work_size=256))


@pytest.mark.parametrize("shape", [(1, 1), (3, 50), (97, 31), (129, 257), (300, 451)])
@pytest.mark.parametrize("work_size", [0, 64])
def test_output_has_the_input_size(tiny, shape, work_size):
    model = Restorer(tiny["onnx"])
    gray = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    out = model.restore(gray, work_size=work_size)  # 64: photos over 64 px go through the working resolution
    assert out.shape == shape and out.dtype == np.uint8


def test_restore_refuses_what_is_not_gray_uint8(tiny):
    model = Restorer(tiny["onnx"])
    with pytest.raises(TypeError):
        model.restore(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(TypeError):
        model.restore(np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError):
        model.restore(np.zeros((0, 8), np.uint8))


def test_shipped_name_is_checked_against_the_manifest(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr("colorizer.session.MODEL_DIR", tmp_path)
    (tmp_path / "restore.onnx").write_bytes(tiny["onnx"].read_bytes())
    with pytest.raises(colorizer.ManifestError, match=r"MANIFEST\.json is missing"):
        load_restorer()
    write_manifest(tmp_path)
    model = colorizer.load_restorer("restore")
    assert model.name == "restore" and model.meta["contract"] == RESTORER_CONTRACT
    data = bytearray((tmp_path / "restore.onnx").read_bytes())
    data[-100] ^= 0xFF  # same size, one byte altered
    (tmp_path / "restore.onnx").write_bytes(bytes(data))
    with pytest.raises(colorizer.ManifestError, match=r"restore\.onnx does not match"):
        load_restorer()


def test_shipped_restorer_is_small_and_stamped():
    if not SHIPPED.exists():
        pytest.skip("onnx_models/restore.onnx is not exported yet")
    assert SHIPPED.stat().st_size <= 10_000_000
    model = load_restorer()
    assert set(model.meta) >= META_KEYS and int(model.meta["train_steps"]) >= 1000
    clean = gray_photo(3, 256, 320)  # a clean photo passes through: >= 38 dB
    assert psnr(model.restore(clean), clean) >= 38.0


def test_changed_share_counts_pixels_moved_beyond_the_levels_across_strips():
    before = np.full((2 * STRIP_ROWS + 5, 40), 100, np.uint8)  # three strips, the last partial
    after = before.copy()
    after[:, :10] += 3  # a quarter of the pixels moved by 3 levels: counted
    after[:, 10:20] -= 2  # a quarter by 2: not counted (rounding, not repair)
    after[-1, 20:] = 0  # the last row, in the partial strip
    assert changed_share(before, after) == pytest.approx((before.shape[0] * 10 + 20) / before.size)
    assert changed_share(before, before) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        changed_share(before, after[1:])
