"""What is saved for a result: its pixels and its PNG text, the same from the CLI, the app and the Python API.

A photo's results, or looks: a model's name ('cnn', 'gan'), 'blend' (the CNN's colour mixed with the GAN's) and
'own' (a colour photo's own colours restored, no model). Each is rendered from a Comparison with the user's
Controls, and carries text saying what made it: the software, the model(s) and their versions, whether the
luminance was repaired first, and how many colour hints the models followed. Encoding is left to the caller
(colorizer.imageio: png_bytes or fast_png_bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from colorizer.compare import Comparison
from colorizer.model import SOFTWARE, Model

REPAIRED = "; luminance repaired by the restoration model first"
OWN = "own"
BLEND = "blend"


@dataclass(frozen=True)
class Controls:
    """The user's adjustments of every result.

    saturation     colour boost, 1 = as predicted (0 = gray)
    brightness     L* offset, 0 = as is
    auto_contrast  a capped percentile stretch of L* (colorizer.enhance)
    blend          the 'blend' look's mix: 0 = all CNN .. 1 = all GAN
    """

    saturation: float = 1.0
    brightness: float = 0.0
    auto_contrast: bool = False
    blend: float = 0.5


def blend_text(models: Sequence[Model], t: float) -> dict[str, str]:
    """PNG text chunks for a CNN/GAN blend (t = share of the GAN's colour): the software and both models' versions."""
    text = models[0].png_text()
    versions = " and ".join(m.meta.get("version", m.name) for m in models)
    text["Description"] = f"AI-colourised: {100 * (1 - t):.0f}% CNN / {100 * t:.0f}% GAN colour ({versions})"
    return text


def own_colours_text(restored: bool = False) -> dict[str, str]:
    """PNG text chunks for a photo's own colours restored (no model guessed them)."""
    how = "white balance, de-fading and auto-contrast" + (", luminance repaired by the restoration model" * restored)
    return {"Software": SOFTWARE, "Description": f"The photo's own colours restored ({how}); not AI-colourised"}


def output_image(
    result: Comparison, look: str, models: Sequence[Model], controls: Controls | None = None
) -> tuple[np.ndarray, dict[str, str]] | None:
    """One look of a result, as saved: (RGB uint8 HxWx3 at the photo's full size, its PNG text chunks).

    look: a model's name (one of `models`, whose prediction `result` holds), 'blend' (needs the 'cnn' and 'gan'
    predictions; `models` are those two, CNN first) or 'own'. None for 'own' when the photo carries no real colour
    of its own (result.photo.colour says why). controls: default Controls().
    """
    photo, controls = result.photo, controls or Controls()
    if look == OWN:
        if not photo.colour.has_colour:
            return None
        return photo.own_colours(controls.saturation, controls.brightness), own_colours_text(photo.restored)
    if look == BLEND:
        ab, text = result.blend("cnn", "gan", controls.blend), blend_text(models, controls.blend)
    else:
        ab, text = result.ab[look], next(m.png_text() for m in models if m.name == look)
    if photo.restored:
        text = {**text, "Description": text["Description"] + REPAIRED}
    if result.hints:
        text = {**text, "Description": text["Description"] + f"; colour hints: {len(result.hints)}"}
    return photo.render(ab, controls.saturation, controls.brightness, controls.auto_contrast), text
