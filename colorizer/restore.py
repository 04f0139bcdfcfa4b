"""Restoration of a photo's luminance (scratches, dust, grain, noise, JPEG blocks, softness) with a restorer/1
ONNX model: loading, the contract check, tiling and the working resolution. No torch.

The contract (restorer/1): one input `gray` float32 [N,1,H,W] (the photo's 8-bit gray / 255, 0..1), one output
`restored` of the same shape and range; H and W any multiple of metadata `size_multiple` (a multiple of 32
always works). metadata_props carry contract, task, size_multiple, tile_size, tile_overlap, work_size, flips,
context and the training provenance (train_data, train_steps, ...). The model repairs local damage only: a clean
photo, even a faded low-contrast one, comes back as it went in.

Any size, bounded memory: the photo is cut into tiles of at most tile_size px a side that overlap by at least
tile_overlap px, and the tiles' outputs are blended with linear ramps across each overlap; rows are finished and
handed back one tile row at a time, so the network's memory does not grow with the photo (tiled_rows).
Working resolution: a photo whose long side exceeds work_size is shrunk to it for the network, and the
correction it makes (restored - input) is enlarged and added to the full-resolution luminance, strip by strip.
Damage is repaired at the scale the model learnt it (its training photos are 256 px on the short side, so dust
and cracks on a large scan are many pixels wide) and the time stays bounded, while every detail of the
original that the model leaves alone survives untouched.
A cracked print: onnx_models/cracks.onnx, the same contract, fills what its detector takes for cracks, scratches
and dust from the pixels around them (train.restore.crack_model). It also takes some thin light lines of a picture
for cracks, so it runs only when asked, before the restorer (Chain; colorizer.pipeline, restore="cracks").
flips (absent: 1): the network's output is averaged over the photo and 1 or 3 of its mirror images (flip_averaged).
context "global" (absent: "local"): the model's output depends on its whole input (it looks at the whole photo
before judging whether fine texture is grain), so tiles would each see a different photo. Such a model is never
tiled: its working size is capped at tile_size, so the photo, or its shrunk copy, is one tile.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from colorizer.session import OnnxModel, shipped_path

RESTORER_CONTRACT = "restorer/1"
SHIPPED_RESTORER = "restore"  # onnx_models/restore.onnx
SHIPPED_CRACKS = "cracks"  # onnx_models/cracks.onnx: the crack filler, run before the restorer on a cracked print
STRIP_ROWS = 256  # output rows enlarged and added at a time on the working-resolution path
Predict = Callable[[np.ndarray], np.ndarray]  # gray float32 [1,1,h,w] 0..1 -> restored, same shape
FLIPS = {1: [()], 2: [(), (3,)], 4: [(), (3,), (2,), (2, 3)]}  # mirror images averaged: axes of [N,1,H,W] flipped


def round_up(n: int, multiple: int) -> int:
    """The smallest multiple of `multiple` that is >= n."""
    return -(-n // multiple) * multiple


def tile_spans(length: int, tile: int, overlap: int, multiple: int) -> list[tuple[int, int]]:
    """(start, size) of the fewest equal tiles, each at most `tile` long, covering 0..length (a multiple of
    `multiple`) with at least `overlap` between neighbours; starts and size are multiples of `multiple` (so every
    tile sees the network's stride grid where the whole image would), the first at 0, the last ending at length."""
    if tile < overlap + 2 * multiple:
        raise ValueError(f"tile size {tile} is too small for an overlap of {overlap} px")
    n = 1
    while (size := round_up(math.ceil((length + (n - 1) * (overlap + multiple)) / n), multiple)) > tile:
        n += 1
    size = min(size, length)
    if n == 1:
        return [(0, size)]
    # evenly spread, rounded down to the multiple: the extra `multiple` in `size` keeps every overlap >= overlap
    starts = [k * (length - size) // (n - 1) // multiple * multiple for k in range(n)]
    return [(s, size) for s in starts[:-1]] + [(length - size, size)]


def blend_weights(spans: list[tuple[int, int]], length: int, overlap: int) -> list[np.ndarray]:
    """Per tile, float32 weights along one axis that sum to 1 at every position: 1 inside, a linear ramp over
    the inner half of each overlap with a neighbour (the outer quarter, where a tile sees its own border, gets
    none). 2-D weights are the outer products of the two axes' weights, and sum to 1 too."""
    ramp_start, ramp = overlap / 4, max(overlap / 2, 1.0)
    weights, total = [], np.zeros(length, np.float32)
    for k, (start, size) in enumerate(spans):
        i = np.arange(size, dtype=np.float32) + 0.5
        w = np.ones(size, np.float32)
        if k > 0:
            w = np.minimum(w, np.clip((i - ramp_start) / ramp, 0, 1))
        if k < len(spans) - 1:
            w = np.minimum(w, np.clip((size - i - ramp_start) / ramp, 0, 1))
        weights.append(w)
        total[start : start + size] += w
    return [w / total[s : s + n] for w, (s, n) in zip(weights, spans)]


def tiled_rows(
    gray: np.ndarray, predict: Predict, tile: int, overlap: int, multiple: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Run `predict` over gray uint8 HxW tile by tile; yields (y0, rows) in order, rows float32 [k,W] in 0..1
    (the restored rows y0..y0+k), one tile row at a time. The photo is padded (mirrored) to the size multiple
    and cropped back. Memory: one tile row of float32 accumulators, whatever the height."""
    h, w = gray.shape
    hp, wp = round_up(h, multiple), round_up(w, multiple)
    padded = np.pad(gray, ((0, hp - h), (0, wp - w)), mode="symmetric")
    ys, xs = tile_spans(hp, tile, overlap, multiple), tile_spans(wp, tile, overlap, multiple)
    wy, wx = blend_weights(ys, hp, overlap), blend_weights(xs, wp, overlap)
    acc, acc_y = np.zeros((0, wp), np.float32), 0  # rows acc_y.. of the open tile row, weighted sums
    for k, ((y0, th), wyk) in enumerate(zip(ys, wy)):
        carried = acc[y0 - acc_y :]  # rows the previous tile row left unfinished
        acc, acc_y = np.zeros((th, wp), np.float32), y0
        acc[: len(carried)] = carried
        for (x0, tw), wxk in zip(xs, wx):
            x = padded[y0 : y0 + th, x0 : x0 + tw].astype(np.float32)[None, None] / 255.0  # [1,1,th,tw]
            out = np.asarray(predict(x), dtype=np.float32)[0, 0]
            acc[:, x0 : x0 + tw] += out * wyk[:, None] * wxk[None, :]
        done = min(ys[k + 1][0] if k + 1 < len(ys) else hp, h)  # rows above the next tile row are final
        if done > y0:
            yield y0, acc[: done - y0, :w]


def flip_averaged(predict: Predict, flips: int) -> Predict:
    """`predict` averaged over the input and its mirror images, each mirrored back: flips 1 (as is), 2 (+ left-right)
    or 4 (+ up-down and both), for as many runs of the network. Damage has no handedness, and a network's errors
    partly do, so the average repairs a little better (docs/restoration.md). Gray float32 [N,1,H,W], 0..1."""
    if flips not in FLIPS:
        raise ValueError(f"flips must be one of {sorted(FLIPS)}, got {flips}")
    if flips == 1:
        return predict

    def averaged(gray: np.ndarray) -> np.ndarray:
        total = np.zeros(gray.shape, np.float32)
        for axes in FLIPS[flips]:
            total += np.flip(predict(np.ascontiguousarray(np.flip(gray, axes))), axes)
        return total / flips

    return averaged


def effective_work_size(work_size: int, tile_size: int, global_context: bool) -> int:
    """The working size to use (0 = full resolution): a model with global context gets at most one tile's."""
    if global_context and (work_size == 0 or work_size > tile_size):
        return tile_size
    return work_size


def restore_full(gray: np.ndarray, predict: Predict, tile: int, overlap: int, multiple: int) -> np.ndarray:
    """gray uint8 HxW -> restored uint8 HxW, the network run at full resolution (tiled)."""
    out = np.empty_like(gray)
    for y0, rows in tiled_rows(gray, predict, tile, overlap, multiple):
        out[y0 : y0 + len(rows)] = np.clip(np.rint(rows * 255.0), 0, 255)
    return out


def restore_scaled(
    gray: np.ndarray,
    predict: Predict,
    tile: int,
    overlap: int,
    multiple: int,
    work_size: int,
    global_context: bool = False,
) -> np.ndarray:
    """gray uint8 HxW -> restored uint8 HxW, the network run at a long side of `work_size` px when that is
    smaller than the photo's (0: always at full resolution; with global_context at most one tile's,
    effective_work_size): the correction it makes there is enlarged (bilinear) and added to the full-resolution
    gray, STRIP_ROWS rows at a time (memory: the small copy's float32 correction and one strip)."""
    work_size = effective_work_size(work_size, tile, global_context)
    h, w = gray.shape
    if not work_size or max(h, w) <= work_size:
        return restore_full(gray, predict, tile, overlap, multiple)
    scale = work_size / max(h, w)
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(gray).resize((sw, sh), Image.Resampling.LANCZOS))
    correction = np.empty((sh, sw), np.float32)  # restored - input, in 8-bit levels
    for y0, rows in tiled_rows(small, predict, tile, overlap, multiple):
        correction[y0 : y0 + len(rows)] = rows * 255.0 - small[y0 : y0 + len(rows)]
    plane, fy = Image.fromarray(correction), sh / h  # mode F
    out = np.empty_like(gray)
    for r0 in range(0, h, STRIP_ROWS):
        r1 = min(h, r0 + STRIP_ROWS)  # the strip's rows, and the box they cover in the small correction
        up = plane.resize((w, r1 - r0), Image.Resampling.BILINEAR, box=(0, r0 * fy, sw, r1 * fy))
        out[r0:r1] = np.clip(np.rint(gray[r0:r1] + np.asarray(up)), 0, 255)
    return out


def changed_share(before: np.ndarray, after: np.ndarray, levels: int = 2) -> float:
    """Share (0..1) of pixels that restoration moved by more than `levels`: before and after gray uint8 HxW, the
    same shape. Counted STRIP_ROWS rows at a time, so a huge scan needs no full-size temporary. It tells a user
    whether the restorer found anything to repair (it leaves what it takes for picture, cracks included)."""
    if before.shape != after.shape:
        raise ValueError(f"shapes differ: {before.shape} and {after.shape}")
    moved = 0
    for r0 in range(0, before.shape[0], STRIP_ROWS):
        diff = np.abs(before[r0 : r0 + STRIP_ROWS].astype(np.int16) - after[r0 : r0 + STRIP_ROWS])
        moved += int(np.count_nonzero(diff > levels))
    return moved / max(1, before.size)


class Restorer(OnnxModel):
    """One loaded restorer/1 model: an ONNX Runtime session plus its contract metadata."""

    contracts: ClassVar[dict] = {RESTORER_CONTRACT: (("gray",), ("restored",))}

    def __init__(self, path: str | Path, name: str | None = None):
        super().__init__(path, name)
        self.size_multiple = int(self.meta["size_multiple"])
        self.tile_size, self.tile_overlap = int(self.meta["tile_size"]), int(self.meta["tile_overlap"])
        self.work_size = int(self.meta["work_size"])  # 0: always full resolution
        self.global_context = self.meta.get("context", "local") == "global"  # never tiled (module docstring)
        self.flips = int(self.meta.get("flips", 1))  # mirror images averaged (flip_averaged)

    def predict(self, gray: np.ndarray) -> np.ndarray:
        """gray float32 [N,1,H,W] (0..1, H and W multiples of size_multiple) -> restored float32 [N,1,H,W]: one run
        of the network (restore() averages `flips` of them)."""
        return self.session.run(["restored"], {"gray": gray})[0]

    def restore(self, gray: np.ndarray, work_size: int | None = None) -> np.ndarray:
        """Photo luminance, gray uint8 HxW (any size) -> restored gray uint8 HxW, same size.

        work_size: long side (px) above which the network runs on a shrunk copy (default: the model's; 0 = always
        at full resolution; a model with global context caps it at its tile size). Memory stays bounded by the
        tile size, whatever the photo's size.
        """
        gray = np.asarray(gray)
        if gray.dtype != np.uint8 or gray.ndim != 2:
            raise TypeError(f"expected gray uint8 HxW, got {gray.dtype} {gray.shape}")
        if gray.size == 0:
            raise ValueError("the image is empty (0 pixels)")
        size = self.work_size if work_size is None else work_size
        args = (flip_averaged(self.predict, self.flips), self.tile_size, self.tile_overlap, self.size_multiple)
        return restore_scaled(gray, *args, size, self.global_context)

    def __repr__(self) -> str:
        return (f"Restorer({self.name!r}, tile={self.tile_size}, work_size={self.work_size}, flips={self.flips}, "
                f"provider={self.provider})")  # fmt: skip


class Chain:
    """Restorers run one after the other, as one: e.g. the crack filler, then the restorer (colorizer.pipeline's
    restore="cracks"). name: theirs joined by '+'."""

    def __init__(self, *parts: Restorer):
        self.parts = parts
        self.name = "+".join(p.name for p in parts)

    def restore(self, gray: np.ndarray) -> np.ndarray:
        """gray uint8 HxW -> gray uint8 HxW, through every part in turn."""
        for part in self.parts:
            gray = part.restore(gray)
        return gray

    def __repr__(self) -> str:
        return f"Chain({', '.join(map(repr, self.parts))})"


def load_restorer(name_or_path: str | Path = SHIPPED_RESTORER) -> Restorer:
    """Load a shipped restorer/1 model ('restore': onnx_models/restore.onnx; 'cracks': the crack filler,
    onnx_models/cracks.onnx), checked against MANIFEST.json first as the colorizers are (ManifestError if missing
    or altered), or a restorer/1 .onnx file by path."""
    name = str(name_or_path)
    return Restorer(shipped_path(name), name) if name in (SHIPPED_RESTORER, SHIPPED_CRACKS) else Restorer(name_or_path)
