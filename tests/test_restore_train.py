"""The restorer's training side: synthetic damage, exact resume, the measurement script; and the library's tiling
arithmetic with stand-in networks (no model needed)."""

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer.restore import (
    Restorer,
    blend_weights,
    effective_work_size,
    flip_averaged,
    restore_full,
    restore_scaled,
    tile_spans,
)
from helpers import TINY_RESTORE, run, straight_and_resumed, synthetic_photo
from train.checkpoint import load_checkpoint
from train.restore.config import RestoreConfig
from train.restore.degrade import (
    ISSUE_RANGES,
    KINDS,
    TRAIN_KINDS,
    TRAIN_RANGES,
    Damage,
    add_print_damage,
    apply_damage,
    draw,
    mixed_damage,
    print_damage,
    random_damage,
    tone,
)
from train.restore.evaluate import GROUPS, PSNR_CAP, damaged_pair, pair_rng
from train.restore.trainer import LOSSES, PSNR_EPS, RestoreTrainer, as_batch, crop_mse, training_pair, training_target

CLEAN = synthetic_photo(np.random.default_rng(5), 150, 170).mean(axis=2).round().astype(np.uint8)
RANDOM_KINDS = ("noise", "grain", "dust", "scratches", "cracks")  # blur and JPEG draw nothing beyond a strength


@pytest.mark.parametrize("kind", TRAIN_KINDS)
def test_each_damage_is_deterministic_for_a_seed(kind):
    # the issue's strongest (cracks: training's); dense dust, so that a small photo gets some spots
    strength = (TRAIN_RANGES | ISSUE_RANGES)[kind][1] * (300 if kind == "dust" else 1)
    damage = Damage(**{kind: strength})
    a, b = (apply_damage(CLEAN, damage, np.random.default_rng(3)) for _ in range(2))
    assert a.dtype == np.uint8 and a.shape == CLEAN.shape
    assert np.array_equal(a, b) and not np.array_equal(a, CLEAN)
    if kind in RANDOM_KINDS:
        assert not np.array_equal(a, apply_damage(CLEAN, damage, np.random.default_rng(4)))


def test_random_combinations_and_evaluation_pairs_are_deterministic():
    for seed in range(5):
        draws = [random_damage(np.random.default_rng(seed), 0.5) for _ in range(2)]
        assert draws[0] == draws[1]
        assert mixed_damage(np.random.default_rng(seed)) == mixed_damage(np.random.default_rng(seed))
        assert 2 <= len(mixed_damage(np.random.default_rng(seed)).kinds()) <= 4
        assert np.array_equal(tone(CLEAN, np.random.default_rng(seed)), tone(CLEAN, np.random.default_rng(seed)))
    for group in GROUPS:
        (t1, d1), (t2, d2) = (damaged_pair(CLEAN, group, pair_rng(0, 2, group)) for _ in range(2))
        assert np.array_equal(t1, t2) and np.array_equal(d1, d2)
        assert np.array_equal(t1, d1) == (group in ("clean", "low_contrast"))


def test_a_kind_can_come_alone():
    rng = np.random.default_rng(0)
    alone = {"jpeg": 0.5, "dust": 0.5}
    draws = [random_damage(rng, 1.0, p_alone=alone).kinds() for _ in range(200)]
    assert all(k in (["jpeg"], ["dust"]) for k in draws) and ["jpeg"] in draws and ["dust"] in draws
    draws = [random_damage(rng, 1.0, p_alone={"jpeg": 0.3}).kinds() for _ in range(200)]
    assert 30 < draws.count(["jpeg"]) < 90 and draws.count(list(KINDS)) == 200 - draws.count(["jpeg"])
    # no p_alone draws nothing extra from the random stream
    a, b = np.random.default_rng(1), np.random.default_rng(1)
    assert random_damage(a, 0.4) == random_damage(b, 0.4, p_alone={}) and a.random() == b.random()


def test_strengths_stay_in_their_ranges():
    rng = np.random.default_rng(0)
    for kind in KINDS:
        lo, hi = ISSUE_RANGES[kind]
        assert all(lo <= draw(kind, rng, ISSUE_RANGES) <= hi for _ in range(50))


def test_scale_makes_the_same_damage_larger():
    big = np.asarray(Image.fromarray(CLEAN).resize((340, 300), Image.Resampling.LANCZOS))
    s1 = apply_damage(CLEAN, Damage(scratches=3), np.random.default_rng(0))
    s2 = apply_damage(big, Damage(scratches=3, scale=2.0), np.random.default_rng(0))
    # the same paths, twice as long and twice as wide: about 4 times the pixels (2 times if only longer)
    assert np.sum(s2 != big) > 3 * np.sum(s1 != CLEAN)


def test_a_sharpened_scan_fringes_its_damage():
    flat = np.full((96, 96), 128, np.uint8)
    for seed in range(4):  # one scratch, light or dark: sharpened, it has fringes of the other sign beside it
        plain = apply_damage(flat, Damage(scratches=1), np.random.default_rng(seed)).astype(int)
        sharp = apply_damage(flat, Damage(scratches=1, sharpen=2.0), np.random.default_rng(seed)).astype(int)
        assert plain.min() == 128 or plain.max() == 128
        assert sharp.min() < 128 < sharp.max()


def test_training_pairs_keep_tone_and_leave_clean_crops_alone():
    cfg = RestoreConfig(p_tone=0.0, p_clean=0.0, p_each=1.0)
    damaged, target = training_pair(CLEAN, cfg, np.random.default_rng(0))
    assert target is CLEAN and damaged.shape == CLEAN.shape and not np.array_equal(damaged, CLEAN)
    clean_in, clean_target = training_pair(CLEAN, replace(cfg, p_clean=1.0), np.random.default_rng(0))
    assert clean_in is clean_target is CLEAN  # nothing to repair: the identity pair
    faded_in, faded = training_pair(CLEAN, replace(cfg, p_tone=1.0, p_clean=1.0), np.random.default_rng(0))
    assert faded_in is faded and faded.std() < CLEAN.std()  # a faded photo is a target, not damage


def cracked_print() -> np.ndarray:
    """A stand-in scanned print, gray uint8 120x100: textured mid-gray with a long light crack 2 px wide (rows
    60-61), a wide light square (rows 10-39, columns 10-39) and a light speck of 3x3 px (rows 90-92, columns 80-82)."""
    g = (110 + np.random.default_rng(1).normal(0, 3, (120, 100))).round()
    g[60:62, 5:95] += 80
    g[10:40, 10:40] += 80
    g[90:93, 80:83] += 80
    return g.clip(0, 255).astype(np.uint8)


def test_a_prints_damage_layer_takes_its_cracks_and_leaves_its_picture():
    layer = print_damage(cracked_print())
    assert layer.dtype == np.float32 and layer.shape == (120, 100)
    assert (layer[60:62, 10:90] > 70 / 255).all()  # the crack, nearly all its 80 levels
    assert not layer[:45, :45].any() and not layer[85:, 75:].any()  # wide (the square) or short (the speck)
    assert np.abs(layer[:, :5]).max() < 10 / 255 and np.abs(layer[56:59]).max() < 10 / 255  # texture, ~0 on avg
    # added to another photo at a random place, turn and mirror: the same for a seed, tiled where it is smaller
    x = np.full((128, 256), 0.4, np.float32)
    a, b = (add_print_damage(x, [layer], np.random.default_rng(2)) for _ in range(2))
    assert np.array_equal(a, b) and a.shape == x.shape and (a - x).max() > 40 / 255
    assert not np.array_equal(a, add_print_damage(x, [layer], np.random.default_rng(3)))


# ---- the library's tiling arithmetic, with stand-in networks ------------------------------------------------


def test_tile_spans_cover_with_the_overlap_on_the_grid():
    for length in (32, 96, 512, 520, 1000 // 8 * 8, 4096):
        spans = tile_spans(length, 256, 64, 8)
        assert spans[0][0] == 0 and spans[-1][0] + spans[-1][1] == length
        assert all(s % 8 == 0 and n % 8 == 0 and n <= 256 for s, n in spans)
        assert all(a + n - b >= 64 for (a, n), (b, _) in itertools.pairwise(spans))
        total = np.zeros(length)
        for w, (s, n) in zip(blend_weights(spans, length, 64), spans):
            total[s : s + n] += w
        assert np.allclose(total, 1.0)


def test_flip_averaging_cancels_what_a_network_does_by_side():
    gray = np.random.default_rng(0).random((1, 1, 16, 24), dtype=np.float32)
    ramp = np.arange(24, dtype=np.float32)[None, None, None, :] / 100 + np.arange(16)[None, None, :, None] / 50

    def lopsided(x: np.ndarray) -> np.ndarray:  # a stand-in network that adds more at the right and the bottom
        return x + ramp

    for flips, even_axes in ((1, ()), (2, (3,)), (4, (2, 3))):
        added = flip_averaged(lopsided, flips)(gray) - gray
        for axis in (2, 3):
            assert np.allclose(np.diff(added, axis=axis), 0, atol=1e-6) == (axis in even_axes)
    with pytest.raises(ValueError, match="flips"):
        flip_averaged(lopsided, 3)


def test_a_global_context_caps_the_working_size_at_one_tile():
    assert effective_work_size(0, 1024, global_context=False) == 0  # full resolution, tiled
    assert effective_work_size(2048, 1024, global_context=False) == 2048
    assert effective_work_size(0, 1024, global_context=True) == 1024  # the whole photo in one tile
    assert effective_work_size(2048, 1024, global_context=True) == 1024
    assert effective_work_size(512, 1024, global_context=True) == 512


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (333, 517), (700, 129)])
def test_identity_network_gives_the_input_back_exactly(shape):
    gray = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    for out in (restore_full(gray, lambda x: x, 128, 32, 8), restore_scaled(gray, lambda x: x, 128, 32, 8, 100)):
        assert np.array_equal(out, gray)


def test_working_resolution_adds_the_enlarged_correction():
    gray = np.random.default_rng(0).integers(0, 200, (1001, 603), dtype=np.uint8)
    lift = lambda x: x + 10 / 255  # noqa: E731  a constant correction of 10 levels, found at any resolution
    out = restore_scaled(gray, lift, 128, 32, 8, 300)
    assert np.array_equal(out, gray + 10)  # added at full resolution: every detail of the input kept


# ---- training: exact resume, and the measurement script ------------------------------------------------------


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path, photo_dir):
    cfg = RestoreConfig(**TINY_RESTORE | {"p_alone": {"jpeg": 0.2}, "hard_clean": 2})  # every random stream
    straight, resumed = straight_and_resumed(lambda out, resume: RestoreTrainer(cfg, photo_dir, out, resume), tmp_path)
    for part in ("model", "ema"):
        ours, reference = getattr(resumed, part).state_dict(), getattr(straight, part).state_dict()
        for name, value in reference.items():
            assert torch.equal(ours[name], value), f"{part}.{name}"
    ck = load_checkpoint(tmp_path / "b" / "last.pt")
    assert ck["kind"] == "restorer" and ck["step"] == 4 and ck["config"]["crop_size"] == 64
    assert set(ck["val_metrics"]["groups"]) == set(GROUPS)


@pytest.mark.slow
def test_measurement_script_writes_every_group_and_the_old_prints_sheet(tmp_path, photo_dir):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in TINY_RESTORE.items() if k != "arch_args"))
    run("-m", "train.restore", "--data", str(photo_dir), "--out", str(tmp_path / "run"), "--config", str(cfg))
    old = tmp_path / "old"
    old.mkdir()
    Image.fromarray(synthetic_photo(np.random.default_rng(0), 90, 70)).save(old / "bopbtl_x.png")
    cracked = np.full((400, 520, 3), 60, np.uint8)  # a dark print with a light crack across the patch it reads
    cracked[250:330, 430:433] = 200
    Image.fromarray(cracked).save(old / "bopbtl_a.jpg", quality=95)
    out, sheet = tmp_path / "eval", tmp_path / "sheet.png"
    run("-m", "train.restore.evaluate", str(tmp_path / "run" / "last.pt"), "--data", str(photo_dir), "--limit", "3",
        "--out", str(out), "--old-photos", str(old), "--sheet", str(sheet))  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    assert list(results["groups"]) == list(GROUPS) and "| mixed |" in (out / "results.md").read_text()
    for group, r in results["groups"].items():
        assert r["n"] == 3 and set(r) >= {"psnr_in", "psnr_out", "ssim_in", "ssim_out", "gain"}
        assert (r["psnr_in"] == PSNR_CAP) == (group in ("clean", "low_contrast"))
    assert Image.open(sheet).size[0] > 4 * 90
    changed = results["old_prints"]["bopbtl_x"]
    assert 0 <= changed["over_2_pct"] <= changed["changed_pct"] <= 100
    assert -100 < results["real_cracks_removed_pct"] < 100  # a 4-step network: neither all nor nothing
    assert results["real_cracks_removed_pct"] != 0


@pytest.mark.slow
def test_init_from_grows_the_context_and_the_gate_and_the_export_keeps_any_size(tmp_path, photo_dir):
    source = RestoreTrainer(RestoreConfig(**TINY_RESTORE), photo_dir, tmp_path / "a")
    source.run(2)
    source.save(evaluate=False)
    grown_args = TINY_RESTORE["arch_args"] | {"global_context": True, "gate": True}
    cfg = RestoreConfig(**TINY_RESTORE | {"arch_args": grown_args, "init_from": str(tmp_path / "a" / "last.pt")})
    grown = RestoreTrainer(cfg, photo_dir, tmp_path / "b")
    assert grown.step == 2  # the run goes on from the source's step
    x = torch.rand(1, 1, 64, 96)
    with torch.no_grad():
        assert torch.equal(grown.ema(x), source.ema(x))  # context zero, gate open: the source network
    grown.run(4)  # both learn
    assert grown.model.context.weight.abs().sum() > 0 and grown.model.gate.weight.abs().sum() > 0
    grown.save(evaluate=False)
    run("-m", "export.restorer", str(tmp_path / "b" / "last.pt"), "-o", str(tmp_path / "r.onnx"), "--flips", "2")
    model = Restorer(tmp_path / "r.onnx")  # the export checked the parity with PyTorch
    assert model.flips == 2
    gray = CLEAN[:90, :100]
    averaged = flip_averaged(model.predict, 2)
    assert np.array_equal(model.restore(gray), restore_full(gray, averaged, 1024, 64, model.size_multiple))
    for h, w in ((64, 96), (160, 32)):  # any multiple of 32
        gray = np.random.default_rng(h).random((1, 1, h, w), dtype=np.float32)
        assert model.predict(gray).shape == (1, 1, h, w)
    # the exported file can start a run too (where the checkpoint is gone): the same network, at the same step
    again = RestoreTrainer(replace(cfg, init_from=str(tmp_path / "r.onnx")), photo_dir, tmp_path / "c")
    assert again.step == 4
    with torch.no_grad():
        assert torch.equal(again.ema(x), grown.ema(x))


@pytest.mark.parametrize("name", ["mse", "rmse"])
def test_the_losses_weigh_a_nearly_clean_crop_against_a_damaged_one(name):
    # halve the error of crop 0 (4 levels off) or of crop 1 (40 levels off): what each gains, large / small, is
    # 100 with mse (the squares), 10 with rmse
    target = torch.zeros(2, 1, 8, 8)
    errors = torch.tensor([4.0, 40.0])[:, None, None, None] / 255

    def loss(scale0: float, scale1: float) -> float:
        scale = torch.tensor([scale0, scale1])[:, None, None, None]
        return LOSSES[name](target + errors * scale, target).item()

    base = loss(1, 1)
    small, large = base - loss(0.5, 1), base - loss(1, 0.5)  # what halving each error gains
    assert large / small == pytest.approx({"mse": 100, "rmse": 10}[name], rel=0.05)
    same = LOSSES[name](target, target).item()
    assert same == pytest.approx({"mse": 0, "rmse": PSNR_EPS**0.5}[name])


@pytest.mark.slow
def test_init_from_widens_the_network_as_the_same_function_and_refuses_a_narrower_one(tmp_path, photo_dir):
    source = RestoreTrainer(RestoreConfig(**TINY_RESTORE), photo_dir, tmp_path / "a")
    source.run(2)
    source.save(evaluate=False)
    x = torch.rand(1, 1, 64, 96)
    wider = TINY_RESTORE["arch_args"] | {"widths": [12, 20, 24]}
    cfg = RestoreConfig(**TINY_RESTORE | {"arch_args": wider, "init_from": str(tmp_path / "a" / "last.pt")})
    grown = RestoreTrainer(cfg, photo_dir, tmp_path / "b")
    with torch.no_grad():
        torch.testing.assert_close(grown.ema(x), source.ema(x), atol=1e-6, rtol=0)  # the source network
    cross = grown.model.enc2[0][0].weight[:16, 8:]  # old outputs x new inputs: zero at the start, then learnt
    assert not cross.any()
    grown.run(4)
    assert cross.abs().sum() > 0
    narrower = TINY_RESTORE["arch_args"] | {"widths": [8, 16, 8]}
    cfg = replace(cfg, arch_args=narrower)
    with pytest.raises(ValueError, match="does not fit"):
        RestoreTrainer(cfg, photo_dir, tmp_path / "c")


@pytest.mark.slow
def test_bfloat16_training_follows_the_float32_run_and_keeps_float32_weights(tmp_path, photo_dir):
    losses, trainers = {}, {}
    for bf16 in (False, True):  # the same seed: the same crops, damage and initial weights
        trainers[bf16] = RestoreTrainer(RestoreConfig(**TINY_RESTORE | {"bf16": bf16}), photo_dir, tmp_path / f"{bf16}")
        losses[bf16] = [trainers[bf16].train_step()["loss"] for _ in range(4)]
    assert losses[True] == pytest.approx(losses[False], rel=0.02)
    assert losses[True][1:] != losses[False][1:]  # autocast was on (step 0 is the identity network in both)
    tensors = [*trainers[True].model.state_dict().values(), *trainers[True].ema.state_dict().values()]
    assert all(t.dtype == torch.float32 for t in tensors)


def test_hard_clean_crops_are_ones_the_network_changes_more_than_random_ones(tmp_path, photo_dir):
    cfg = RestoreConfig(**TINY_RESTORE | {"hard_clean": 4, "p_clean": 1.0})  # every crop undamaged, mined
    trainer = RestoreTrainer(cfg, photo_dir, tmp_path)
    torch.nn.init.normal_(trainer.model.head.weight, std=0.05)  # no longer the identity: crops differ in change

    def change(x: torch.Tensor) -> float:  # the network's mean squared change of a batch
        with torch.no_grad():
            return float(crop_mse(trainer.model(x), x).mean())

    mined = trainer.hardest_clean(24)  # each the most changed of 4
    assert len(mined) == 24 and all(c.shape == (64, 64) and c.dtype == np.uint8 for c in mined)
    rand = [training_target(trainer.bank.crop(trainer.rng, 64), trainer.cfg, trainer.rng) for _ in range(96)]
    assert change(as_batch(mined)) > 1.15 * change(as_batch(rand))  # seeded: 1.23; random picks would give about 1
    x, y = trainer.batch()  # the mined crops take the undamaged places: identity pairs
    assert x.shape == (4, 1, 64, 64) and torch.equal(x, y)
    assert change(x) > 1.15 * change(as_batch(rand))


@pytest.mark.slow
def test_grad_clip_bounds_the_gradients_norm_and_reports_it(tmp_path, photo_dir):
    cfg = RestoreConfig(**TINY_RESTORE | {"grad_clip": 1e-7})
    trainer = RestoreTrainer(cfg, photo_dir, tmp_path)
    for _ in range(2):  # step 0 is the identity network: its head alone has a gradient
        norm = trainer.train_step()["grad_norm"]
    clipped = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in trainer.model.parameters()]))
    assert norm > 1e-6 and float(clipped) <= 1.01e-7
