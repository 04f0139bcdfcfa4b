"""The one colorization pipeline, shared by the API, CLI, app, evaluation and training-time validation.

  image (any mode) -> 8-bit luma (ITU-R 601), kept at full resolution          [once per photo]
                   -> resized so the long side is the render size, edge-padded
                      to the model's size multiple -> L* [1,1,h,w]              [once per size]
  predict(L) -> ab [1,2,h,w] -> cropped -> x saturation -> bilinear to full size, clamped to +-128
                   -> merged with the full-resolution L* of the luma,          [per model and render]
                      through the tone table (auto-contrast, brightness: colorizer.enhance)
                   -> sRGB uint8 (by table lookup, see colorizer.merge)

A restorer (anything with `.restore(gray uint8 HxW) -> gray uint8 HxW`, e.g. the shipped restoration model, or for
a cracked print the crack filler and then that model) repairs the luma first; for a colour input the restored luma
also replaces the colour image's own (`with_luma`), so the own-colour path (colorizer.owncolour) starts from the
repaired photo too.

`predict` is any callable from L float32 [N,1,H,W] (0..100) to ab float32 [N,2,H,W]: an ONNX Runtime
session in the library, a PyTorch module during training; with colour hints it also takes their map
(colorizer.hints.hint_map, at the padded render size).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from PIL import Image

from colorizer.color import composite_over_white, gray_to_l, rgb_to_gray, to_8bit
from colorizer.enhance import GRAY_LEVELS, Tone, tone
from colorizer.hints import Hint, hint_map
from colorizer.merge import merge
from colorizer.owncolour import ColourCheck, OwnColourFix, detect_colour, measure_fix, restore_own_colours
from colorizer.restore import SHIPPED_CRACKS, SHIPPED_RESTORER, Chain, load_restorer
from colorizer.session import is_shipped

Predict = Callable[..., np.ndarray]
AB_LIMIT = 128.0
NO_RESTORER = "no restoration model shipped yet (onnx_models/restore.onnx)"


class SupportsRestore(Protocol):
    """Anything that repairs a photo's luma: gray uint8 HxW -> gray uint8 HxW of the same size."""

    def restore(self, gray: np.ndarray) -> np.ndarray: ...


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Photo array -> uint8 HxW (gray) or HxWx3 (RGB).

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
    return composite_over_white(a) if a.shape[2] == 4 else a


def to_gray(image: np.ndarray) -> np.ndarray:
    """Photo array (as for to_uint8) -> gray uint8 HxW (ITU-R 601 luma)."""
    a = to_uint8(image)
    return a if a.ndim == 2 else rgb_to_gray(a)


def with_luma(rgb: np.ndarray, gray: np.ndarray) -> np.ndarray:
    """RGB uint8 HxWx3 with its ITU-R 601 luma replaced by gray uint8 HxW (its Cb and Cr kept): RGB uint8 HxWx3.

    Y'CbCr's Y' is the very luma of rgb_to_gray, so with gray = rgb_to_gray(rgb) the colours come back within
    a level or two (Pillow's 8-bit conversions).
    """
    ycc = Image.fromarray(np.ascontiguousarray(rgb, np.uint8)).convert("YCbCr")
    _, cb, cr = ycc.split()
    return np.asarray(
        Image.merge("YCbCr", (Image.fromarray(np.ascontiguousarray(gray, np.uint8)), cb, cr)).convert("RGB")
    )


def get_restorer(restore: bool | str | SupportsRestore | None) -> SupportsRestore | None:
    """The restorer `restore` asks for: None for False/None, the shipped model for True, the crack filler and then
    the shipped model for "cracks" (a cracked print: colorizer.restore.Chain), else the object itself."""
    if restore is None or restore is False:
        return None
    if restore is True or restore == "cracks":
        return shipped_restorer(restore == "cracks")
    if not callable(getattr(restore, "restore", None)):
        raise TypeError(
            f"restore must be True, False, 'cracks' or an object with .restore(gray), got {type(restore).__name__}"
        )
    return restore


@functools.cache
def shipped_restorer(cracks: bool = False) -> SupportsRestore:
    """The shipped restoration model (colorizer.restore), loaded once per process; with cracks=True the crack
    filler (onnx_models/cracks.onnx) chained in front of that same model. (Called with `cracks` positional, so the
    cache has one key per value.)

    FileNotFoundError (NO_RESTORER) while onnx_models/ has none and its manifest lists none; a listed one that
    is missing or altered gets the manifest's own message (ManifestError) from the loader.
    """
    names = [SHIPPED_CRACKS, SHIPPED_RESTORER] if cracks else [SHIPPED_RESTORER]
    for name in names:
        if not is_shipped(name):
            missing = NO_RESTORER if name == SHIPPED_RESTORER else f"no crack filler shipped ({name}.onnx)"
            raise FileNotFoundError(missing)
    return Chain(load_restorer(SHIPPED_CRACKS), shipped_restorer(False)) if cracks else load_restorer()


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
    """The per-photo work every model shares.

    gray      the 8-bit luma, uint8 HxW (L* = gray_to_l(gray)); restored when `restored`
    rgb       a colour input as RGB uint8 HxWx3 with that same luma (the input array itself unless converted
              or restored), for the own-colour path; None for a gray input
    restored  whether a restorer has repaired the luma
    Model inputs (per render size and size multiple), the luma histogram, the colour check and the own-colour
    correction are computed once, when first needed.
    """

    gray: np.ndarray
    rgb: np.ndarray | None = None
    restored: bool = False
    _inputs: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_image(cls, image: np.ndarray, restorer: SupportsRestore | None = None) -> Photo:
        """From a uint8/uint16 HxW, HxWx3 or HxWx4 array (see to_uint8); `restorer` repairs the luma first."""
        a = to_uint8(image)
        if a.size == 0:
            raise ValueError("the image is empty (0 pixels)")
        photo = cls(a) if a.ndim == 2 else cls(rgb_to_gray(a), a)
        return photo if restorer is None else photo.restore(restorer)

    def restore(self, restorer: SupportsRestore) -> Photo:
        """A new Photo whose luma is restorer.restore(gray) (checked: uint8, same size); a colour image's luma too."""
        gray = np.asarray(restorer.restore(self.gray))
        if gray.dtype != np.uint8 or gray.shape != self.gray.shape:
            raise ValueError(f"the restorer returned {gray.dtype} {gray.shape}, expected uint8 {self.gray.shape}")
        return Photo(gray, None if self.rgb is None else with_luma(self.rgb, gray), restored=True)

    def model_input(self, render_size: int, size_multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
        """The padded L at a render size, computed once per (render_size, size_multiple)."""
        key = (render_size, size_multiple)
        if key not in self._inputs:
            self._inputs[key] = model_input(self.gray, render_size, size_multiple)
        return self._inputs[key]

    def predict_ab(
        self, predict: Predict, render_size: int, size_multiple: int, hints: Sequence[Hint] = ()
    ) -> np.ndarray:
        """Run a model at a render size: ab float32 [2,h,w], padding cropped off. With colour hints (x, y in this
        photo's pixels, sRGB colour: colorizer.hints), `predict` also gets their map (float32 [1,3,H,W] at the
        padded render size, the padding without hints)."""
        lum, (h, w) = self.model_input(render_size, size_multiple)
        inputs = (lum, self.hint_input(hints, render_size, size_multiple)) if hints else (lum,)
        return np.asarray(predict(*inputs), dtype=np.float32)[0, :, :h, :w]

    def hint_input(self, hints: Sequence[Hint], render_size: int, size_multiple: int) -> np.ndarray:
        """The hints' map (colorizer.hints.hint_map) as a colorizer/2 network takes it beside model_input's L:
        float32 [1,3,H,W] at the padded render size, the padding without hints."""
        lum, (h, w) = self.model_input(render_size, size_multiple)
        drawn = np.zeros((1, 3, *lum.shape[2:]), np.float32)
        drawn[0, :, :h, :w] = hint_map(hints, *self.gray.shape, (h, w))
        return drawn

    @functools.cached_property
    def histogram(self) -> np.ndarray:
        """int64 [256]: pixels at each gray level of the luma (Pillow's, ten times numpy's bincount speed)."""
        return np.asarray(Image.fromarray(np.ascontiguousarray(self.gray)).histogram(), np.int64)

    def tone(self, auto_contrast: bool = False, brightness: float = 0.0) -> Tone:
        """The tone curve on L* for these controls: auto-contrast from the full-resolution luma, then brightness."""
        return tone(self.histogram if auto_contrast else None, GRAY_LEVELS, brightness)

    def render(
        self, ab: np.ndarray, saturation: float = 1.0, brightness: float = 0.0, auto_contrast: bool = False
    ) -> np.ndarray:
        """Model ab [2,h,w] (any h, w) -> RGB uint8 HxWx3 at the photo's full size.

        saturation scales the colour (1 = as predicted); brightness shifts L* (units of L*, 0 = as is);
        auto_contrast stretches L* (colorizer.enhance). All three are tables inside the merge: no extra pass over
        the pixels (but one histogram of the luma, the first time auto_contrast is asked for).
        """
        curve = self.tone(auto_contrast, brightness)
        return merge(self.gray, ab, saturation, None if curve.is_identity else curve.gray_lut())

    @functools.cached_property
    def colour(self) -> ColourCheck:
        """Whether the input carries real colour (a faded colour print, a colour scan) or is black and white."""
        return detect_colour(self.gray if self.rgb is None else self.rgb)

    @functools.cached_property
    def own_colour_fix(self) -> OwnColourFix:
        """The white balance, de-fading and contrast the colour image needs (ValueError for a gray input)."""
        if self.rgb is None:
            raise ValueError("a grayscale photo has no colours of its own to restore")
        return measure_fix(self.rgb)

    def own_colours(self, saturation: float = 1.0, brightness: float = 0.0) -> np.ndarray:
        """The photo's own colours restored (colorizer.owncolour): RGB uint8 HxWx3 at full size.

        saturation and brightness act on top, as for render; the correction is measured once per photo.
        """
        return restore_own_colours(self.rgb, saturation, brightness, self.own_colour_fix)


def colorize_array(
    predict: Predict, image: np.ndarray, render_size: int, size_multiple: int, hints: Sequence[Hint] = ()
) -> np.ndarray:
    """Any photo array (see to_gray) -> RGB uint8 HxWx3 of the same height and width; hints as Photo.predict_ab."""
    photo = Photo.from_image(image)
    return photo.render(photo.predict_ab(predict, render_size, size_multiple, hints))


def timed(fn: Callable, *args) -> tuple[object, float]:
    """(fn(*args), seconds it took)."""
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t
