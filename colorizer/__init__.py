"""Black-and-white photo colorization with small ONNX models; no torch needed.

import colorizer
gan = colorizer.load("gan")                   # a shipped model name, or a path to an .onnx file
rgb = gan.colorize(image)                     # uint8 HxW / HxWx3 / HxWx4 in, RGB uint8 HxWx3 out
rgb = gan.colorize(image, render_size=384, saturation=1.2, brightness=3, auto_contrast=True)
image = colorizer.open_image("photo.jpg")     # limits: colorizer.Limits, env COLORIZER_MAX_*
both = colorizer.compare([colorizer.load("cnn"), gan], image)   # shared luminance, per-model ab
both.photo.colour                             # ColourCheck: does the input still carry real colour?
own = both.photo.own_colours()                # if so, its own colours restored (no model)
gray = colorizer.load_restorer().restore(gray)  # scratches, dust, grain repaired: gray uint8 HxW in and out
"""

from colorizer.compare import Comparison, compare
from colorizer.enhance import enhance_rgb
from colorizer.imageio import ImageError, Limits, open_image, save_png, unique_stems
from colorizer.manifest import ManifestError
from colorizer.model import CONTRACT, Model, __version__, load
from colorizer.owncolour import ColourCheck, detect_colour, restore_own_colours
from colorizer.pipeline import Photo
from colorizer.restore import RESTORER_CONTRACT, Restorer, load_restorer
from colorizer.session import ContractError

__all__ = [
    "CONTRACT",
    "RESTORER_CONTRACT",
    "ColourCheck",
    "Comparison",
    "ContractError",
    "ImageError",
    "Limits",
    "ManifestError",
    "Model",
    "Photo",
    "Restorer",
    "__version__",
    "compare",
    "detect_colour",
    "enhance_rgb",
    "load",
    "load_restorer",
    "open_image",
    "restore_own_colours",
    "save_png",
    "unique_stems",
]
