"""Training from an exported file (train.colorize.from_onnx, --init-from x.onnx), retraining the hint branch alone
(hints_only), and the recoloured surfaces that teach hints where to stop (train.colorize.hints.recolour)."""

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch
from skimage import data as skdata

import colorizer
from colorizer.pipeline import Photo
from helpers import ROOT, run
from train.checkpoint import load_checkpoint
from train.colorize.config import ColorizeConfig
from train.colorize.from_onnx import calibrate_batchnorms, read_onnx, unfolded_state
from train.colorize.hints import CHROMA, recolour, simulate_hints
from train.colorize.losses import log_cell_weights
from train.colorize.model import build_colorizer
from train.colorize.trainer import ColorizeTrainer

SHIPPED_CNN = ROOT / "onnx_models" / "cnn.onnx"


def rebuilt(path) -> torch.nn.Module:
    """The network of an exported file as a trainable ColorCNN in eval mode (every cell's log weight 0)."""
    _, meta = read_onnx(path)
    model = build_colorizer(meta["arch"], json.loads(meta["arch_args"]))
    model.load_state_dict(unfolded_state(model, path, np.zeros(model.log_weights.shape, np.float32))[0])
    return model.eval()


def test_the_shipped_cnn_rebuilt_from_its_file_computes_what_the_file_does():
    model = rebuilt(SHIPPED_CNN)
    session = ort.InferenceSession(str(SHIPPED_CNN), providers=["CPUExecutionProvider"])
    photo = Photo.from_image(skdata.coffee())
    lum = photo.model_input(256, 32)[0]
    drawn = photo.hint_input([(200, 150, (200, 40, 40)), (500, 300, (40, 60, 200))], 256, 32)
    for hints in (np.zeros_like(drawn), drawn):
        with torch.no_grad():
            ours = model(torch.from_numpy(lum), torch.from_numpy(hints)).numpy()
        assert np.abs(ours - session.run(None, {"L": lum, "hints": hints})[0]).max() < 1e-3
    # The decoder's BatchNorms calibrated on this batch: the same in eval mode, and in train mode (batch statistics).
    before = model(torch.from_numpy(lum)).detach()
    calibrate_batchnorms(model, torch.from_numpy(lum))
    assert not model.training
    assert (model(torch.from_numpy(lum)).detach() - before).abs().max() < 1e-3
    assert (model.train()(torch.from_numpy(lum)).detach() - before).abs().max() < 1e-3
    assert not model.encoder._bn0.training  # the encoder's statistics stay frozen


def test_unfolding_keeps_the_cells_the_file_dropped_dropped():
    model = rebuilt(SHIPPED_CNN)
    kept = read_onnx(SHIPPED_CNN)[0]["head.weight"].shape[0]
    assert torch.isfinite(model.log_weights).sum() == kept < model.log_weights.numel()
    assert model.head.weight[~torch.isfinite(model.log_weights)].abs().max() == 0


def test_a_recoloured_surface_is_one_connected_region_and_gets_the_hints():
    lum = np.full((8, 1, 64, 64), 30.0, np.float32)
    lum[..., 16:48, 16:48] = 70.0  # a light square on a dark ground, eight times
    ab = np.zeros((8, 2, 64, 64), np.float32)
    rng = np.random.default_rng(0)
    new, surfaces = recolour(rng, lum, ab, p=1.0)
    square = np.zeros((64, 64), bool)
    square[16:48, 16:48] = True
    found = [i for i, s in enumerate(surfaces) if s is not None]
    assert found and not np.shares_memory(new, ab)
    for i, surface in enumerate(surfaces):  # the ground covers too much of the crop to be chosen
        assert surface is None or np.array_equal(surface, square)
        changed = np.abs(new[i] - ab[i]).max(0) > 0
        assert np.array_equal(changed, square if surface is not None else np.zeros_like(square))
    i = found[0]
    assert CHROMA[0] <= np.hypot(*new[i][:, square].mean(1)) <= CHROMA[1]
    hints = simulate_hints(rng, new, p_none=1.0, surfaces=surfaces)  # a recoloured crop always gets hints
    assert all(hints[j, 2].any() == (j in found) for j in range(8))
    inside = hints[i, 2].astype(bool) & square
    assert inside.any()
    # the new colour, not the old one (a patch across the edge takes the mean under it)
    assert np.isclose(hints[i, :2][:, inside], new[i][:, inside]).all(0).any()


@pytest.mark.slow
def test_hints_only_retrains_the_branch_of_an_exported_file_and_nothing_else(trained, photo_dir, tmp_path):
    path = trained["gan"]  # a colorizer/2 file, exported with a decoding of its own (conftest.trained)
    meta = colorizer.load(path).meta
    fields = {"val_images": 2, "val_percent": 20, "crop_sizes": [64], "batch_pixels": 4 * 64 * 64}
    cfg = ColorizeConfig(
        model="gan", arch=meta["arch"], arch_args=json.loads(meta["arch_args"]), init_from=str(path), hints_only=True,
        p_no_hints=0.0, p_recolour=0.5, steps=3, eval_every=3, ckpt_every=3, ema_decay=0.0, **fields,
    )  # fmt: skip
    trainer = ColorizeTrainer(cfg, photo_dir, tmp_path / "run")
    assert trainer.disc is None and trainer.losses == ("hint",)
    assert trainer.init_cpu_seconds == pytest.approx(float(meta["train_core_hours"]) * 3600)
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.run(3)
    end = load_checkpoint(tmp_path / "run" / "last.pt")["model"]
    changed = {k for k, v in end.items() if not torch.equal(v, start[k])}
    assert changed and all(k.startswith("hints.") for k in changed)
    out = tmp_path / "retrained.onnx"
    run("-m", "export", str(tmp_path / "run" / "last.pt"), "-o", str(out), "--render-size", meta["render_size"])
    gray = np.asarray(skdata.camera()[::4, ::4])
    before, after = colorizer.load(path), colorizer.load(out)
    assert np.abs(before.colorize(gray).astype(int) - after.colorize(gray)).max() <= 1  # no hints: the same
    hints = [(20, 20, (220, 30, 30))]
    assert not np.array_equal(before.colorize(gray, hints=hints), after.colorize(gray, hints=hints))
    assert float(after.meta["train_core_hours"]) >= float(meta["train_core_hours"])


def test_hints_only_needs_a_hint_branch_and_a_network_to_start_from(photo_dir, tmp_path):
    with pytest.raises(ValueError, match="hints_only"):
        ColorizeTrainer(ColorizeConfig(model="cnn", hints_only=True, val_images=2), photo_dir, tmp_path / "run")


def test_the_run_uses_its_own_rarity_weights_when_unfolding():
    weights = log_cell_weights(np.full(26 * 26, 1 / 676), 0.5)
    _, meta = read_onnx(SHIPPED_CNN)
    model = build_colorizer(meta["arch"], json.loads(meta["arch_args"]))
    state, _, fresh = unfolded_state(model, SHIPPED_CNN, weights)
    assert not fresh
    kept = torch.isfinite(state["log_weights"])
    assert torch.equal(state["log_weights"][kept], torch.from_numpy(weights)[kept])


def test_a_full_run_from_the_shipped_file_starts_where_the_file_is(photo_dir, tmp_path):
    meta = read_onnx(SHIPPED_CNN)[1]
    cfg = ColorizeConfig(
        model="cnn", arch=meta["arch"], arch_args=json.loads(meta["arch_args"]), init_from=str(SHIPPED_CNN),
        freeze_encoder_steps=0, p_no_hints=0.0, val_images=2, val_percent=20, crop_sizes=[64], batch_pixels=2 * 64 * 64,
    )  # fmt: skip
    trainer = ColorizeTrainer(cfg, photo_dir, tmp_path / "run")
    assert trainer.init_cpu_seconds == pytest.approx(float(meta["train_core_hours"]) * 3600)
    lum = Photo.from_image(skdata.camera()).model_input(256, 32)[0]
    session = ort.InferenceSession(str(SHIPPED_CNN), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {"L": lum, "hints": np.zeros((1, 3, *lum.shape[2:]), np.float32)})[0]
    with torch.no_grad():
        ours = trainer.model.eval()(torch.from_numpy(lum)).numpy()
    assert np.abs(ours - theirs).max() < 1e-3
    losses = trainer.train_step()  # the whole network trains: the cross-entropy and the hints' loss
    assert {"ce", "hint"} <= losses.keys() and np.isfinite(losses["ce"])
