"""A corpus of hostile and odd image files, made on the spot (never downloaded, never committed).

Each Case says what a correct reader does with its file: either a result of a given size (and, for some,
content checked by `check`) or an error that names the file and matches `error`. The library, the CLI
and the app's endpoints are all run over the same corpus.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from colorizer.color import rgb_to_gray

NOT_AN_IMAGE = "not an image"
DAMAGED = "damaged or truncated"
LIMIT = "limit"


@dataclass(frozen=True)
class Case:
    """One corpus file: how to write it, and the expected outcome.

    size is (height, width) of a correct result, or None when the file must be refused with an error
    matching `error`. check(rgb_result) makes further assertions on a correct result.
    """

    name: str
    write: Callable[[Path], None]
    size: tuple[int, int] | None = None
    error: str = ""
    check: Callable[[np.ndarray], None] | None = None


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zeros_zlib(n: int, block: int = 1 << 20) -> bytes:
    """A valid zlib stream of n zero bytes, built in milliseconds without ever holding them.

    After a full flush deflate restarts from scratch, so every further block of zeros compresses to the
    same bytes: the stream is the first block, that unit repeated, and a tail with the right checksum.
    """
    if n <= 2 * block:
        return zlib.compress(bytes(n), 9)
    c = zlib.compressobj(9)
    head = c.compress(bytes(block)) + c.flush(zlib.Z_FULL_FLUSH)
    unit = c.compress(bytes(block)) + c.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(n - block, block)
    tail = c.compress(bytes(rest)) + c.flush()
    adler = (n % 65521) << 16 | 1  # Adler-32 of n zeros: sum A stays 1, sum B grows by 1 per byte
    return head + unit * full + tail[:-4] + adler.to_bytes(4, "big")


def gray_png(width: int, height: int, idat: bytes | None = None) -> bytes:
    """An 8-bit gray PNG with the given header size; by default its data is `height` rows of zeros."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zeros_zlib(height * (width + 1)) if idat is None else idat
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def gradient(h: int, w: int) -> np.ndarray:
    """RGB uint8 HxWx3 with a different colour in every corner."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), np.full((h, w), 90)], -1).astype(np.uint8)


def _saver(array_or_image: np.ndarray | Image.Image, **kw) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        im = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
        im.save(path, **kw)

    return write


def _bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data() if callable(data) else data)


def _truncated(im: Image.Image, fmt: str, keep: float) -> Callable[[], bytes]:
    def make() -> bytes:
        buf = io.BytesIO()
        im.save(buf, format=fmt)
        data = buf.getvalue()
        return data[: int(len(data) * keep)]

    return make


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_gray(rgb).astype(int)


def _turned_right(rgb: np.ndarray) -> None:
    """The EXIF-rotated photo: the stored top-left dark block must show at the top right."""
    g = _luma(rgb)
    assert g[:8, -8:].mean() < 40 and g[:8, :8].mean() > 100 and g[-8:, -8:].mean() > 100, "wrong orientation"


def _white_where_transparent(rgb: np.ndarray) -> None:
    """RGBA: the transparent left half is composited over white (documented), the opaque right half is dark."""
    g = _luma(rgb)
    assert g[:, :10].mean() > 235 and g[:, -10:].mean() < 60, "transparency not composited over white"


def _stays(level: int) -> Callable[[np.ndarray], None]:
    def check(rgb: np.ndarray) -> None:
        assert abs(_luma(rgb).mean() - level) <= 3, f"an all-{level} image came back at {_luma(rgb).mean():.0f}"

    return check


def _gray16() -> np.ndarray:
    return (np.arange(64 * 48).reshape(48, 64) * 21).astype(np.uint16)  # 0..64491: uses the 16 bits


def _orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value  # 6: the stored image must be turned 90 degrees clockwise for display
    return exif.tobytes()


def _exif_rotated() -> Image.Image:
    a = np.full((40, 60), 200, np.uint8)
    a[:12, :12] = 0  # dark block at the stored top-left
    return Image.fromarray(a)


def _rgba() -> np.ndarray:
    rgba = np.zeros((30, 40, 4), np.uint8)  # black
    rgba[:, 20:, 3] = 255  # left half fully transparent, right half opaque
    return rgba


def _animated_gif(path: Path) -> None:
    frames = [Image.fromarray(np.full((24, 32), v, np.uint8)).convert("P") for v in (30, 220, 120)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _stays_first_frame(rgb: np.ndarray) -> None:
    assert abs(_luma(rgb).mean() - 30) <= 4, "not the first frame of the animation"


CASES = [
    Case("empty.jpg", _bytes(b""), error=NOT_AN_IMAGE),
    Case("text renamed.jpg", _bytes(b"Dear diary, this is not a photo.\n" * 20), error=NOT_AN_IMAGE),
    Case("truncated.jpg", _bytes(_truncated(Image.fromarray(gradient(300, 400)), "JPEG", 0.5)), error=DAMAGED),
    Case("truncated.png", _bytes(_truncated(Image.fromarray(gradient(300, 400)), "PNG", 0.5)), error=DAMAGED),
    Case("claims 100000x100000.png", _bytes(gray_png(100_000, 100_000, zlib.compress(bytes(1000)))), error=LIMIT),
    Case("bomb 16000x16000.png", _bytes(lambda: gray_png(16_000, 16_000)), error=LIMIT),  # 256 MP, ~250 KB
    # Deflate data far longer than the header's 64x64 needs: decoding stops at the header's size.
    Case("overlong data.png", _bytes(lambda: gray_png(64, 64, zeros_zlib(300 << 20))), size=(64, 64)),
    Case("1x1.png", _saver(np.full((1, 1), 128, np.uint8)), size=(1, 1)),
    Case("2x3.png", _saver(gradient(3, 2)), size=(3, 2)),
    Case("strip 10000x10.png", _saver(gradient(10, 10_000)), size=(10, 10_000)),
    Case("gray16.png", _saver(Image.fromarray(_gray16())), size=(48, 64)),
    Case("cmyk.jpg", _saver(Image.fromarray(gradient(50, 70)).convert("CMYK")), size=(50, 70)),
    Case("palette.gif", _saver(Image.fromarray(gradient(40, 30)).convert("P")), size=(40, 30)),
    Case("animated.gif", _animated_gif, size=(24, 32), check=_stays_first_frame),
    Case("transparent.png", _saver(_rgba()), size=(30, 40), check=_white_where_transparent),
    Case("exif rotated.jpg", _saver(_exif_rotated(), exif=_orientation(6)), size=(60, 40), check=_turned_right),
    Case("black.png", _saver(np.zeros((32, 48), np.uint8)), size=(32, 48), check=_stays(0)),
    Case("white.jpg", _saver(np.full((32, 48, 3), 255, np.uint8)), size=(32, 48), check=_stays(255)),
    Case("vieille photo de Zoë à Kraków 写真.jpg", _saver(gradient(45, 35)), size=(45, 35)),
]


def write_corpus(folder: Path) -> list[Case]:
    """Write every case's file into `folder` (created); return the cases."""
    folder.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        case.write(folder / case.name)
    return CASES
