"""The fast table merge agrees with the float Lab reference within its stated tolerance."""

import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.color import deltaE_ciede2000

from colorizer.color import gray_to_l, lab_to_rgb, rgb_to_gray, rgb_to_lab
from colorizer.enhance import Tone
from colorizer.merge import MAX_DE00, MEAN_DE00, merge
from colorizer.pipeline import upsample_ab


def reference(gray: np.ndarray, ab: np.ndarray) -> np.ndarray:
    return lab_to_rgb(gray_to_l(gray), upsample_ab(ab, *gray.shape))


def check(gray: np.ndarray, ab: np.ndarray, saturation: float = 1.0) -> None:
    fast, ref = merge(gray, ab, saturation), reference(gray, ab * saturation)
    assert fast.shape == (*gray.shape, 3) and fast.dtype == np.uint8 and fast.flags.c_contiguous
    de = deltaE_ciede2000(rgb_to_lab(ref), rgb_to_lab(fast))
    assert de.mean() <= MEAN_DE00, de.mean()
    assert de.max() <= MAX_DE00, de.max()


@pytest.mark.parametrize("image", [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()])
def test_real_photos(image):
    """Real luma with the photo's own chroma at a quarter of its size, as a model would give it."""
    lab = rgb_to_lab(image)
    h, w = image.shape[:2]
    small = [Image.fromarray(np.ascontiguousarray(lab[..., k])).resize((w // 4, h // 4)) for k in (1, 2)]
    check(rgb_to_gray(image), np.stack([np.asarray(s) for s in small]))


@pytest.mark.parametrize("shape", [(1, 1), (7, 301), (300, 17), (515, 389)])
def test_random_images_and_odd_sizes(shape):
    rng = np.random.default_rng(sum(shape))
    gray = rng.integers(0, 256, shape).astype(np.uint8)
    ab = rng.uniform(-90, 90, (2, max(1, shape[0] // 5), max(1, shape[1] // 3))).astype(np.float32)
    check(gray, ab)


def test_extreme_ab_is_clamped_not_wrapped():
    gray = np.full((8, 8), 128, np.uint8)
    for value in (500.0, -500.0):
        ab = np.full((2, 2, 2), value, np.float32)
        clamped = np.full((2, 2, 2), np.sign(value) * 128, np.float32)
        assert np.abs(merge(gray, ab).astype(int) - reference(gray, clamped)).max() <= 3


def test_saturation_and_brightness():
    rng = np.random.default_rng(7)
    gray = rng.integers(30, 220, (60, 80)).astype(np.uint8)
    ab = rng.uniform(-40, 40, (2, 15, 20)).astype(np.float32)
    assert np.array_equal(merge(gray, ab, saturation=0.0), np.repeat(gray[..., None], 3, -1))
    assert np.array_equal(merge(gray, ab, saturation=2.0), merge(gray, 2 * ab))
    lighter = rgb_to_lab(merge(gray, ab, tone=Tone(offset=10.0).gray_lut()))[..., 0]
    base = rgb_to_lab(merge(gray, ab))[..., 0]
    assert 8.0 < float((lighter - base).mean()) < 11.0


@pytest.mark.parametrize("saturation", [1.0, 2.5])
def test_colour_beyond_the_table_is_clamped_after_upsampling(saturation):
    """Strong colour (a boost of 2.5, or ab of +-200) next to weak colour blends as the float reference does,
    which clamps after scaling and upsampling: clamping before would move edge pixels by up to ΔE00 ~50."""
    rng = np.random.default_rng(11)
    gray = rng.integers(20, 235, (120, 160)).astype(np.uint8)
    ab = np.zeros((2, 6, 8), np.float32)
    ab[:, :, :4] = rng.uniform(-200, 200, (2, 6, 4)) / saturation
    ab[:, :, 4:] = rng.uniform(-30, 30, (2, 6, 4))
    check(gray, ab, saturation)
