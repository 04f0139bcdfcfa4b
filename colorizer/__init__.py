"""Black-and-white photo colorization with small ONNX models; no torch needed.

import colorizer
gan = colorizer.load("gan")                   # a shipped model name, or a path to an .onnx file
rgb = gan.colorize(image)                     # uint8 HxW / HxWx3 / HxWx4 in, RGB uint8 HxWx3 out
rgb = gan.colorize(image, render_size=384)
image = colorizer.open_image("photo.jpg")     # limits: colorizer.Limits, env COLORIZER_MAX_*
both = colorizer.compare([colorizer.load("cnn"), gan], image)   # shared luminance, per-model ab
"""

from colorizer.compare import Comparison, compare
from colorizer.imageio import ImageError, Limits, open_image, save_png, unique_stems
from colorizer.manifest import ManifestError
from colorizer.model import CONTRACT, ContractError, Model, __version__, load

__all__ = [
    "CONTRACT",
    "Comparison",
    "ContractError",
    "ImageError",
    "Limits",
    "ManifestError",
    "Model",
    "__version__",
    "compare",
    "load",
    "open_image",
    "save_png",
    "unique_stems",
]
