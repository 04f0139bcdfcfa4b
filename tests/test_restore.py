"""The restorer in the library (colorizer.Restorer): the contract check, tiling, sizes, the working resolution, the
manifest check, on a small restorer/1 file built here (a 3x3 box blur, which removes noise) and on the shipped one.
Training and exporting a restorer (train.restore, export.restorer) are tested with them (test_crack,
test_restore_train)."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import colorizer
from colorizer.manifest import write_manifest
from colorizer.restore import RESTORER_CONTRACT, STRIP_ROWS, Restorer, changed_share, load_restorer, round_up
from colorizer.session import MODEL_DIR
from helpers import synthetic_photo
from train.colorize.metrics import psnr
from train.restore.degrade import Damage, apply_damage

META = {"contract": RESTORER_CONTRACT, "task": "restore", "arch": "box3", "size_multiple": "8", "tile_size": "128",
        "tile_overlap": "32", "work_size": "0", "context": "local", "version": "box3-test"}  # fmt: skip
SHIPPED = MODEL_DIR / "restore.onnx"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    """{"onnx": path} of a restorer/1 file whose network is a 3x3 box blur, clipped to 0..1."""
    path = tmp_path_factory.mktemp("restorer") / "restore.onnx"
    kernel = numpy_helper.from_array(np.full((1, 1, 3, 3), 1 / 9, np.float32), "kernel")
    nodes = [
        helper.make_node("Conv", ["gray", "kernel"], ["blurred"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["blurred", "zero", "one"], ["restored"]),
    ]
    bounds = [numpy_helper.from_array(np.float32(v), name) for v, name in ((0, "zero"), (1, "one"))]
    shape = ["N", 1, "H", "W"]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("gray", "restored")]
    graph = helper.make_graph(nodes, "box3", io[:1], io[1:], [kernel, *bounds])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    helper.set_model_props(model, META)
    onnx.save(model, str(path))
    return {"onnx": path}


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


def test_restorer_reads_its_metadata_and_runs_any_multiple_and_a_batch(tiny):
    model = Restorer(tiny["onnx"])
    assert model.meta == META and model.name == "restore"
    assert (model.size_multiple, model.tile_size, model.tile_overlap, model.work_size) == (8, 128, 32, 0)
    assert (model.flips, model.global_context) == (1, False)  # absent from the metadata: no flips, local
    rng = np.random.default_rng(0)
    for n, h, w in ((1, 32, 32), (2, 64, 96), (1, 160, 32)):  # any multiple, and a batch
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
    assert SHIPPED.stat().st_size <= 10_000_000
    model = load_restorer()
    assert {"train_data", "train_steps", "train_seconds", "git_commit", "val_metrics", "version"} <= set(model.meta)
    assert int(model.meta["train_steps"]) >= 1000
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
