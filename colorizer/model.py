"""ONNX colorizer models: loading a shipped one by name or any colorizer/1 or /2 file by path, and running it.

The contract (colorizer/1): one input `L` float32 [N,1,H,W] (CIE L*, 0..100), one output `ab` float32
[N,2,H,W] (Lab units), H and W multiples of metadata `size_multiple`; metadata_props carry contract, kind,
arch, render_size, size_multiple and the training provenance. colorizer/2 adds a second input, `hints` float32
[N,3,H,W]: the user's colour hints as colorizer.hints.hint_map draws them (a*, b*, mask; all zeros: none).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from colorizer.hints import Hint
from colorizer.pipeline import Photo, SupportsRestore, get_restorer
from colorizer.session import OnnxModel, shipped_path
from colorizer.session import refresh_manifest as refresh_manifest  # export and train import it from here

__version__ = "0.1.0"
CONTRACT = "colorizer/1"
HINTS_CONTRACT = "colorizer/2"  # colorizer/1 plus the `hints` input
SHIPPED = ("cnn", "gan")
SOFTWARE = f"colorizer {__version__} (black-and-white photo colorization)"  # every saved result's PNG "Software"


class Model(OnnxModel):
    """One loaded colorizer: an ONNX Runtime session plus its contract metadata."""

    contracts: ClassVar[dict] = {CONTRACT: (("L",), ("ab",)), HINTS_CONTRACT: (("L", "hints"), ("ab",))}

    def __init__(self, path: str | Path, name: str | None = None):
        super().__init__(path, name)
        self.takes_hints = self.contract == HINTS_CONTRACT
        self.kind = self.meta["kind"]
        self.render_size = int(self.meta["render_size"])
        self.size_multiple = int(self.meta["size_multiple"])

    def png_text(self) -> dict[str, str]:
        """PNG text chunks naming the software, the model and its version, for every saved result."""
        return {
            "Software": SOFTWARE,
            "Description": f"AI-colourised by the {self.kind.upper()} model {self.meta.get('version', self.name)}; "
            "the colours are the model's guess, not a historical record",
        }

    def predict(self, lum: np.ndarray, hints: np.ndarray | None = None) -> np.ndarray:
        """L float32 [N,1,H,W] (0..100, H and W multiples of size_multiple) and, for a colorizer/2 model, hints
        float32 [N,3,H,W] (default: none) -> ab float32 [N,2,H,W]."""
        feeds = {"L": lum}
        if self.takes_hints:
            feeds["hints"] = np.zeros((lum.shape[0], 3, *lum.shape[2:]), np.float32) if hints is None else hints
        return self.session.run(["ab"], feeds)[0]

    def check_hints_taken(self, hints: Sequence[Hint]) -> None:
        """ValueError, one line naming the file, if there are hints and this model cannot take them."""
        if hints and not self.takes_hints:
            raise ValueError(
                f"{self.path}: a {self.contract} model takes no colour hints (a {HINTS_CONTRACT} one does)"
            )

    def predict_photo(self, photo: Photo, render_size: int | None = None, hints: Sequence[Hint] = ()) -> np.ndarray:
        """ab float32 [2,h,w] for a prepared photo at `render_size` (default: the model's own), following the
        colour hints (colorizer.hints: x, y in the photo's pixels, sRGB colour) where given."""
        self.check_hints_taken(hints)
        return photo.predict_ab(self.predict, render_size or self.render_size, self.size_multiple, hints)

    def colorize(
        self,
        image: np.ndarray,
        render_size: int | None = None,
        saturation: float = 1.0,
        brightness: float = 0.0,
        auto_contrast: bool = False,
        restore: bool | str | SupportsRestore = False,
        hints: Sequence[Hint] = (),
    ) -> np.ndarray:
        """Photo array (uint8/uint16 HxW, HxWx3 RGB or HxWx4 RGBA) -> RGB uint8 HxWx3, same height and width.

        render_size: long side (px) the network runs at (default: the model's own); saturation: colour
        boost (1 = as predicted); brightness: L* offset (0 = as is); auto_contrast: percentile stretch of L*
        (colorizer.enhance); restore: repair the luminance first (True: the shipped restoration model; "cracks":
        the crack filler, then that model; or any object with .restore(gray uint8 HxW) -> uint8 HxW); hints:
        [(x, y, (r, g, b))], pixels of the image and the wanted sRGB colours (colorizer.hints), for a colorizer/2
        model only (ValueError naming the file otherwise, or naming a bad hint).
        """
        self.check_hints_taken(hints)
        photo = Photo.from_image(image, get_restorer(restore))
        ab = self.predict_photo(photo, render_size, hints)
        return photo.render(ab, saturation, brightness, auto_contrast)

    def __repr__(self) -> str:
        return f"Model({self.name!r}, kind={self.kind}, render_size={self.render_size}, provider={self.provider})"


def load(name_or_path: str | Path) -> Model:
    """Load a shipped model by name ('cnn', 'gan') or a colorizer/1 or /2 .onnx file by path.

    A shipped model is first checked against onnx_models/MANIFEST.json: ManifestError (one line naming the
    file and the fix) if it is missing, truncated or altered. A path is loaded as it is.
    """
    name = str(name_or_path)
    return Model(shipped_path(name), name) if name in SHIPPED else Model(name_or_path)
