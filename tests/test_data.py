"""Training data: the fixed hash split, and random crops that keep a photo's colour on its gray."""

import numpy as np
from PIL import Image

from train.data import GrayBank, PhotoBank, evenly_spaced, is_val, split_photos


def ramp_photo(path, h: int = 200, w: int = 400) -> None:
    """A horizontal gray ramp 0..255 whose colour follows the gray level (a red-to-blue gradient)."""
    x = np.linspace(0, 255, w)[None, :].repeat(h, 0)
    rgb = np.stack([x, np.full_like(x, 80), 255 - x], -1).astype(np.uint8)
    Image.fromarray(rgb).save(path)


def test_colour_crops_cut_gray_and_ab_together(tmp_path):
    ramp_photo(tmp_path / "ramp.png")
    bank = PhotoBank([tmp_path / "ramp.png"], max_short_side=200, min_side=64)
    lum, ab = bank.batch(np.random.default_rng(0), 8, 64)
    assert lum.shape == (8, 1, 64, 64) and ab.shape == (8, 2, 64, 64) and lum.dtype == ab.dtype == np.float32
    assert lum.min() >= 0 and lum.max() <= 100
    # gray and ab are cropped and flipped together: the colour still follows the gray level
    assert np.corrcoef(lum[:, 0].ravel(), ab[:, 1].ravel())[0, 1] > 0.9  # b* rises (less blue) with the gray
    again = bank.batch(np.random.default_rng(0), 8, 64)
    assert np.array_equal(again[0], lum) and np.array_equal(again[1], ab)  # the same crops for a seed


def test_gray_crops_come_in_every_orientation(tmp_path):
    noise = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)  # no symmetry at all
    Image.fromarray(noise).save(tmp_path / "noise.png")
    bank = GrayBank([tmp_path / "noise.png"], max_short_side=128, min_side=64)
    rng = np.random.default_rng(0)
    crops = [bank.crop(rng, 128) for _ in range(40)]  # the whole photo: only its orientation differs
    assert all(c.dtype == np.uint8 and c.shape == (128, 128) and c.flags.c_contiguous for c in crops)
    assert len({c.tobytes() for c in crops}) == 8  # 4 quarter turns x mirrored or not


def test_the_split_is_fixed_by_file_name_and_shared_by_every_product(photo_dir):
    train, val = split_photos(photo_dir, 20)
    assert val and train and not set(train) & set(val)
    assert all(is_val(p.name, 20) for p in val) and not any(is_val(p.name, 20) for p in train)
    assert evenly_spaced(val, 2) == [val[0], val[-1]]
