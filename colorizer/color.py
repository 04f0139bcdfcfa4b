"""sRGB <-> CIE L*a*b* (D65) in numpy float32, shared by training, evaluation and inference.

The formulas follow IEC 61966-2-1 (sRGB) and CIE 15 (Lab) with the same constants as
scikit-image, so `skimage.color.rgb2lab` is the reference the tests compare against.
Luminance always comes from an 8-bit grayscale image, so L* is an exact 256-entry lookup.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# D65 reference white (X, Y, Z), as in skimage.color.
WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
# Linear sRGB -> XYZ (rows X, Y, Z), and its inverse.
XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
    dtype=np.float64,
)
RGB_FROM_XYZ = np.linalg.inv(XYZ_FROM_RGB)
EPS = 0.008856  # (6/29)**3, the linear/cube-root switch of f(t)
KAPPA = 7.787  # slope of the linear part of f(t)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in 0..1 (any float array) -> linear light in 0..1, same shape."""
    c = np.asarray(c, dtype=np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    """Linear light (float array, clipped to 0..1) -> sRGB-encoded values in 0..1, same shape."""
    c = np.clip(c, 0.0, 1.0).astype(np.float32, copy=False)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055).astype(np.float32)


def _f(t: np.ndarray) -> np.ndarray:
    return np.where(t > EPS, np.cbrt(t), KAPPA * t + 16.0 / 116.0)


def _f_inv(t: np.ndarray) -> np.ndarray:
    return np.where(t > 0.2068966, t**3, (t - 16.0 / 116.0) / KAPPA)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 HxWx3 (sRGB) -> float32 HxWx3 Lab: L* in 0..100, a* and b* roughly -128..127."""
    lin = srgb_to_linear(np.asarray(rgb, dtype=np.float32) / 255.0)
    xyz = lin @ XYZ_FROM_RGB.T.astype(np.float32) / WHITE
    f = _f(xyz)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


# L* of each 8-bit gray level (R = G = B = v): for a neutral colour Y equals the linear value.
_L_LUT = (116.0 * _f(srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)) - 16.0).astype(np.float32)


def gray_to_l(gray: np.ndarray) -> np.ndarray:
    """Gray uint8 HxW (sRGB-encoded) -> float32 HxW CIE L* in 0..100, by exact table lookup."""
    return _L_LUT[np.asarray(gray, dtype=np.uint8)]


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 HxWx3 -> gray uint8 HxW with ITU-R 601 luma: L = (19595 R + 38470 G + 7471 B + 2**15) >> 16.

    Pillow's convert("L") computes exactly this in C, faster than numpy and without large temporaries.
    """
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").convert("L"))


def gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    """Gray uint8 HxW -> RGB uint8 HxWx3 (the same level in every channel)."""
    return np.repeat(gray[..., None], 3, -1)


def to_8bit(a: np.ndarray) -> np.ndarray:
    """16-bit values (any integer array, 0..65535) -> uint8 0..255, rounded to nearest."""
    return ((np.clip(a, 0, 65535).astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def composite_over_white(rgba: np.ndarray) -> np.ndarray:
    """RGBA uint8 HxWx4 -> RGB uint8 HxWx3: transparent areas become white, as a print on paper."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def lab_to_rgb(lightness: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """L* float HxW (0..100) and ab float HxWx2 (Lab units) -> RGB uint8 HxWx3 (sRGB).

    Out-of-gamut colours are clipped per channel in linear light, as scikit-image does.
    Works in float32 throughout; memory is a few HxW float32 planes.
    """
    fy = (np.asarray(lightness, dtype=np.float32) + 16.0) / 116.0
    fx = fy + ab[..., 0].astype(np.float32) / 500.0
    fz = np.maximum(fy - ab[..., 1].astype(np.float32) / 200.0, 0.0)  # as skimage: no negative f(Z)
    xyz = np.stack([_f_inv(fx), _f_inv(fy), _f_inv(fz)], axis=-1).astype(np.float32) * WHITE
    lin = xyz @ RGB_FROM_XYZ.T.astype(np.float32)
    return np.rint(linear_to_srgb(lin) * 255.0).astype(np.uint8)
