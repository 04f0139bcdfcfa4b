"""Reading any photo file into an array the pipeline takes, and writing tagged lossless PNGs."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
from isal import isal_zlib
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from colorizer.atomic import atomic_write
from colorizer.color import composite_over_white, to_8bit

try:  # HEIC/HEIF is optional: pillow-heif registers a Pillow opener when installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:
    pass

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".avif", ".heic", ".heif", ".jp2"}


class ImageError(ValueError):
    """A file that is not a readable image, or one beyond the size limits.

    str(error) is "<file>: <reason>"; `reason` alone suits a user interface that already shows the file.
    """

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.reason = reason


def _megapixels(n: int) -> str:
    """1_500_000 -> '1.5', 200_000_000 -> '200', 10**10 -> '10,000'."""
    return f"{n / 1e6:,.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Limits:
    """The largest input open_image accepts. Anything larger is refused with an ImageError before decoding.

    max_pixels   width x height as the file's header states it. Decoders never produce more pixels than
                 the header states, so a compressed bomb (a small file of a huge image) is refused unread.
    max_side     the longest side, px.
    max_file_mb  the file's size (or the bytes' length), MiB.

    LIMITS, the library's (CLI and Python API), takes the defaults below unless the environment variables
    COLORIZER_MAX_PIXELS, COLORIZER_MAX_SIDE, COLORIZER_MAX_FILE_MB say otherwise; the app starts from
    lower defaults of its own (demo/files.py) and reads the same variables.
    """

    max_pixels: int = 200_000_000
    max_side: int = 65_535  # the largest side JPEG and WebP can store; anything longer is no photograph
    max_file_mb: int = 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            if not isinstance(getattr(self, f.name), int) or getattr(self, f.name) <= 0:
                raise ValueError(f"Limits.{f.name} must be a positive whole number, got {getattr(self, f.name)!r}")

    @classmethod
    def from_env(cls, defaults: Limits | None = None) -> Limits:
        """`defaults` (default: Limits()) with each COLORIZER_MAX_* environment variable that is set applied."""
        values = {}
        for f in fields(cls):
            var = f"COLORIZER_{f.name.upper()}"
            raw = os.environ.get(var, "").strip().replace("_", "")
            if raw:
                if not raw.isdigit() or int(raw) == 0:
                    raise ValueError(f"{var}={os.environ[var]!r}: expected a positive whole number")
                values[f.name] = int(raw)
        return replace(defaults or cls(), **values)

    @property
    def max_file_bytes(self) -> int:
        """max_file_mb in bytes."""
        return self.max_file_mb * 2**20

    def check_file_size(self, name: str, nbytes: int) -> None:
        """Raise ImageError naming the file if `nbytes` exceeds max_file_mb."""
        if nbytes > self.max_file_bytes:
            raise ImageError(name, f"the file is {nbytes / 2**20:,.1f} MB; the limit is {self.max_file_mb:,} MB")

    def check_dimensions(self, name: str, width: int, height: int) -> None:
        """Raise ImageError naming the file if a width x height image exceeds max_pixels or max_side."""
        if width * height > self.max_pixels:
            raise ImageError(
                name,
                f"{width}x{height} px is {_megapixels(width * height)} megapixels; "
                f"the limit is {_megapixels(self.max_pixels)} megapixels",
            )
        if max(width, height) > self.max_side:
            side = max(width, height)
            raise ImageError(name, f"{width}x{height} px: a side of {side:,} px; the limit is {self.max_side:,} px")


LIMITS = Limits.from_env()
# Pillow's own guard (a warning above it, an error above twice it) agrees with ours; open_image checks first.
Image.MAX_IMAGE_PIXELS = LIMITS.max_pixels


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


def open_image(source: str | Path | bytes, limits: Limits | None = None) -> np.ndarray:
    """Any supported image file (path or bytes) -> uint8 HxW (gray) or HxWx3 (RGB), EXIF orientation applied.

    16-bit, CMYK, palette and alpha images are converted (alpha over white); of an animation, the first
    frame. Raises ImageError with the file's name and the reason when the file cannot be read or exceeds
    `limits` (default: LIMITS), which are checked before anything is decoded.
    """
    limits = limits or LIMITS
    name = "image data" if isinstance(source, bytes) else str(source)
    if Image.MAX_IMAGE_PIXELS and limits.max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limits.max_pixels  # a caller allows more: Pillow's guard must not refuse first
    try:
        limits.check_file_size(name, len(source) if isinstance(source, bytes) else os.stat(source).st_size)
        with warnings.catch_warnings():  # our own limit below gives the clearer message
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        with im:
            limits.check_dimensions(name, im.width, im.height)  # from the header: nothing is decoded yet
            im.load()
            return _to_array(ImageOps.exif_transpose(im))
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(name, "no such file") from None
    except IsADirectoryError:
        raise ImageError(name, "a folder, not an image file") from None
    except PermissionError:
        raise ImageError(name, "permission denied") from None
    except Image.DecompressionBombError:  # only above twice Pillow's guard, which is at least our limit
        over, limit = _megapixels(2 * Image.MAX_IMAGE_PIXELS), _megapixels(limits.max_pixels)
        raise ImageError(name, f"over {over} megapixels; the limit is {limit} megapixels") from None
    except UnidentifiedImageError:
        raise ImageError(name, "not an image, or a format this program cannot read") from None
    except MemoryError:
        raise ImageError(name, "not enough memory to open this image") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as e:
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


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _text_chunk(key: str, value: str) -> bytes:
    """A tEXt chunk (Latin-1 text), or an uncompressed iTXt chunk (UTF-8) when the text is not Latin-1."""
    try:
        return _png_chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _png_chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8"))


def fast_png_bytes(image: np.ndarray, text: dict[str, str] | None = None) -> bytes:
    """Gray uint8 HxW or RGB uint8 HxWx3 -> lossless PNG bytes with an sRGB chunk and optional text chunks.

    The same pixels and chunks as png_bytes, several times as fast as its compress_level=1, for files a little
    larger: every row takes PNG's 'Up' filter (its difference from the row above, done by numpy) and ISA-L's
    deflate compresses at level 1 (the same zlib stream format as zlib's, faster). Both release the GIL, so
    several images encode in parallel threads.
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"expected uint8 HxW or HxWx3, got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    rows = np.ascontiguousarray(image).reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = 2  # filter type Up
    filtered[0, 1:] = rows[0]  # the first row's "row above" is zeros
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # modulo 256, as PNG's filters are
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if image.ndim == 2 else 2, 0, 0, 0)
    chunks = [_png_chunk(b"IHDR", header), _png_chunk(b"sRGB", b"\x00")]  # rendering intent: perceptual
    chunks += [_text_chunk(k, v) for k, v in (text or {}).items()]
    chunks += [_png_chunk(b"IDAT", isal_zlib.compress(filtered, 1)), _png_chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def save_png(path: str | Path, rgb: np.ndarray, text: dict[str, str] | None = None, overwrite: bool = False) -> None:
    """Write a tagged PNG (see png_bytes). Without `overwrite`, an existing file is never replaced
    (FileExistsError). The file appears complete or not at all, even if the process is killed (atomic_write).
    """
    atomic_write(path, png_bytes(rgb, text), overwrite=overwrite)


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
