"""Image-quality figures shared by training-time validation and the evaluation tool.

All functions take RGB uint8 HxWx3 (sRGB) arrays of equal shape.
"""

from __future__ import annotations

import numpy as np
from skimage.color import deltaE_ciede2000
from skimage.metrics import peak_signal_noise_ratio

from colorizer.color import rgb_to_lab


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """RGB PSNR in dB over all three channels (peak 255)."""
    return float(peak_signal_noise_ratio(target, pred, data_range=255))


def de00(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference (Lab units)."""
    return float(deltaE_ciede2000(rgb_to_lab(target), rgb_to_lab(pred)).mean())


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk (2003) colourfulness M: 0 for gray, about 30-60 for ordinary photos."""
    r, g, b = (rgb[..., k].astype(np.float64) for k in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def summarise(preds: list[np.ndarray], targets: list[np.ndarray]) -> dict:
    """Means over images: psnr, de00, cf (of preds), cf_ratio (mean cf of preds / of targets), n."""
    cf_target = np.mean([colourfulness(t) for t in targets])
    cf = float(np.mean([colourfulness(p) for p in preds]))
    return {
        "psnr": float(np.mean([psnr(p, t) for p, t in zip(preds, targets)])),
        "de00": float(np.mean([de00(p, t) for p, t in zip(preds, targets)])),
        "cf": cf,
        "cf_ratio": cf / cf_target if cf_target > 0 else 0.0,
        "n": len(preds),
    }
