"""Enhancement (colorizer.enhance): the auto-contrast curve, and the same outcome by the table route (a gray-level
table before the merge) as by the direct route (the curve and the boost on full-resolution Lab)."""

import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.color import deltaE_ciede2000

from colorizer.color import gray_to_l, lab_to_rgb, rgb_to_gray, rgb_to_lab
from colorizer.enhance import (
    MAX_GAIN,
    PERCENTILES,
    Tone,
    adjust_colours,
    contrast_stretch,
    enhance_rgb,
    lightness_histogram,
    map_rgb,
    percentile_levels,
)
from colorizer.merge import MEAN_DE00
from colorizer.pipeline import Photo, upsample_ab

PHOTOS = {"astronaut": data.astronaut(), "coffee": data.coffee(), "chelsea": data.chelsea()}


def low_contrast_gray(rgb: np.ndarray) -> np.ndarray:
    """The photo's luma squeezed into 40..193, so that auto-contrast has work to do."""
    return (40 + 0.6 * rgb_to_gray(rgb)).astype(np.uint8)


def own_ab(rgb: np.ndarray, factor: int = 4) -> np.ndarray:
    """The photo's own a*b* at 1/factor of its size, float32 [2,h,w]: what a model would predict at best."""
    lab, (h, w) = rgb_to_lab(rgb), rgb.shape[:2]
    small = [Image.fromarray(np.ascontiguousarray(lab[..., k])).resize((w // factor, h // factor)) for k in (1, 2)]
    return np.stack([np.asarray(s) for s in small])


def de00(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return deltaE_ciede2000(rgb_to_lab(a), rgb_to_lab(b))


@pytest.mark.parametrize(
    ("low", "high", "expect_low", "expect_high"),
    [
        (10.0, 90.0, 0.0, 100.0),  # gain 1.25, under the cap: a full stretch
        (0.0, 100.0, 0.0, 100.0),  # already full range: left alone
        (30.0, 70.0, 20.0, 80.0),  # faded: gain capped, the unused 40 L* shared 50/50 as before
        (0.0, 40.0, 0.0, 60.0),  # a dark photo stays dark
        (60.0, 95.0, 60.0 * 47.5 / 65.0, 60.0 * 47.5 / 65.0 + 52.5),  # a misty one stays light
    ],
)
def test_contrast_stretch_is_capped_and_keeps_the_key(low, high, expect_low, expect_high):
    curve = contrast_stretch(low, high)
    assert 1.0 <= curve.gain <= MAX_GAIN
    np.testing.assert_allclose(curve(np.array([low, high])), [expect_low, expect_high], atol=1e-4)


def test_percentiles_of_a_histogram_are_numpys_nearest_rank():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, 5000).astype(np.uint8)
    levels = gray_to_l(np.arange(256, dtype=np.uint8))
    got = percentile_levels(np.bincount(gray, minlength=256), levels, PERCENTILES)
    np.testing.assert_allclose(got, np.percentile(gray_to_l(gray), PERCENTILES, method="inverted_cdf"), atol=1e-5)
    counts, bins = lightness_histogram(gray_to_l(gray))
    np.testing.assert_allclose(percentile_levels(counts, bins, PERCENTILES), got, atol=0.05)


def test_auto_contrast_stretches_a_flat_photo_and_spares_a_full_one():
    full = Photo(rgb_to_gray(data.astronaut()))
    assert full.tone(auto_contrast=True).gain < 1.1
    flat = Photo(low_contrast_gray(data.astronaut()))
    curve = flat.tone(auto_contrast=True)
    assert curve.gain == MAX_GAIN
    before = np.percentile(gray_to_l(flat.gray), PERCENTILES)
    after = np.percentile(gray_to_l(curve.gray_lut()[flat.gray]), PERCENTILES)
    assert np.ptp(after) > 1.45 * np.ptp(before)
    assert Photo(flat.gray).render(np.zeros((2, 4, 4), np.float32), auto_contrast=False).min() >= 40  # off: as is


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize(
    ("saturation", "brightness", "auto_contrast"), [(1, 0, True), (1.5, 5, True), (0.5, -10, False)]
)
def test_table_route_equals_the_direct_route(name, saturation, brightness, auto_contrast):
    """Full-resolution ab (even whole units, so upsampling and rounding are exact): the only difference left is the
    tone table's rounding to gray levels; within 1/255 but at a few gamut-clipped pixels, mean ΔE00 <= 0.5."""
    rgb = PHOTOS[name]
    photo = Photo(low_contrast_gray(rgb))
    ab = np.rint(own_ab(rgb, factor=1) * 0.35) * 2
    table = photo.render(ab, saturation, brightness, auto_contrast)
    curve = photo.tone(auto_contrast, brightness)
    direct = lab_to_rgb(curve(gray_to_l(photo.gray)), np.moveaxis(ab * saturation, 0, -1))
    diff = np.abs(table.astype(int) - direct)
    assert diff.max() <= 2 and (diff > 1).mean() < 1e-3
    assert de00(table, direct).mean() <= 0.5


@pytest.mark.parametrize("name", PHOTOS)
def test_enhancing_costs_the_merge_no_accuracy(name):
    """Against the float Lab reference (curve and boost on full-resolution float L*, ab upsampled in float), the
    enhanced table merge is within 0.05 ΔE00 of the plain merge's own error, and within its tolerance."""
    rgb = PHOTOS[name]
    photo, ab = Photo(low_contrast_gray(rgb)), own_ab(rgb)
    lightness, up = gray_to_l(photo.gray), upsample_ab(ab * 1.3, *photo.gray.shape)
    plain = de00(photo.render(ab, 1.3), lab_to_rgb(lightness, up)).mean()
    curve = photo.tone(auto_contrast=True, brightness=4.0)
    enhanced = de00(photo.render(ab, 1.3, 4.0, auto_contrast=True), lab_to_rgb(curve(lightness), up)).mean()
    assert enhanced <= max(plain + 0.05, MEAN_DE00)


@pytest.mark.parametrize("name", PHOTOS)
def test_enhancing_the_rendered_result_matches_the_table_route(name):
    """The route a result saved first would take (enhance_rgb: the L* percentiles of its RGB, on a smaller copy,
    through a 3D table) gives what Photo.render gives: mean ΔE00 <= 0.5."""
    rgb = PHOTOS[name]
    photo, ab = Photo(low_contrast_gray(rgb)), own_ab(rgb)
    table = photo.render(ab, 1.0, 6.0, auto_contrast=True)
    later = enhance_rgb(photo.render(ab), brightness=6.0, auto_contrast=True)
    assert de00(table, later).mean() <= 0.5


def test_the_3d_table_follows_the_float_transform():
    rgb = data.astronaut()
    curve = Tone(1.3, -12.0)
    exact = adjust_colours(rgb, curve, 1.6)
    fast = map_rgb(rgb, lambda c: adjust_colours(c, curve, 1.6))
    assert fast.shape == rgb.shape and fast.dtype == np.uint8
    de = de00(exact, fast)
    assert de.mean() <= 0.5 and np.percentile(de, 99) <= 2.0


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 301, 3), (300, 17, 3)])
def test_enhance_rgb_keeps_size_and_identity(shape):
    rgb = np.random.default_rng(sum(shape)).integers(0, 256, shape).astype(np.uint8)
    assert np.array_equal(enhance_rgb(rgb), rgb)
    out = enhance_rgb(rgb, 1.4, -5.0, auto_contrast=True)
    assert out.shape == shape and out.dtype == np.uint8
