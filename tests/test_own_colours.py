"""Photos that still have colour (colorizer.owncolour) and the restored luminance in the pipeline.

Synthetic variants of scikit-image's sample photos only: gray, sepia-toned, a yellowed print, colour, and a
faded colour print (30 % saturation, less contrast, a yellow cast, JPEG).
"""

import io
import re

import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.color import deltaE_ciede2000

import colorizer
from colorizer.color import gray_to_l, gray_to_rgb, lab_to_rgb, rgb_to_gray, rgb_to_lab
from colorizer.owncolour import THRESHOLD, detect_colour, measure_fix, restore_own_colours
from colorizer.pipeline import NO_RESTORER, Photo, get_restorer, with_luma

PHOTOS = {"astronaut": data.astronaut(), "coffee": data.coffee(), "chelsea": data.chelsea()}


def jpeg(rgb: np.ndarray, quality: int = 85) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def gray(rgb: np.ndarray) -> np.ndarray:
    return gray_to_rgb(rgb_to_gray(rgb))


def sepia(rgb: np.ndarray) -> np.ndarray:
    """Sepia toning: one hue (65°), its chroma following the tone (none at black and white, most in mid-tones)."""
    lightness = gray_to_l(rgb_to_gray(rgb))
    chroma = 20.0 * np.sin(np.pi * lightness / 100.0)
    hue = np.radians(65.0)
    return lab_to_rgb(lightness, np.stack([chroma * np.cos(hue), chroma * np.sin(hue)], -1))


def yellowed(rgb: np.ndarray) -> np.ndarray:
    """A gray print on yellowed paper: each channel of the gray scaled, plus a warm base."""
    g = rgb_to_gray(rgb).astype(np.float32)[..., None]
    return np.clip(g * np.array([1.0, 0.84, 0.62]) + np.array([12.0, 6.0, 0.0]), 0, 255).astype(np.uint8)


def faded(rgb: np.ndarray) -> np.ndarray:
    """A faded colour print: 30 % of the saturation, L* squeezed into 25..85, a yellow cast."""
    lab = rgb_to_lab(rgb)
    return lab_to_rgb(25.0 + 0.6 * lab[..., 0], lab[..., 1:] * 0.3 + np.float32([2.0, 14.0]))


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("variant", [gray, sepia, yellowed])
def test_black_and_white_photos_have_no_real_colour(name, variant):
    for image in (variant(PHOTOS[name]), jpeg(variant(PHOTOS[name]))):
        check = detect_colour(image)
        assert not check.has_colour and check.score < THRESHOLD / 2, check
    assert ("toned" in check.reason) == (variant is not gray), check.reason


@pytest.mark.parametrize("name", PHOTOS)
def test_colour_photos_have_colour(name):
    check = detect_colour(jpeg(PHOTOS[name]))
    assert check.has_colour and check.score >= THRESHOLD and "colour" in check.reason, check


def test_a_faded_colour_print_still_has_colour():
    """The astronaut (many hues) faded to 30 %: still told from a toned print. A cat or a cup of coffee faded so
    far is not (one hue family: see colorizer.owncolour's docstring)."""
    check = detect_colour(jpeg(faded(PHOTOS["astronaut"])))
    assert check.has_colour, check


def test_gray_inputs_and_tiny_images():
    assert not detect_colour(rgb_to_gray(PHOTOS["coffee"])).has_colour
    assert not Photo.from_image(rgb_to_gray(PHOTOS["coffee"])).colour.has_colour
    assert not detect_colour(np.zeros((2, 3, 3), np.uint8)).has_colour
    with pytest.raises(ValueError, match="grayscale"):
        Photo.from_image(rgb_to_gray(PHOTOS["coffee"])).own_colours()


def de00(a: np.ndarray, b: np.ndarray) -> float:
    return float(deltaE_ciede2000(rgb_to_lab(a), rgb_to_lab(b)).mean())


def test_restoring_a_faded_print_brings_its_colours_back():
    original = PHOTOS["astronaut"]
    worn = faded(original)
    fix = measure_fix(worn)
    assert all(b > 8.0 for _, b in fix.cast) and fix.defade > 1.2 and fix.contrast.gain > 1.2  # yellow, faded, flat
    restored = restore_own_colours(worn)
    assert restored.shape == original.shape and restored.dtype == np.uint8
    assert de00(original, restored) < 0.6 * de00(original, worn)
    lab = rgb_to_lab(original)
    gray_there = np.hypot(lab[..., 1], lab[..., 2]) < 5  # what was gray or white: yellow when worn, not restored
    assert (
        np.median(rgb_to_lab(worn)[gray_there][:, 2]) > 10
        and abs(np.median(rgb_to_lab(restored)[gray_there][:, 2])) < 3
    )


def test_restoring_invents_no_colour():
    """A neutral gray photo stays neutral; a photo already fine changes little."""
    plain = gray(PHOTOS["coffee"])
    out = restore_own_colours(plain).astype(int)
    assert np.abs(out - out[..., :1]).max() <= 2
    rgb = PHOTOS["astronaut"]
    assert de00(rgb, restore_own_colours(rgb)) < 3.0


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 301, 3), (300, 7, 3)])
def test_restoring_keeps_odd_sizes(shape):
    rgb = np.random.default_rng(sum(shape)).integers(0, 256, shape).astype(np.uint8)
    out = restore_own_colours(rgb, saturation=1.3, brightness=-4.0)
    assert out.shape == shape and out.dtype == np.uint8


def test_the_photo_measures_once_and_applies_the_controls():
    photo = Photo.from_image(faded(PHOTOS["astronaut"]))
    assert photo.colour.has_colour
    base, boosted = photo.own_colours(), photo.own_colours(saturation=1.5, brightness=5.0)
    assert np.array_equal(base, restore_own_colours(photo.rgb))
    base_lab, boosted_lab = rgb_to_lab(base), rgb_to_lab(boosted)
    assert boosted_lab[..., 0].mean() > base_lab[..., 0].mean() + 3.0
    assert np.hypot(*boosted_lab[..., 1:].T).mean() > 1.3 * np.hypot(*base_lab[..., 1:].T).mean()


# --- the restored luminance -----------------------------------------------------------------------------------


def test_with_luma_keeps_the_colours():
    rgb = PHOTOS["astronaut"]
    assert np.abs(with_luma(rgb, rgb_to_gray(rgb)).astype(int) - rgb).max() <= 3
    lighter = np.clip(rgb_to_gray(rgb).astype(int) + 20, 0, 255).astype(np.uint8)
    out = with_luma(rgb, lighter)
    in_gamut = (out > 0).all(-1) & (out < 255).all(-1)  # a channel clipped at 0 or 255 takes some luma with it
    assert in_gamut.mean() > 0.9 and np.abs(rgb_to_gray(out).astype(int) - lighter)[in_gamut].max() <= 2


def test_the_restored_luminance_replaces_the_photos():
    rgb = jpeg(PHOTOS["coffee"], 30)  # blocky: something for the restorer to change
    restorer = colorizer.load_restorer()
    photo = Photo.from_image(rgb, restorer)
    assert photo.restored and not np.array_equal(photo.gray, rgb_to_gray(rgb))
    assert np.array_equal(photo.gray, restorer.restore(rgb_to_gray(rgb)))
    off = np.abs(rgb_to_gray(photo.rgb).astype(int) - photo.gray)  # the own-colour path sees it too, but
    assert np.percentile(off, 99.9) <= 3  # for a few saturated pixels clipped at 0 or 255
    assert photo.own_colours().shape == rgb.shape


def test_restore_through_the_api():
    cnn = colorizer.load("cnn")
    rgb = PHOTOS["chelsea"]
    both = colorizer.compare([cnn], rgb, restore=True)
    assert both.photo.restored and set(both.seconds) == {"restore", "cnn"}
    plain = cnn.colorize(rgb)
    restored = cnn.colorize(rgb, restore=True, auto_contrast=True, saturation=1.2, brightness=3.0)
    assert restored.shape == plain.shape and not np.array_equal(restored, plain)
    assert np.array_equal(restored, both.rgb("cnn", 1.2, 3.0, auto_contrast=True))


def test_a_bad_restorer_is_refused():
    with pytest.raises(TypeError, match="restore"):
        get_restorer("yes")

    class Shrinks:
        def restore(self, gray):
            return gray[1:]

    with pytest.raises(ValueError, match="restorer returned"):
        Photo.from_image(PHOTOS["coffee"], Shrinks())


def test_restore_true_without_a_shipped_model_says_so(tmp_path, monkeypatch):
    from colorizer.pipeline import shipped_restorer

    monkeypatch.setattr("colorizer.session.MODEL_DIR", tmp_path)  # a checkout without onnx_models/restore.onnx
    shipped_restorer.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match=re.escape(NO_RESTORER)):
            get_restorer(True)
    finally:
        shipped_restorer.cache_clear()
