"""open_image on odd modes and the size limits (bad files: test_corpus.py); save_png's tags and no-overwrite."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from corpus import gray_png
from PIL import Image

import colorizer
from colorizer.imageio import LIMITS, Limits, save_png
from helpers import ROOT


def gradient(h=40, w=60) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (h + w)], -1).astype(np.uint8)


def save(tmp_path, im: Image.Image, name: str, **kw):
    path = tmp_path / name
    im.save(path, **kw)
    return path


def test_rgb_and_gray(tmp_path):
    rgb = gradient()
    assert np.array_equal(colorizer.open_image(save(tmp_path, Image.fromarray(rgb), "a.png")), rgb)
    out = colorizer.open_image(save(tmp_path, Image.fromarray(rgb).convert("L"), "g.png"))
    assert out.shape == (40, 60) and out.dtype == np.uint8


def test_rgba_composited_over_white(tmp_path):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 3] = 0  # fully transparent black -> white
    out = colorizer.open_image(save(tmp_path, Image.fromarray(rgba, "RGBA"), "t.png"))
    assert out.shape == (10, 10, 3) and (out == 255).all()


def test_16_bit_gray_scaled_to_8_bit(tmp_path):
    a = (np.arange(256 * 4, dtype=np.uint16).reshape(16, 64) * 64).astype(np.uint16)
    out = colorizer.open_image(save(tmp_path, Image.fromarray(a), "d.png"))
    assert out.dtype == np.uint8 and out.shape == (16, 64)
    assert abs(int(out.max()) - round(int(a.max()) * 255 / 65535)) <= 1


def test_cmyk_and_palette(tmp_path):
    cmyk = Image.fromarray(gradient()).convert("CMYK")
    assert colorizer.open_image(save(tmp_path, cmyk, "c.jpg")).shape == (40, 60, 3)
    pal = Image.fromarray(gradient()).convert("P")
    assert colorizer.open_image(save(tmp_path, pal, "p.png")).shape == (40, 60, 3)
    pal_t = Image.fromarray(gradient()).convert("P")
    pal_t.info["transparency"] = 0
    assert colorizer.open_image(save(tmp_path, pal_t, "pt.png", transparency=0)).shape == (40, 60, 3)


def test_tiny_image_and_bytes_input():
    buf = io.BytesIO()
    Image.new("L", (1, 1), 128).save(buf, format="PNG")
    image = colorizer.open_image(buf.getvalue())
    assert image.shape == (1, 1)


def test_header_claiming_too_many_pixels_is_refused_before_decoding(tmp_path):
    path = tmp_path / "claims.png"
    path.write_bytes(gray_png(200, 100, idat=b""))  # a valid header and no pixel data at all
    with pytest.raises(colorizer.ImageError, match=r"claims\.png: 200x100 px is 0\.02 megapixels; the limit is 0\.01"):
        colorizer.open_image(path, Limits(max_pixels=10_000))  # the limit, not "truncated": nothing was decoded
    with pytest.raises(colorizer.ImageError, match="truncated"):
        colorizer.open_image(path)  # within the default limit it is decoded, and found empty


def test_compressed_bomb_is_refused_and_really_expands(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(gray_png(8000, 8000))  # 64 megapixels of zeros in ~60 KB
    assert path.stat().st_size < 100_000
    with pytest.raises(colorizer.ImageError, match=r"bomb\.png: 8000x8000 px is 64 megapixels; the limit is 50 "):
        colorizer.open_image(path, Limits(max_pixels=50_000_000))
    image = colorizer.open_image(path.read_bytes(), Limits(max_pixels=64_000_000))  # at the limit: decoded
    assert image.shape == (8000, 8000) and not image.any()


def test_side_and_file_size_limits(tmp_path):
    strip = tmp_path / "strip.png"
    Image.fromarray(gradient(10, 10_000)).save(strip)
    assert colorizer.open_image(strip).shape == (10, 10_000, 3)  # within the default side limit
    with pytest.raises(colorizer.ImageError, match=r"strip\.png: 10000x10 px: a side of 10,000 px; the limit is 5,000"):
        colorizer.open_image(strip, Limits(max_side=5000))
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (700, 700, 3), dtype=np.uint8)).save(noise)
    assert noise.stat().st_size > 2**20
    for source, name in ((noise, "noise.png"), (noise.read_bytes(), "image data")):
        with pytest.raises(colorizer.ImageError, match=rf"{name}: the file is 1\.4 MB; the limit is 1 MB"):
            colorizer.open_image(source, Limits(max_file_mb=1))


def test_limits_from_the_environment(monkeypatch):
    for var in ("COLORIZER_MAX_PIXELS", "COLORIZER_MAX_SIDE", "COLORIZER_MAX_FILE_MB"):
        monkeypatch.delenv(var, raising=False)
    assert Limits.from_env() == Limits() and Limits() == LIMITS  # the suite runs without these variables
    monkeypatch.setenv("COLORIZER_MAX_PIXELS", "4_000_000")
    assert Limits.from_env(Limits(max_file_mb=25)) == Limits(max_pixels=4_000_000, max_file_mb=25)
    for bad in ("lots", "0", "-5", "1.5"):
        monkeypatch.setenv("COLORIZER_MAX_PIXELS", bad)
        with pytest.raises(ValueError, match="COLORIZER_MAX_PIXELS"):
            Limits.from_env()
    with pytest.raises(ValueError, match="max_side"):
        Limits(max_side=0)


def test_the_library_limit_applies_to_the_cli(tmp_path):
    Image.fromarray(gradient(100, 100)).save(tmp_path / "a.png")
    cmd = [sys.executable, "-m", "colorizer", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--model", "cnn"]
    env = os.environ | {"COLORIZER_MAX_PIXELS": "5000"}
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 1 and "a.png: 100x100 px is 0.01 megapixels; the limit is 0.01 megapixels" in p.stderr


def test_a_caller_may_allow_more_than_pillows_guard(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after the test
    path = tmp_path / "wide.png"
    path.write_bytes(gray_png(30_000, 30_000, idat=b""))  # 900 MP: over twice Pillow's guard, no pixel data
    with pytest.raises(colorizer.ImageError, match="limit"):
        colorizer.open_image(path)
    with pytest.raises(colorizer.ImageError, match="truncated"):  # our limit, not Pillow's, decided
        colorizer.open_image(path, Limits(max_pixels=10**9))


def test_save_png_is_tagged_and_never_overwrites(tmp_path):
    rgb = gradient()
    path = tmp_path / "out.png"
    save_png(path, rgb, {"Software": "colorizer test"})
    with Image.open(path) as im:
        assert im.info.get("Software") == "colorizer test" and "srgb" in im.info
        assert np.array_equal(np.asarray(im), rgb)
    with pytest.raises(FileExistsError):
        save_png(path, rgb[::-1].copy())
    assert np.array_equal(np.asarray(Image.open(path)), rgb)  # untouched
    save_png(path, rgb[::-1].copy(), overwrite=True)
    assert np.array_equal(np.asarray(Image.open(path)), rgb[::-1])
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary files left


@pytest.mark.parametrize("fmt", ["AVIF", "HEIF", "WEBP", "TIFF", "BMP", "JPEG", "PNG"])
def test_every_advertised_format(fmt):
    buf = io.BytesIO()
    Image.fromarray(gradient()).save(buf, format=fmt)
    out = colorizer.open_image(buf.getvalue())
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8


def test_arrays_of_every_layout_reach_the_same_luma():
    from colorizer.pipeline import to_gray

    rgb = gradient()
    gray = to_gray(rgb)
    assert np.array_equal(to_gray(rgb.astype(np.uint16) * 257), gray)  # 16-bit RGB
    assert np.array_equal(to_gray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])), gray)  # opaque RGBA
    assert np.array_equal(to_gray(gray[..., None]), gray)
    with pytest.raises(TypeError):
        to_gray(rgb.astype(np.float32))
