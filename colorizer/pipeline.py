"""The one colorization pipeline, shared by the API, CLI, app, evaluation and training-time validation.

  image (any mode) -> 8-bit luma (ITU-R 601), kept at full resolution          [once per photo]
                   -> resized so the long side is the render size, edge-padded
                      to the model's size multiple -> L* [1,1,h,w]              [once per size]
  predict(L) -> ab [1,2,h,w] -> cropped -> bilinear to full size, clamped to +-128
                   -> merged with the full-resolution L* of the luma -> sRGB    [per model]
                      uint8 (by table lookup, see colorizer.merge)

`predict` is any callable from L float32 [N,1,H,W] (0..100) to ab float32 [N,2,H,W]: an ONNX Runtime
session in the library, a PyTorch module during training.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from colorizer.color import composite_over_white, gray_to_l, rgb_to_gray, to_8bit
from colorizer.merge import merge

Predict = Callable[[np.ndarray], np.ndarray]
AB_LIMIT = 128.0


def to_gray(image: np.ndarray) -> np.ndarray:
    """Photo array -> gray uint8 HxW (ITU-R 601 luma).

    Accepts uint8 or uint16 HxW, HxWx1, HxWx3 (RGB) or HxWx4 (RGBA, composited over white).
    """
    a = np.asarray(image)
    if a.dtype == np.uint16:
        a = to_8bit(a)
    elif a.dtype != np.uint8:
        raise TypeError(f"expected a uint8 or uint16 image array, got {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return a
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected an image of shape HxW, HxWx3 or HxWx4, got {a.shape}")
    return rgb_to_gray(composite_over_white(a) if a.shape[2] == 4 else a)


def render_dims(height: int, width: int, render_size: int) -> tuple[int, int]:
    """(h, w) with the long side equal to render_size and the aspect ratio kept (each side >= 1)."""
    scale = render_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def model_input(gray: np.ndarray, render_size: int, size_multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Gray uint8 HxW -> (L float32 [1,1,h',w'] padded to the multiple, (h, w) before padding)."""
    h, w = render_dims(*gray.shape, render_size)
    small = np.asarray(Image.fromarray(gray).resize((w, h), Image.Resampling.BILINEAR))
    ph, pw = -h % size_multiple, -w % size_multiple
    lum = gray_to_l(np.pad(small, ((0, ph), (0, pw)), mode="edge"))
    return lum[None, None], (h, w)


def upsample_ab(ab: np.ndarray, height: int, width: int) -> np.ndarray:
    """ab float32 [2,h,w] -> float32 HxWx2 at (height, width), bilinear, clamped to +-128."""
    out = np.empty((height, width, 2), np.float32)
    for k in range(2):
        plane = Image.fromarray(np.ascontiguousarray(ab[k], dtype=np.float32), mode="F")
        out[..., k] = np.asarray(plane.resize((width, height), Image.Resampling.BILINEAR))
    return np.clip(out, -AB_LIMIT, AB_LIMIT, out=out)


@dataclass
class Photo:
    """The per-photo work every model shares: the 8-bit luma, gray uint8 HxW (L* = gray_to_l(gray)),
    and the model inputs made from it, cached per (render size, size multiple)."""

    gray: np.ndarray
    _inputs: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_image(cls, image: np.ndarray) -> Photo:
        """From a uint8/uint16 HxW, HxWx3 or HxWx4 array (see to_gray)."""
        gray = to_gray(image)
        if gray.size == 0:
            raise ValueError("the image is empty (0 pixels)")
        return cls(gray)

    def model_input(self, render_size: int, size_multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
        """The padded L at a render size, computed once per (render_size, size_multiple)."""
        key = (render_size, size_multiple)
        if key not in self._inputs:
            self._inputs[key] = model_input(self.gray, render_size, size_multiple)
        return self._inputs[key]

    def predict_ab(self, predict: Predict, render_size: int, size_multiple: int) -> np.ndarray:
        """Run a model at a render size: ab float32 [2,h,w], padding cropped off."""
        lum, (h, w) = self.model_input(render_size, size_multiple)
        return np.asarray(predict(lum), dtype=np.float32)[0, :, :h, :w]

    def render(self, ab: np.ndarray, saturation: float = 1.0, brightness: float = 0.0) -> np.ndarray:
        """Model ab [2,h,w] (any h, w) -> RGB uint8 HxWx3 at the photo's full size.

        saturation scales the colour (1 = as predicted); brightness shifts L* (units of L*, 0 = as is).
        """
        return merge(self.gray, ab, saturation, brightness)


def colorize_array(predict: Predict, image: np.ndarray, render_size: int, size_multiple: int) -> np.ndarray:
    """Any photo array (see to_gray) -> RGB uint8 HxWx3 of the same height and width."""
    photo = Photo.from_image(image)
    return photo.render(photo.predict_ab(predict, render_size, size_multiple))


def timed(fn: Callable, *args) -> tuple[object, float]:
    """(fn(*args), seconds it took)."""
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t
