"""Training data: any folder of colour photos, split by a fixed hash, decoded once and kept in memory.

PhotoBank (the colorizers) stores each photo as two arrays (about 3 bytes per pixel):
  gray  uint8 HxW    ITU-R 601 luma of the 8-bit photo: the luminance users will give us
  ab    int8  HxWx2  a*, b* of the colour original, rounded to whole Lab units (error <= 0.5)
Crops and flips are done on these arrays; L* comes from gray through an exact lookup table.
GrayBank (the restorer and the crack detector) stores the luma alone (1 byte per pixel).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from colorizer.color import gray_to_l, rgb_to_gray, rgb_to_lab
from colorizer.imageio import IMAGE_EXTS


def is_val(name: str, val_percent: int) -> bool:
    """The fixed validation split: a file is held out when sha1(file name) mod 100 < val_percent.

    Hashing the name (not the position in a listing) keeps the split stable when photos are added.
    """
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) % 100 < val_percent


def list_photos(folder: str | Path) -> list[Path]:
    """Image files at the top level of `folder`, sorted by name."""
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise FileNotFoundError(f"no photos ({', '.join(sorted(IMAGE_EXTS))}) in {folder}")
    return files


def split_photos(folder: str | Path, val_percent: int) -> tuple[list[Path], list[Path]]:
    """(train, val) file lists of `folder` under the fixed hash split."""
    files = list_photos(folder)
    val = [p for p in files if is_val(p.name, val_percent)]
    train = [p for p in files if not is_val(p.name, val_percent)]
    return train, val


def read_list(data: Path, root: Path | None) -> list[Path]:
    """Photo paths from a folder (top level) or a list file (one path per line, '#' comments; relative paths are
    resolved against `root`, by default the list file's folder)."""
    if data.is_dir():
        return list_photos(data)
    base = root or data.parent
    lines = (ln.strip() for ln in data.read_text().splitlines())
    return [base / ln for ln in lines if ln and not ln.startswith("#")]


def evenly_spaced(items: list, limit: int | None) -> list:
    """`limit` items at evenly spaced positions (deterministic, first and last included); all items if limit is
    None, 0 or larger: a short list of validation photos is still varied."""
    if not limit or limit >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def random_turn(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """HxW array (any dtype) in a random one of its 8 orientations: a quarter turn, then a mirror half of the
    time (a view, not a copy). Neither damage nor photos have a preferred way up."""
    a = np.rot90(a, int(rng.integers(4)))
    return a[:, ::-1] if rng.random() < 0.5 else a


@dataclass
class Photo:
    """One decoded photo: gray uint8 HxW and ab int8 HxWx2 (see module docstring)."""

    name: str
    gray: np.ndarray
    ab: np.ndarray


def load_rgb(path: Path, max_short_side: int | None = None) -> np.ndarray:
    """Decode a colour photo as RGB uint8 HxWx3, shrunk so its short side is at most `max_short_side`."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        scale = max_short_side / min(im.size) if max_short_side else 1.0
        if scale < 1:
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        return np.asarray(im)


def load_photo(path: Path, max_short_side: int) -> Photo:
    """Decode a colour photo (see load_rgb) and split it into 8-bit luma and int8 ab."""
    rgb = load_rgb(path, max_short_side)
    ab = np.clip(np.rint(rgb_to_lab(rgb)[..., 1:]), -128, 127).astype(np.int8)
    return Photo(path.name, rgb_to_gray(rgb), ab)


class PhotoBank:
    """All colour photos of a list in memory (gray and ab, see the module docstring), with random crops for
    training; photos whose short side is below `min_side` are left out."""

    def __init__(self, files: list[Path], max_short_side: int, min_side: int):
        photos = [load_photo(p, max_short_side) for p in files]
        self.photos = [p for p in photos if min(p.gray.shape) >= min_side]
        if not self.photos:
            raise ValueError(f"no photo has a short side of at least {min_side} px")

    def __len__(self) -> int:
        return len(self.photos)

    def batch(self, rng: np.random.Generator, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """n random size x size crops (random photo, position, horizontal flip): L float32 [n,1,size,size]
        (0..100) and ab float32 [n,2,size,size] (Lab units)."""
        lum = np.empty((n, 1, size, size), np.float32)
        ab = np.empty((n, 2, size, size), np.float32)
        for i in range(n):
            p = self.photos[rng.integers(len(self.photos))]
            h, w = p.gray.shape
            # A photo smaller than the crop is upscaled on the fly (rare: most are >= the crop).
            if min(h, w) < size:
                p = _resize_photo(p, size / min(h, w))
                h, w = p.gray.shape
            y, x = rng.integers(h - size + 1), rng.integers(w - size + 1)
            g, c = p.gray[y : y + size, x : x + size], p.ab[y : y + size, x : x + size]
            if rng.random() < 0.5:
                g, c = g[:, ::-1], c[:, ::-1]
            lum[i, 0] = gray_to_l(g)
            ab[i] = np.moveaxis(c, -1, 0)
        return lum, ab


class GrayBank:
    """The luminance (gray uint8 HxW, ITU-R 601) of every photo of a list, in memory (1 byte per pixel); photos
    whose short side is below `min_side` are left out."""

    def __init__(self, files: list[Path], max_short_side: int, min_side: int):
        grays = [rgb_to_gray(load_rgb(f, max_short_side)) for f in files]
        self.grays = [g for g in grays if min(g.shape) >= min_side]
        if not self.grays:
            raise ValueError(f"no photo has a short side of at least {min_side} px")

    def crop(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """A random size x size crop (random photo and position, random_turn), gray uint8, contiguous."""
        g = self.grays[rng.integers(len(self.grays))]
        y, x = rng.integers(g.shape[0] - size + 1), rng.integers(g.shape[1] - size + 1)
        return np.ascontiguousarray(random_turn(g[y : y + size, x : x + size], rng))


def _resize_arrays(gray: np.ndarray, ab: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Gray uint8 HxW and ab int8 HxWx2 -> both at size (w, h), bilinear (ab rounded back to int8)."""
    small = np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.BILINEAR))
    planes = [Image.fromarray(ab[..., k].astype(np.float32)).resize(size, Image.Resampling.BILINEAR) for k in range(2)]
    return small, np.clip(np.rint(np.stack(planes, -1)), -128, 127).astype(np.int8)


def _resize_photo(p: Photo, scale: float) -> Photo:
    """The photo resized by `scale` (bilinear), at least 1 px a side."""
    h, w = p.gray.shape
    return Photo(p.name, *_resize_arrays(p.gray, p.ab, (max(1, round(w * scale)), max(1, round(h * scale)))))
