"""Network shapes and ranges, the pretrained encoder, ab-bin quantisation, rebalancing weights, GAN loss signs."""

import numpy as np
import pytest
import torch

from colorizer.pipeline import colorize_array
from train.colorize.bins import BINS, ab_to_bin, bin_to_ab
from train.colorize.losses import ab_histogram, d_loss, g_loss, rebalance_weights, weighted_ce
from train.colorize.model import ColorCNN, PatchDiscriminator
from train.predict import torch_predict


@pytest.fixture(scope="module")
def net() -> ColorCNN:
    """The colorizer network with its default architecture, in eval mode (random weights)."""
    return ColorCNN().eval()


def test_colorizer_shapes_and_range(net):
    m = net.size_multiple
    lum = torch.rand(2, 1, 3 * m, 5 * m) * 100
    with torch.no_grad():
        ab = net(lum)
    assert ab.shape == (2, 2, 3 * m, 5 * m)
    assert torch.isfinite(ab).all()
    assert sum(p.numel() for p in net.parameters()) <= 5_000_000  # as float16, within the 10 MB file budget


def test_encoder_batchnorm_stays_frozen_in_training():
    net = ColorCNN().train()
    norms = [(name, m.training) for name, m in net.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(not training for name, training in norms if name.startswith("encoder."))
    assert all(training for name, training in norms if not name.startswith("encoder."))


@pytest.mark.parametrize("shape", [(1, 1), (7, 301), (333, 17), (64, 64, 3), (129, 257, 4)])
def test_odd_image_sizes_through_the_pipeline(net, shape):
    image = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    out = colorize_array(torch_predict(net), image, 96, net.size_multiple)
    assert out.shape == (*shape[:2], 3) and out.dtype == np.uint8


def test_discriminator_patch_logits():
    d = PatchDiscriminator()
    out = d(torch.rand(3, 1, 64, 96) * 100, torch.randn(3, 2, 64, 96) * 20)
    assert out.shape == (3, 1, 8, 12)


def test_ab_bins_round_trip():
    centres = bin_to_ab(torch.arange(BINS * BINS))  # [Q,2]
    again = ab_to_bin(centres.T.reshape(1, 2, BINS, BINS)).flatten()
    assert torch.equal(again, torch.arange(BINS * BINS))
    ab = torch.empty(1, 2, 50, 50).uniform_(-110, 110)
    assert (bin_to_ab(ab_to_bin(ab)).permute(0, 3, 1, 2) - ab).abs().max() <= 5.0 + 1e-4  # half a cell


def test_rebalance_weights_have_unit_expectation():
    rng = np.random.default_rng(0)
    abs_ = [np.clip(rng.normal(0, 15, (40, 40, 2)), -128, 127).astype(np.int8) for _ in range(5)]
    p = ab_histogram(abs_)
    assert abs(p.sum() - 1) < 1e-9
    for lam in (0.0, 0.5, 1.0):
        w = rebalance_weights(p, lam)
        assert abs((p * w).sum() - 1) < 1e-5  # documented: sum_q p(q) w(q) == 1
        assert (w[p == 0] == 0).all()
    w = rebalance_weights(p, 0.5)
    common, rare = np.argmax(p), np.argmin(np.where(p > 0, p, np.inf))
    assert w[rare] > w[common]  # rare colours count more
    uniform = rebalance_weights(p, 1.0)
    assert np.allclose(uniform[p > 0], uniform[p > 0][0])  # lam = 1: every seen colour alike


def test_gan_losses_have_the_right_sign():
    hi, lo = torch.full((4, 1, 3, 3), 3.0), torch.full((4, 1, 3, 3), -3.0)
    # The discriminator is rewarded for scoring real high and fake low ...
    assert d_loss(hi, lo) < d_loss(lo, hi)
    # ... and the generator for fakes the discriminator scores high.
    assert g_loss(hi) < g_loss(lo)


def test_classification_head_decodes_an_annealed_mean():
    net = ColorCNN(temperature=0.38).eval()
    lum = torch.rand(1, 1, 64, 96) * 100
    with torch.no_grad():
        logits, _ = net(lum, logits=True)
        assert logits.shape == (1, BINS * BINS, 16, 24)
        # A head that is certain of one cell decodes to that cell's centre.
        net.head.weight.zero_()
        net.head.bias.fill_(-30.0)
        net.head.bias[ab_to_bin(torch.tensor([[[[20.0]], [[-40.0]]]])).item()] = 30.0
        ab = net(lum)
    assert ab.shape == (1, 2, 64, 96)
    assert torch.allclose(ab[0, :, 5, 7], torch.tensor([25.0, -35.0]), atol=1e-3)  # centre of that cell
    assert "centres" not in net.state_dict()  # derived, so checkpoints stay architecture-only


def test_prior_correction_undoes_the_rebalancing_and_folding_keeps_the_output():
    net = ColorCNN(widths=(8, 8, 8), temperature=1.0, prior_correction=1.0).eval()
    gen = torch.Generator().manual_seed(0)
    log_w = torch.randn(BINS * BINS, generator=gen)
    log_w[::3] = -torch.inf  # cells never seen in training
    net.log_weights.copy_(log_w)
    p = torch.softmax(torch.randn(BINS * BINS, generator=gen).masked_fill(log_w.isinf(), -torch.inf), 0)
    lum = torch.rand(1, 1, 32, 32, generator=gen) * 100
    with torch.no_grad():
        # A head trained with weights w estimates w * p (normalised): its logits are log w + log p.
        net.head.weight.zero_()
        net.head.bias.copy_(torch.where(log_w.isinf(), 0.0, log_w + p.log()))
        ab = net(lum)
        expected = p @ bin_to_ab(torch.arange(BINS * BINS))  # the true distribution's mean
        assert torch.allclose(ab[0, :, 9, 9], expected, atol=1e-3)
        net.head.weight.normal_(generator=gen)  # a pixel-dependent head, then fold: same output, fewer cells
        before = net(lum)
        net.fold_decoding()
        assert net.head.out_channels == int(torch.isfinite(log_w).sum())
        assert torch.allclose(net(lum), before, atol=1e-4)


def test_fades_take_the_colour_out_of_black_and_white():
    faded = ColorCNN(widths=(8, 8, 8), shadow_fade=40.0, highlight_fade=10.0).eval()
    plain = ColorCNN(widths=(8, 8, 8)).eval()
    plain.load_state_dict(faded.state_dict())
    with torch.no_grad():
        for net in (faded, plain):  # the same confident cell everywhere: ab is flat before the fades
            net.head.weight.zero_()
            net.head.bias.fill_(-30.0)
            net.head.bias[ab_to_bin(torch.tensor([[[[20.0]], [[-40.0]]]])).item()] = 30.0
        lum = torch.tensor([0.0, 10.0, 20.0, 40.0, 60.0, 90.0, 95.0, 100.0]).repeat_interleave(4)
        lum = lum[None, None, None, :].expand(1, 1, 32, 32).contiguous()
        before = faded(lum)
        ratio = (before / plain(lum))[0, :, 8, 1::4]  # per L* level, for a and b
        assert torch.allclose(faded.fold_decoding()(lum), before, atol=1e-4)  # exported as trained
    expected = torch.tensor([0.0, 0.25, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0])  # L*/40 in shadows, (100-L*)/10 near white
    assert torch.allclose(ratio, expected.expand(2, 8), atol=1e-3)


def test_weighted_ce_prefers_the_right_cell():
    target = torch.full((1, 2, 8, 8), 15.0)
    right = torch.zeros(1, BINS * BINS, 2, 2)
    right[:, ab_to_bin(torch.full((1, 2, 1, 1), 15.0)).item()] = 10.0
    assert weighted_ce(right, target, None) < weighted_ce(torch.zeros_like(right), target, None)
