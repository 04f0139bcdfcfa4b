"""Colour conversion against scikit-image's reference, and luma against Pillow's."""

import numpy as np
from skimage import color, data

from colorizer.color import gray_to_l, lab_to_rgb, rgb_to_gray, rgb_to_lab


def test_rgb_to_lab_matches_skimage():
    rng = np.random.default_rng(1)
    rgb = np.concatenate([rng.integers(0, 256, (64, 64, 3)), data.astronaut()[:64, :64]], 0).astype(np.uint8)
    np.testing.assert_allclose(rgb_to_lab(rgb), color.rgb2lab(rgb), atol=2e-3)


def test_lab_to_rgb_matches_skimage_including_out_of_gamut():
    rng = np.random.default_rng(2)
    lab = np.stack([rng.uniform(0, 100, 5000), rng.uniform(-128, 128, 5000), rng.uniform(-128, 128, 5000)], -1)
    lab = lab.reshape(50, 100, 3).astype(np.float32)
    ours = lab_to_rgb(lab[..., 0], lab[..., 1:]).astype(int)
    ref = np.rint(np.clip(color.lab2rgb(lab.astype(np.float64)), 0, 1) * 255).astype(int)
    assert np.abs(ours - ref).max() <= 1


def test_round_trip_is_exact_to_one_level():
    rgb = data.coffee()
    lab = rgb_to_lab(rgb)
    assert np.abs(lab_to_rgb(lab[..., 0], lab[..., 1:]).astype(int) - rgb.astype(int)).max() <= 1


def test_gray_lut_matches_skimage():
    levels = np.arange(256, dtype=np.uint8)
    ref = color.rgb2lab(np.repeat(levels[None, :, None], 3, -1))[0, :, 0]
    np.testing.assert_allclose(gray_to_l(levels), ref, atol=1e-3)
    assert gray_to_l(levels)[0] == 0.0 and abs(gray_to_l(levels)[255] - 100.0) < 1e-3


def test_luma_is_itu_601_exactly():
    rgb = np.random.default_rng(3).integers(0, 256, (200, 300, 3)).astype(np.uint32)
    ref = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16
    assert np.array_equal(rgb_to_gray(rgb.astype(np.uint8)), ref)
