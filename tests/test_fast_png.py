"""colorizer.imageio.fast_png_bytes: the app's PNG encoder is lossless and tags its files like png_bytes."""

import io

import numpy as np
import pytest
from PIL import Image

from colorizer.imageio import fast_png_bytes, png_bytes


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 3), (5, 7, 3), (181, 263, 3), (64, 640)])
def test_fast_png_round_trips_exactly_with_its_text(shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    text = {"Software": "colorizer", "Description": "AI-colourised – the colours are a guess (ΔE)"}
    with Image.open(io.BytesIO(fast_png_bytes(image, text))) as im:
        im.load()  # Pillow checks every chunk's CRC
        assert np.array_equal(np.asarray(im), image)
        assert {k: im.info[k] for k in text} == text
        assert im.info["srgb"] == 0


def test_fast_png_is_close_to_pillows_size_on_a_photo():
    y, x = np.mgrid[0:300, 0:400]
    smooth = np.stack([x * 255 // 400, y * 255 // 300, (x + y) * 255 // 700], -1)
    grain = np.random.default_rng(1).integers(-4, 5, (300, 400, 1))
    photo = np.clip(smooth + grain, 0, 255).astype(np.uint8)
    assert len(fast_png_bytes(photo)) < 1.25 * len(png_bytes(photo, compress_level=1))


def test_fast_png_refuses_other_arrays():
    with pytest.raises(ValueError, match="uint8"):
        fast_png_bytes(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        fast_png_bytes(np.zeros((4, 4, 3), np.float32))
