"""The page's colour hints: a click on the blend image picks a spot, a colour picker opens preset to the colour the
result has there, and "Add hint" re-colours the photo with both models. The hints are listed; unticking one removes
it, and a button clears them all.

The hints live in the page, as their JSON form (colorizer.hints.parse_hints, as the API takes them) in a gr.State sent
with every request of the photo: the prediction cache keys on them (demo.cache), so the other controls re-render
without a network run and a new set of hints re-runs the models only, on the photo already read and repaired.
"""

from __future__ import annotations

import gradio as gr
import numpy as np

from colorizer.hints import hints_json, parse_hints
from demo.cache import predict
from demo.handlers import Handlers

HOWTO = (
    "**Colour hints**: click a spot on the blend image, choose the colour it should have (the picker opens with the "
    "colour it has now) and press **Add hint**: both models re-colour the photo around it. Untick a hint to remove it."
)
NO_SPOT = "No spot picked: click the blend image."
PAGE_OUTPUTS = 8  # Handlers.colorize_page's; the hint events add the hints, their list, the spot and its line
OPEN_PICKER = """() => {  // open the colour picker's dialog, unless it is open already
    const picker = document.querySelector("#hint-colour");
    if (picker && !picker.querySelector(".color-picker")) picker.querySelector("button.dialog-button")?.click();
}"""


def full_resolution(index: tuple[int, int], shown: tuple[int, int], full: tuple[int, int]) -> tuple[int, int]:
    """A click at `index` = (x, y) in the pixels of the image the page shows, `shown` = (height, width) px, -> the
    same spot (x, y) in the photo's full-resolution pixels, `full` = (height, width). Gradio rounds the click's
    position to the nearest whole pixel: index x is a click within half a pixel of position x."""
    x, y = (v * f / s for v, f, s in zip(index, full[::-1], shown[::-1]))
    return min(full[1] - 1, int(x)), min(full[0] - 1, int(y))


def hex_colour(rgb: np.ndarray) -> str:
    """RGB uint8 [3] -> "#rrggbb"."""
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb[:3]))


def hint_list(hints: list[dict]) -> gr.CheckboxGroup:
    """The listed hints (JSON form), all ticked: unticking one removes it (its value is its index)."""
    choices = [(f"{i + 1}: ({h['x']}, {h['y']}) {h['color']}", i) for i, h in enumerate(hints)]
    return gr.CheckboxGroup(choices=choices, value=list(range(len(hints))))


class HintEvents:
    """The page's hint events on the app's Handlers; each re-colouring one returns the page's outputs
    (Handlers.colorize_page), then the new hints, their list, the picked spot (None: none picked) and its line."""

    def __init__(self, handlers: Handlers):
        self.h = handlers

    def pick(self, evt: gr.SelectData, photo: str | None, shown: np.ndarray | None, hints: list, *controls) -> tuple:
        """A click on the blend image (shown: RGB uint8 HxWx3 as the page shows it) -> the spot in the photo's
        full-resolution pixels, the picker preset to the colour shown there, and a line naming the spot."""
        if not photo or shown is None or evt.index is None:
            return gr.skip(), gr.skip(), gr.skip()
        render_size, restore, cracks = controls[0], controls[5], controls[7]
        entry = predict(self.h.cache, self.h.models, photo, render_size, self.h.restorer_for(restore, cracks),
                        self.h.hints_of(hints))  # fmt: skip  # cached: the request that drew `shown`
        x, y = full_resolution(tuple(evt.index), shown.shape[:2], entry.before.shape[:2])
        sx, sy = (min(int(v), n - 1) for v, n in zip(evt.index, shown.shape[1::-1]))
        note = f"Spot ({x}, {y}) picked: choose its colour, then **Add hint**."
        return (x, y), hex_colour(shown[sy, sx]), note

    def add(self, spot: tuple[int, int] | None, colour: str, hints: list, photo: str, *controls) -> tuple:
        """Add a hint at the picked spot with the picker's colour ("#rrggbb") and re-colour."""
        if spot is None:
            gr.Warning("Click a spot on the blend image first.")
            return tuple(gr.skip() for _ in range(PAGE_OUTPUTS + 4))
        return self.recolour([*hints, {"x": spot[0], "y": spot[1], "color": colour}], photo, *controls)

    def keep(self, kept: list[int], hints: list, photo: str, *controls) -> tuple:
        """Keep the hints still ticked (their indices) and re-colour."""
        return self.recolour([hints[i] for i in sorted(kept) if i < len(hints)], photo, *controls)

    def clear(self, photo: str | None, *controls) -> tuple:
        """Remove every hint and re-colour (nothing to re-colour without a photo)."""
        if not photo:
            return *(gr.skip() for _ in range(PAGE_OUTPUTS)), [], hint_list([]), None, NO_SPOT
        return self.recolour([], photo, *controls)

    def recolour(self, hints: list, photo: str, *controls) -> tuple:
        """The page's outputs for `hints` (JSON form; gr.Error naming a bad one), the hints, their list, no spot and
        the line that says so."""
        hints = hints_json(parse_hints(hints))  # canonical: what the state holds is what the API would take
        return *self.h.colorize_page(photo, *controls, hints), hints, hint_list(hints), None, NO_SPOT


class HintPanel:
    """The hint controls, made where they are shown (under the blend image), and their events (wire)."""

    def __init__(self, h: Handlers):
        self.events, self.shown = HintEvents(h), h.takes_hints
        self.hints, self.spot = gr.State([]), gr.State(None)  # the JSON form; (x, y) at full resolution or None
        with gr.Group(visible=self.shown):  # colorizer/1 models take no hints
            gr.Markdown(HOWTO)
            self.picked = gr.Markdown(NO_SPOT)
            with gr.Row():
                self.picker = gr.ColorPicker("#808080", label="Colour of the spot", elem_id="hint-colour", scale=1)
                self.add = gr.Button("Add hint", variant="primary", scale=1)
            self.listed = gr.CheckboxGroup([], label="Colour hints (untick one to remove it)")
            self.clear = gr.Button("Clear all hints", size="sm")

    def wire(self, photo: gr.Image, controls: list, blended: gr.Image, outputs: list) -> gr.State:
        """The events: a click on `blended` picks a spot; adding, unticking and clearing re-colour into `outputs`
        (Handlers.colorize_page's). Returns the hints' gr.State, which every page request of the photo must send
        (always empty, and no event wired, when the panel is hidden)."""
        if not self.shown:
            return self.hints
        ev, private = self.events, {"api_name": False, "concurrency_id": "inference"}
        after = [*outputs, self.hints, self.listed, self.spot, self.picked]
        pick = blended.select(ev.pick, [photo, blended, self.hints, *controls], [self.spot, self.picker, self.picked],
                              api_name=False)  # fmt: skip
        pick.then(None, js=OPEN_PICKER)
        # the button only: the picker's Enter submits before its typed value has reached the server
        self.add.click(ev.add, [self.spot, self.picker, self.hints, photo, *controls], after, **private)
        self.listed.input(ev.keep, [self.listed, self.hints, photo, *controls], after, **private)
        self.clear.click(ev.clear, [photo, *controls], after, **private)
        # a new photo (an upload, an example) starts without hints
        photo.change(lambda: ([], hint_list([]), None, NO_SPOT), None,
                     [self.hints, self.listed, self.spot, self.picked], api_name=False, queue=False)  # fmt: skip
        return self.hints
