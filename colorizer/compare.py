"""Several models on one photo, sharing the luminance work, keeping each model's ab for later blending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from colorizer.hints import Hint
from colorizer.model import Model
from colorizer.pipeline import Photo, SupportsRestore, get_restorer, timed, upsample_ab


@dataclass
class Comparison:
    """One photo colorized by several models.

    photo    the shared luminance (gray uint8 HxW, restored if asked) and, for a colour input, its RGB
             (photo.colour says whether it carries real colour; photo.own_colours() restores them)
    ab       model name -> predicted ab float32 [2,h,w] at the render size, padding cropped (Lab units)
    seconds  model name -> seconds spent in that model's inference; "restore" -> the restorer's, if one ran
    hints    the colour hints the models followed (colorizer.hints; empty: none)
    """

    photo: Photo
    ab: dict[str, np.ndarray]
    seconds: dict[str, float]
    hints: tuple[Hint, ...] = ()

    def rgb(
        self, name: str, saturation: float = 1.0, brightness: float = 0.0, auto_contrast: bool = False
    ) -> np.ndarray:
        """One model's result: RGB uint8 HxWx3 at the photo's full size (see Photo.render for the controls)."""
        return self.photo.render(self.ab[name], saturation, brightness, auto_contrast)

    def blend(self, a: str, b: str, t: float) -> np.ndarray:
        """ab float32 [2,h,w] mixed from model a (t=0) to model b (t=1), at a's render grid."""
        ab_a, ab_b = self.ab[a], self.ab[b]
        if ab_b.shape != ab_a.shape:  # different render sizes: bring b onto a's grid
            ab_b = np.moveaxis(upsample_ab(ab_b, *ab_a.shape[1:]), -1, 0)
        return (1.0 - t) * ab_a + t * ab_b


def compare(
    models: Sequence[Model],
    image: np.ndarray | Photo,
    render_size: int | None = None,
    restore: bool | str | SupportsRestore = False,
    hints: Sequence[Hint] = (),
) -> Comparison:
    """Run each model on one photo array (see pipeline.to_uint8); luminance and resizing are done once.
    `image` may also be the photo of an earlier Comparison: new hints then re-run the models only (its luminance,
    restored or not, is reused as it is, so restore must be False).

    restore: True repairs the luminance with the shipped restoration model first (FileNotFoundError until it
    ships), "cracks" fills a cracked print's cracks first (colorizer.pipeline.get_restorer), or pass any object
    with .restore(gray uint8 HxW) -> uint8 HxW; its time is seconds["restore"]. hints: colour hints for every
    model (Model.colorize); refused, naming the file, before anything runs if a model cannot take them.
    """
    for m in models:
        m.check_hints_taken(hints)
    if isinstance(image, Photo) and restore:
        raise ValueError("a prepared Photo is used as it is: restore it when it is first made, not again")
    photo, seconds = image if isinstance(image, Photo) else Photo.from_image(image), {}
    if (restorer := get_restorer(restore)) is not None:
        photo, seconds["restore"] = timed(photo.restore, restorer)
    ab = {}
    for m in models:
        ab[m.name], seconds[m.name] = timed(m.predict_photo, photo, render_size, hints)
    return Comparison(photo, ab, seconds, tuple(hints))
