"""The hint-taking network (train.colorize.hint_branch), simulated hints and their loss, the evaluation protocol,
and a trained colorizer/2 file end to end (export, library, evaluate --hints --baseline)."""

import json

import numpy as np
import pytest
import torch

import colorizer
from colorizer.hints import check_hints
from helpers import run
from train.checkpoint import load_matching
from train.colorize.hint_branch import lum_bin_weights, pool_hints
from train.colorize.hints import MAX_PATCH, hint_loss, simulate_hints
from train.colorize.metrics import PROTOCOL_PATCH, protocol_hints
from train.colorize.model import ColorCNN


def hinted_net() -> ColorCNN:
    """A hint-taking ColorCNN in eval mode, random weights (its branch starts as a plain multi-scale spread)."""
    torch.manual_seed(0)
    return ColorCNN(hint_width=8).eval()


def hint_at(n: int, h: int, w: int, y: int, x: int, ab: tuple[float, float]) -> torch.Tensor:
    """Hint maps [n,3,h,w] with one 3x3 px hint of a*b* `ab` at (y, x) on every image."""
    hints = torch.zeros(n, 3, h, w)
    hints[:, 0, y - 1 : y + 2, x - 1 : x + 2] = ab[0]
    hints[:, 1, y - 1 : y + 2, x - 1 : x + 2] = ab[1]
    hints[:, 2, y - 1 : y + 2, x - 1 : x + 2] = 1.0
    return hints


def test_no_hints_give_exactly_the_automatic_colours_and_a_hint_changes_them():
    net = hinted_net()
    lum = torch.rand(2, 1, 64, 96) * 100
    with torch.no_grad():
        auto = net(lum)
        none = net(lum, torch.zeros(2, 3, 64, 96))
        hinted = net(lum, hint_at(2, 64, 96, 30, 40, (60.0, -40.0)))
    assert torch.equal(auto, none)  # exactly, not nearly: every layer of the branch keeps zero at zero
    assert (hinted - auto).abs().amax() > 1.0


def test_fewer_hint_levels_keep_a_hint_local_with_the_same_weights():
    net = hinted_net()
    local = ColorCNN(hint_width=8, hint_levels=2).eval()
    local.load_state_dict(net.state_dict())  # a setting, not other weights
    lum = torch.rand(1, 1, 256, 256) * 100
    hints = hint_at(1, 256, 256, 20, 20, (60.0, -40.0))
    with torch.no_grad():
        auto, wide, near = net(lum), net(lum, hints), local(lum, hints)
    far = (slice(None), slice(None), slice(160, None), slice(160, None))  # the opposite corner
    assert (wide - auto)[far].abs().amax() > 1.0  # the whole-picture spread reaches it
    assert torch.equal(near[far], auto[far])  # the 1/8 and 1/16 spreads do not
    assert (near - auto)[..., 15:26, 15:26].abs().amax() > 10.0  # the hint itself still acts
    with pytest.raises(ValueError, match="hint levels"):
        ColorCNN(hint_width=8, hint_levels=5)


def test_lum_bins_keep_a_hint_off_a_surface_of_another_brightness_with_the_same_weights():
    net = hinted_net()
    aware = ColorCNN(hint_width=8, hint_lum_bins=11).eval()
    aware.load_state_dict(net.state_dict())  # the bins are a setting, not weights
    lum = torch.full((1, 1, 128, 128), 25.0)
    lum[..., 64:] = 75.0  # a dark left half, a light right half
    hints = hint_at(1, 128, 128, 60, 40, (60.0, -40.0))  # on the dark half
    with torch.no_grad():
        auto, plain, bins = net(lum), net(lum, hints), aware(lum, hints)
    light, dark = (..., slice(40, 80), slice(96, 128)), (..., slice(40, 80), slice(0, 32))
    assert (plain - auto)[light].abs().mean() > 5.0  # the plain spread runs onto the light half
    assert (bins - auto)[light].abs().mean() < 0.05 * (plain - auto)[light].abs().mean()
    assert torch.allclose(bins[dark], plain[dark], atol=1e-3)  # on its own brightness: as before
    k = lum_bin_weights(torch.tensor([50.0, 50.0, 70.0]).view(3, 1, 1, 1), 11)[..., 0, 0]  # [3,B]
    assert k[0] @ k[1] == pytest.approx(1.0) and 0.3 < k[0] @ k[2] < 0.4  # 20 L* apart: about a third
    with pytest.raises(ValueError, match="L\\* bins"):
        ColorCNN(hint_width=8, hint_lum_bins=1)


def test_pooled_hints_keep_a_one_pixel_hint_and_its_colour():
    ab, mask = torch.zeros(1, 2, 16, 16), torch.zeros(1, 1, 16, 16)
    ab[0, :, 5, 6], mask[0, 0, 5, 6] = torch.tensor([30.0, -20.0]), 1.0
    pooled_ab, pooled_mask = pool_hints(ab, mask, 4)
    assert pooled_mask[0, 0, 1, 1] == 1 and pooled_mask.sum() == 1  # the cell it falls in, at full strength
    assert torch.allclose(pooled_ab[0, :, 1, 1], torch.tensor([30.0, -20.0]))  # its colour, not diluted


def test_the_hint_branch_learns_to_follow_a_hint():
    """A few steps on the hint loss alone bring the output at a hint closer to the hint's colour."""
    net = hinted_net().train()
    lum = torch.full((1, 1, 64, 64), 60.0)
    truth = torch.zeros(1, 2, 64, 64)
    truth[:, 0], truth[:, 1] = 40.0, 30.0  # one flat orange surface
    hints = hint_at(1, 64, 64, 32, 32, (40.0, 30.0))
    opt = torch.optim.Adam(net.hints.parameters(), 3e-3)

    def error() -> float:
        with torch.no_grad():
            return float((net.eval()(lum, hints)[0, :, 32, 32] - truth[0, :, 32, 32]).norm())

    before = error()
    for _ in range(60):
        net.train()
        opt.zero_grad()
        hint_loss(net(lum, hints, logits=True)[1], truth, hints).backward()
        opt.step()
    assert error() < 0.5 * before


def test_simulated_hints_are_patches_of_the_truths_mean_colour():
    rng = np.random.default_rng(0)
    ab = rng.normal(0, 30, (64, 2, 32, 32)).astype(np.float32)
    hints = simulate_hints(rng, ab, p_none=0.0)
    assert hints.shape == (64, 3, 32, 32) and set(np.unique(hints[:, 2])) == {0.0, 1.0}
    assert (hints[:, 2].reshape(64, -1).max(1) == 1).all()  # p_none 0: every crop has a hint
    assert (hints[:, :2] * (1 - hints[:, 2:])).max() == 0  # colour only under the mask
    # A lone 1 px hint carries exactly the truth under it (bigger patches: their mean, unless overlapped).
    one = simulate_hints(np.random.default_rng(3), np.full((200, 2, 32, 32), 7.0, np.float32), p_none=0.0)
    assert np.allclose(one[:, :2][one[:, 2:].repeat(2, 1) == 1], 7.0)
    none = simulate_hints(rng, ab, p_none=1.0)
    assert not none.any()
    half = simulate_hints(np.random.default_rng(1), np.zeros((400, 2, 16, 16), np.float32), p_none=0.5)
    share = (half[:, 2].reshape(400, -1).max(1) == 0).mean()
    assert 0.4 < share < 0.6
    rows = one[:, 2].max(2)  # [n, h]: the rows a crop's patches cover; a lone patch covers 1..MAX_PATCH
    lone = one[:, 2].sum((1, 2)) == rows.sum(1) ** 2  # a square: one patch (or several that make one)
    assert lone.any() and rows[lone].sum(1).max() <= MAX_PATCH


def test_the_hint_loss_is_zero_at_the_truth_and_absent_without_hints():
    truth = torch.randn(2, 2, 16, 16) * 20
    hints = torch.zeros(2, 3, 16, 16)
    assert hint_loss(truth, truth, hints) is None
    hints[1, :2, 4:6, 4:6], hints[1, 2, 4:6, 4:6] = truth[1, :, 4:6, 4:6], 1.0
    assert hint_loss(truth, truth, hints).item() == 0.0
    assert hint_loss(truth + 5.0, truth, hints).item() == pytest.approx(1.0)  # (5 + 5) / AB_SCALE


def test_protocol_hints_are_seeded_nested_and_the_patch_mean():
    rgb = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    ten = protocol_hints(rgb, "a.jpg", 10)
    assert ten == protocol_hints(rgb, "a.jpg", 10) and protocol_hints(rgb, "a.jpg", 2) == ten[:2]
    assert protocol_hints(rgb, "b.jpg", 10) != ten
    check_hints(ten, 50, 70)  # valid for the library
    x, y, colour = ten[0]
    r = PROTOCOL_PATCH // 2
    patch = rgb[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].reshape(-1, 3)
    assert colour == tuple(int(c) for c in np.rint(patch.mean(0)))


@pytest.mark.slow
def test_a_trained_colorizer_2_file_runs_with_and_without_hints(trained):
    model = colorizer.load(trained["gan"])
    assert model.takes_hints and model.contract == colorizer.model.HINTS_CONTRACT
    image = np.random.default_rng(0).integers(0, 256, (90, 120)).astype(np.uint8)
    auto = model.colorize(image)
    assert np.array_equal(auto, model.colorize(image, hints=[]))
    hinted = model.colorize(image, hints=[(60, 45, (200, 30, 40))])
    assert hinted.shape == auto.shape and hinted.dtype == np.uint8
    assert float(model.meta["train_core_hours"]) >= 0 and model.meta["train_threads"] == "1"


@pytest.mark.slow
def test_evaluate_reports_hint_rows_with_the_baseline(trained, photo_dir, tmp_path):
    out = tmp_path / "eval"
    args = ["--data", str(photo_dir), "--models", str(trained["cnn"]), str(trained["gan"]), "--limit", "3"]
    run("-m", "train.colorize.evaluate", *args, "--hints", "0", "1", "5", "--baseline", "--foreign", "--out", str(out))
    results = json.loads((out / "results.json").read_text())
    cnn, gan = trained["cnn"].stem, trained["gan"].stem
    assert {gan, f"{gan}, 1 hint", f"{gan}, 5 hints", f"{gan} + spread, 5 hints"} <= set(results)
    assert f"{cnn}, 1 hint" not in results and f"{cnn} + spread, 1 hint" in results  # colorizer/1: baseline only
    assert "hint_dab_median" not in results[gan]
    # The spread puts each hint's colour at its own cell (ab at render size, rounding aside).
    assert 0 <= results[f"{cnn} + spread, 1 hint"]["hint_dab_median"] < 8
    assert "| median Δab at hints |" in (out / "results.md").read_text()
    assert set(results["foreign"]) == {gan} and results["foreign"][gan]["n"] == 3  # colorizer/2 models only
    assert results["foreign"][gan]["on"] >= 0 and "| one foreign hint |" in (out / "results.md").read_text()


def test_a_hint_network_starts_from_a_plain_cnns_weights_with_a_fresh_branch():
    torch.manual_seed(1)
    plain, hinted = ColorCNN(), ColorCNN(hint_width=8)
    fresh = load_matching(hinted, plain.state_dict())
    assert fresh and all(name.startswith("hints.") for name in fresh)
    shared = [k for k in plain.state_dict() if k in hinted.state_dict()]
    assert len(shared) == len(plain.state_dict())  # the plain network's every tensor, loaded
    assert all(torch.equal(hinted.state_dict()[k], plain.state_dict()[k]) for k in shared)
