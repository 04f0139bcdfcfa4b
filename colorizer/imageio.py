"""Reading any photo file into an array the pipeline takes, and writing tagged lossless PNGs."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from colorizer.color import composite_over_white, to_8bit

try:  # HEIC/HEIF is optional: pillow-heif registers a Pillow opener when installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:
    pass

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".avif", ".heic", ".heif", ".jp2"}
MAX_PIXELS = 200_000_000  # decompression-bomb guard: larger images are refused with a clear message
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageError(ValueError):
    """A file that is not a readable image, or one beyond the size limits.

    str(error) is "<file>: <reason>"; `reason` alone suits a user interface that already shows the file.
    """

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.reason = reason


def _to_array(im: Image.Image) -> np.ndarray:
    """Decoded PIL image -> uint8 HxW (gray modes) or HxWx3 RGB; alpha composited over white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):  # 16-bit (or 32-bit) gray
        a = np.rint(np.asarray(im, dtype=np.float64))
        return to_8bit(a) if im.mode.startswith("I;16") or a.max() > 255 else np.clip(a, 0, 255).astype(np.uint8)
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return composite_over_white(np.asarray(im.convert("RGBA")))
    if im.mode in ("1", "L"):
        im = im.convert("L")
    elif im.mode != "RGB":
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV
    return np.asarray(im)


def open_image(source: str | Path | bytes) -> np.ndarray:
    """Any supported image file (path or bytes) -> uint8 HxW (gray) or HxWx3 (RGB), EXIF orientation applied.

    16-bit, CMYK, palette and alpha images are converted (alpha over white). Raises ImageError with the
    file's name and the reason when the file cannot be read or exceeds MAX_PIXELS.
    """
    name = "image data" if isinstance(source, bytes) else str(source)
    try:
        with warnings.catch_warnings():  # our own limit below gives the clearer message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        with im:
            if im.width * im.height > MAX_PIXELS:
                raise ImageError(name, f"{im.width}x{im.height} px exceeds the limit of {MAX_PIXELS:,} pixels")
            im.load()
            return _to_array(ImageOps.exif_transpose(im))
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(name, "no such file") from None
    except Image.DecompressionBombError:
        raise ImageError(name, f"exceeds the limit of {MAX_PIXELS:,} pixels") from None
    except UnidentifiedImageError:
        raise ImageError(name, "not an image, or a format this program cannot read") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(name, f"damaged or truncated image ({e})") from None


def png_bytes(rgb: np.ndarray, text: dict[str, str] | None = None, compress_level: int = 6) -> bytes:
    """RGB uint8 HxWx3 -> lossless PNG bytes with an sRGB chunk and optional tEXt chunks.

    compress_level is zlib's 0..9: 6 is Pillow's default; 1 encodes large photos about 3x faster.
    """
    info = PngImagePlugin.PngInfo()
    info.add(b"sRGB", b"\x00")  # rendering intent: perceptual
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", pnginfo=info, compress_level=compress_level)
    return buf.getvalue()


def save_png(path: str | Path, rgb: np.ndarray, text: dict[str, str] | None = None, overwrite: bool = False) -> None:
    """Write a tagged PNG (see png_bytes). Without `overwrite`, an existing file is never replaced
    (FileExistsError). The file appears complete or not at all: written beside it, then renamed/linked.
    """
    path = Path(path)
    data = png_bytes(rgb, text)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    try:
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)  # atomic, and fails with FileExistsError if `path` exists
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: exclusive create instead
            with open(path, "xb") as f:
                f.write(data)
    finally:
        tmp.unlink(missing_ok=True)


def unique_stems(files: list[Path]) -> list[str]:
    """Output stems: the input's stem, with _2, _3, ... added where two inputs share one."""
    used: set[str] = set()
    stems = []
    for f in files:
        stem, n = f.stem, 1
        while stem in used:
            n += 1
            stem = f"{f.stem}_{n}"
        used.add(stem)
        stems.append(stem)
    return stems
