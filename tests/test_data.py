"""Training crops: size, flips, and the scale jitter that shows the network objects at other scales."""

import numpy as np
from PIL import Image

from train.data import PhotoBank


def ramp_photo(path, h: int = 200, w: int = 400) -> None:
    """A horizontal gray ramp 0..255 whose colour follows the gray level (a red-to-blue gradient)."""
    x = np.linspace(0, 255, w)[None, :].repeat(h, 0)
    rgb = np.stack([x, np.full_like(x, 80), 255 - x], -1).astype(np.uint8)
    Image.fromarray(rgb).save(path)


def test_scale_jitter_shrinks_a_larger_area_into_the_crop(tmp_path):
    ramp_photo(tmp_path / "ramp.png")
    bank = PhotoBank([tmp_path / "ramp.png"], max_short_side=200, min_side=64)
    spans = {}
    for scales in [(1.0, 1.0), (0.5, 0.5)]:
        lum, ab = bank.batch(np.random.default_rng(0), 8, 64, scales)
        assert lum.shape == (8, 1, 64, 64) and ab.shape == (8, 2, 64, 64)
        # The luminance change across the crop measures how much of the ramp it covers.
        spans[scales] = np.abs(lum[:, 0, :, -1] - lum[:, 0, :, 0]).mean()
        # gray and ab are cropped and resized together: the colour still follows the gray level.
        assert np.corrcoef(lum[:, 0].ravel(), ab[:, 1].ravel())[0, 1] > 0.9  # b* rises (less blue) with the gray
    assert 1.7 < spans[(0.5, 0.5)] / spans[(1.0, 1.0)] < 2.3
