"""open_image on odd modes, orientations and bad files; save_png's tags and no-overwrite guarantee."""

import io

import numpy as np
import pytest
from PIL import Image

import colorizer
from colorizer.imageio import MAX_PIXELS, save_png


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


def test_exif_rotation_applied(tmp_path):
    im = Image.fromarray(gradient(40, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise for display
    out = colorizer.open_image(save(tmp_path, im, "r.jpg", exif=exif.tobytes()))
    assert out.shape[:2] == (60, 40)


def test_tiny_image_and_bytes_input():
    buf = io.BytesIO()
    Image.new("L", (1, 1), 128).save(buf, format="PNG")
    image = colorizer.open_image(buf.getvalue())
    assert image.shape == (1, 1)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_corrupt_files_raise_a_clear_error(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(colorizer.ImageError, match=r"broken\.png"):
        colorizer.open_image(path)


def test_truncated_jpeg(tmp_path):
    path = save(tmp_path, Image.fromarray(gradient(200, 200)), "cut.jpg")
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(colorizer.ImageError, match=r"cut\.jpg"):
        colorizer.open_image(path)


def test_huge_image_refused_before_decoding(tmp_path):
    side = int(MAX_PIXELS**0.5) + 100
    path = save(tmp_path, Image.new("1", (side, side)), "huge.png")  # a few KB on disk
    with pytest.raises(colorizer.ImageError, match="limit"):
        colorizer.open_image(path)


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
