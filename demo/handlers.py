"""What the app does for each request, on the models loaded at start-up (Handlers.load).

The endpoints (their docstrings are the API's and the MCP tools' descriptions): `colorize` (one photo, both
models, full-resolution results), `restoration` (the repair alone) and `colorize_batch` (many photos). The page
calls `colorize_page` and `rerender`, which give previews and show the restoration's before/after. Predictions come
from the cache (demo.cache) when they can; each look is rendered as the CLI renders it (colorizer.output), then
written as PNGs into a folder of the request's own (demo.files).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import numpy as np

import colorizer
from colorizer.hints import Hint, HintError, parse_hints
from colorizer.output import BLEND, OWN, Controls, output_image
from colorizer.pipeline import SupportsRestore, get_restorer
from demo import files as demo_files
from demo.cache import Entry, PredictionCache, predict
from demo.files import downscaled, load_photo, new_out_dir, write_png, write_result, write_zip
from demo.pictures import add_mark, error_card, mark_hints

THREADS = int(os.environ.get("COLORIZER_THREADS", "0")) or os.cpu_count() or 1
LOOKS = ("cnn", "gan", BLEND)
BATCH_LOOKS = {"Both": ["cnn", "gan"], "CNN": ["cnn"], "GAN": ["gan"], "Blend": [BLEND]}
_pool = ThreadPoolExecutor(THREADS, thread_name_prefix="colorizer-app")


def in_parallel(fn: Callable, items: Iterable) -> list:
    """[fn(item) for item in items], run on THREADS threads: rendering and PNG encoding release the GIL."""
    return list(_pool.map(fn, items))


def safe_stem(path: str) -> str:
    """A file-name-safe stem of an upload's name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem)[:60] or "photo"


def colour_note(photo: colorizer.Photo) -> str:
    """A Markdown line on whether the photo still carries colour of its own (colorizer.detect_colour)."""
    check = photo.colour
    if photo.rgb is None or not check.has_colour:
        return f"No colour of its own found (score {check.score:.1f}): black and white, or toned."
    return f"**This photo still has colour of its own** (score {check.score:.1f}): its own colours are restored too."


def timing_line(entry: Entry, models: list[colorizer.Model], render_size: int) -> str:
    """Markdown: the photo's size, the render size, each network's time (the restorer's with the share of pixels
    it changed) and the execution provider."""
    res = entry.result
    h, w = entry.before.shape[:2]
    times = " · ".join(f"**{m.kind.upper()}** {1000 * res.seconds[m.name]:.0f} ms" for m in models)
    if entry.restore_changed is not None:  # how much it repaired: a user cannot tell 0.0 % from 0.5 % by eye
        restored = f"**restored** in {1000 * res.seconds['restore']:.0f} ms"
        times = f"{restored} ({100 * entry.restore_changed:.1f} % of the pixels changed) · {times}"
    provider = models[0].provider.removesuffix("ExecutionProvider")
    return f"{w}x{h} px · rendered at {int(render_size)} px · {times} · running on **{provider}**"


def marked_preview(path: Path, rgb: np.ndarray, hints: list[Hint]) -> str:
    """The page's image of a result (RGB uint8 HxWx3, full size) with its hints marked (demo.pictures.mark_hints),
    at most PREVIEW_SIDE px, written as a PNG without text (never a download); its path."""
    shown = downscaled(rgb, demo_files.PREVIEW_SIDE)
    return write_png(path, mark_hints(rgb if shown is None else shown, hints, rgb.shape[:2]))


def fixed_png(entry: Entry, name: str, image: Callable[[], np.ndarray], out: Path, stem: str) -> tuple[str, str]:
    """(full PNG, page image) of an image no control changes, `image()` (uint8 HxW or HxWx3), written as
    '<stem>_<name>.png' with its preview (see write_result) on the photo's first render and reused while the
    files exist."""
    paths = entry.pngs.get(name)
    if paths is None or not Path(paths[1]).exists():
        paths = entry.pngs[name] = write_result(out / f"{stem}_{name}.png", image(), None, preview=True)
    return paths


def extras(entry: Entry, out: Path, stem: str, preview: bool, controls: Controls) -> tuple:
    """(restored pair, own colours) of a cached photo, each as ((full PNGs), (page images)) or None: the
    luminance before and after restoration (when restored) and the photo's own colours restored (when it has
    real colour; colorizer.owncolour), all full resolution on disk."""
    photo, k = entry.result.photo, 1 if preview else 0
    pair = None
    if entry.source_gray is not None:
        before = fixed_png(entry, "luma", lambda: entry.source_gray, out, stem)
        after = fixed_png(entry, "restored", lambda: photo.gray, out, stem)
        pair = (before[0], after[0]), (before[k], after[k])
    own = None
    if photo.rgb is not None and (made := output_image(entry.result, OWN, [], controls)) is not None:
        own = write_result(out / f"{stem}_own_colours.png", *made, preview)
    return pair, own


class Handlers:
    """The app's request handling on loaded models: the two colorizers (CNN first), the restorer, the crack filler
    chained before it (for a cracked print), and the prediction cache."""

    def __init__(
        self, models: list[colorizer.Model], restorer: SupportsRestore, cracked: SupportsRestore,
        cache: PredictionCache | None = None,
    ):  # fmt: skip
        self.models, self.restorer, self.cracked = models, restorer, cracked
        self.cache = cache or PredictionCache()

    @classmethod
    def load(cls) -> Handlers:
        """The shipped models, each checked against onnx_models/MANIFEST.json (ManifestError, one line, if one is
        missing or damaged); their ONNX Runtime sessions are created here, once."""
        return cls([colorizer.load("cnn"), colorizer.load("gan")], get_restorer(True), get_restorer("cracks"))

    @property
    def takes_hints(self) -> bool:
        """Whether both models take colour hints (colorizer/2): the page shows its hint controls only then."""
        return all(m.takes_hints for m in self.models)

    def hints_of(self, hints: str | list | None) -> list[Hint]:
        """The JSON hints of a request (colorizer.hints.parse_hints) -> [(x, y, (r, g, b))], or a gr.Error naming
        what is wrong (a bad list or hint, or hints for models that take none)."""
        try:
            parsed = parse_hints(hints)
            for m in self.models:
                m.check_hints_taken(parsed)
        except ValueError as e:
            raise gr.Error(f"hints: {e}") from None
        return parsed

    def restorer_for(self, restore: bool, cracks: bool) -> SupportsRestore | None:
        """The repair the controls ask for: the crack filler and the restorer, the restorer alone, or none."""
        return self.cracked if cracks else self.restorer if restore else None

    def colorize(
        self, photo: str, render_size: int = 256, colour_boost: float = 1.0, brightness: float = 0.0,
        blend: float = 0.5, mark: bool = False, restore: bool = False, auto_contrast: bool = False,
        cracks: bool = False, hints: list | str | None = None,
    ) -> tuple:  # fmt: skip
        """Colorize one black-and-white (or sepia, or faded) photo with both models, the CNN and the GAN.

        Args:
            photo: the image file (JPEG, PNG, WebP, TIFF, BMP, AVIF or HEIC).
            render_size: long side in pixels at which the networks run (128-768; higher is slower, can be more detailed).
            colour_boost: saturation multiplier applied to the predicted colour (1 = as predicted, 0 = gray).
            brightness: lightness offset in CIE L* units (-20 to 20; 0 = unchanged).
            blend: mix of the two models' colour for the blended result (0 = all CNN, 1 = all GAN).
            mark: add a visible "AI-colourised" mark to the results.
            restore: first repair scratches, dust, grain and JPEG blocks in the photo's luminance (restoration model).
            auto_contrast: stretch a faded photo's tones (percentile stretch of the luminance).
            cracks: the print is cracked: fill the cracks, scratches and dust a detector finds, then repair as `restore`
                does (it implies `restore`; on a clean photo it can also take thin light lines of the picture).
            hints: colour hints to correct a wrong colour (default none): a JSON list like [{"x": 120, "y": 80, "color": "#3366cc"}], one object per spot (at most 64), x and y in the photo's full-resolution pixels (0, 0 = top left), color the colour that spot should have as "#rrggbb" (its lightness stays the photo's); both models follow them; a bad list gets an error naming the hint and what is wrong.
        Returns:
            (original, CNN result), (original, GAN result), (CNN result, GAN result), the blended result, a
            Markdown line with each model's inference time and the execution provider, and the list of
            downloadable files (full-resolution PNGs of the three results, of the restored luminance when
            `restore` and of the photo's own colours restored when it still carries colour; the page adds a zip of
            them, which an API client would only download twice).
            The restoration's before/after and the own colours themselves: endpoint `restoration`.
        """  # noqa: E501
        controls = (render_size, colour_boost, brightness, blend, mark, restore, auto_contrast, cracks, hints)
        return self.results(False, photo, *controls)[:6]

    def colorize_page(self, photo: str, *controls) -> tuple:
        """`colorize` for the page, plus the restoration's before/after and the photo's own colours (shown only
        when there are any): the images are previews of at most demo.files.PREVIEW_SIDE px (long side), which the
        browser loads quickly, the blend's with the hints marked; the downloads are the same full-resolution PNGs.
        The timing line ends with the server's own time for the request."""
        start = time.perf_counter()
        *outputs, restored, own = self.results(True, photo, *controls)
        outputs[4] += f" · answered in {1000 * (time.perf_counter() - start):.0f} ms"
        restored = gr.ImageSlider(restored, visible=restored is not None)
        return (*outputs, restored, gr.Image(own, visible=own is not None))

    def rerender(self, photo: str | None, *controls) -> tuple:
        """Re-render after a control changed; the predictions come from the cache unless the render size or the
        restore setting changed."""
        if not photo:
            return tuple(gr.skip() for _ in range(8))
        return self.colorize_page(photo, *controls)

    def restoration(
        self, photo: str, colour_boost: float = 1.0, brightness: float = 0.0, cracks: bool = False
    ) -> tuple:
        """The repair of one photo, without colorization: what the restoration model changed, and the photo's own
        colours restored if it still carries real colour (a faded colour print, a colour scan).

        Args:
            photo: the image file.
            colour_boost, brightness: as for `colorize`, applied to the own colours.
            cracks: as for `colorize`: fill a cracked print's cracks first.
        Returns:
            (luminance before, after restoring scratches, dust, grain and JPEG blocks) as full-resolution gray PNGs,
            the photo's own colours restored from the repaired photo as a PNG (None when it carries no real colour),
            and a Markdown line saying which.
        """
        entry = predict(self.cache, [], photo, 256, self.restorer_for(True, cracks))  # the repair alone
        out, stem = new_out_dir(), safe_stem(photo)
        pair, own = extras(entry, out, stem, False, Controls(colour_boost, brightness))
        return pair[0], (None if own is None else own[0]), colour_note(entry.result.photo)

    def results(
        self, page: bool, photo: str, render_size: int = 256, colour_boost: float = 1.0, brightness: float = 0.0,
        blend: float = 0.5, mark: bool = False, restore: bool = False, auto_contrast: bool = False,
        cracks: bool = False, hints: list | str | None = None,
    ) -> tuple:  # fmt: skip
        """What `colorize` returns, then the restoration's (before, after) and the own colours (see extras; None
        where there are none). For the `page`, the images are previews (see colorize_page) and the downloads end
        with a zip of all the PNGs; for the API, the images are the full-resolution PNGs and there is no zip (a zip
        of files the client downloads anyway doubled the bytes every request sends). The results are rendered and
        encoded in parallel; the predictions come from the cache when they can."""
        hints = self.hints_of(hints)
        try:
            entry = predict(self.cache, self.models, photo, render_size, self.restorer_for(restore, cracks), hints)
        except HintError as e:  # a position outside the photo
            raise gr.Error(f"hints: {e}") from None
        out, stem, controls = new_out_dir(), safe_stem(photo), Controls(colour_boost, brightness, auto_contrast, blend)

        def write(look: str) -> tuple[str, str]:
            rgb, text = output_image(entry.result, look, self.models, controls)
            paths = write_result(out / f"{stem}_{look}.png", add_mark(rgb) if mark else rgb, text, page)
            if page and hints and look == BLEND:  # the page's clickable image shows where the hints are
                paths = paths[0], marked_preview(out / f"{stem}_hints.png", rgb, hints)
            return paths

        written = dict(zip(LOOKS, in_parallel(write, LOOKS), strict=True))
        full = [paths[0] for paths in written.values()]
        shown = {look: paths[1] for look, paths in written.items()}
        before = fixed_png(entry, "original", lambda: entry.before, out, stem)[1 if page else 0]
        pair, own = extras(entry, out, stem, page, controls)
        full += ([pair[0][1]] if pair else []) + ([own[0]] if own else [])
        files = [*full, write_zip(out / f"{stem}_colorized.zip", full)] if page else full
        info = timing_line(entry, self.models, render_size)
        info += f" · {colour_note(entry.result.photo)}" if own else ""
        return (
            (before, shown["cnn"]), (before, shown["gan"]), (shown["cnn"], shown["gan"]), shown[BLEND], info, files,
            None if pair is None else pair[1], None if own is None else own[1],
        )  # fmt: skip

    def colorize_batch(
        self, files: list[str], results: str = "Both", render_size: int = 256, colour_boost: float = 1.0,
        brightness: float = 0.0, blend: float = 0.5, restore: bool = False, auto_contrast: bool = False,
        cracks: bool = False, progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple:  # fmt: skip
        """Colorize many photos. A file that cannot be read is reported and does not stop the others.

        Args:
            files: the image files.
            results: which results to make for each photo: "Both" (CNN and GAN), "CNN", "GAN" or "Blend".
            render_size, colour_boost, brightness, blend, restore, auto_contrast, cracks: as for `colorize`.
        Returns:
            A gallery of (image, caption) pairs (one per result, or an error card per unreadable file), a zip
            of all results (or None if there is none), and a Markdown report.
        """
        if not files:
            raise gr.Error("Please add some photos first.")
        looks, controls = BATCH_LOOKS[results], Controls(colour_boost, brightness, auto_contrast, blend)
        out, gallery, written, errors = new_out_dir(), [], [], []
        stems = colorizer.unique_stems([Path(f) for f in files])
        for path, stem in zip(progress.tqdm(files, desc="Colorizing"), stems):
            name, repair = Path(path).name, self.restorer_for(restore, cracks) or False
            try:
                res = colorizer.compare(self.models, load_photo(path), int(render_size), repair)
            except gr.Error as e:  # the message starts with the file's name
                errors.append(f"- {e.message}")
                gallery.append((error_card(e.message), f"{name}: not colorized"))
                continue

            def write(look: str, res=res, stem=stem) -> str:
                rgb, text = output_image(res, look, self.models, controls)
                return write_png(out / f"{safe_stem(stem)}_{look}.png", rgb, text)

            for look, png in zip(looks, in_parallel(write, looks), strict=True):
                written.append(png)
                gallery.append((png, f"{name} · {look.upper()}"))
        archive = write_zip(out / "colorized.zip", written) if written else None
        report = f"**{len(files) - len(errors)} of {len(files)} photos colorized.**\n" + "\n".join(errors)
        return gallery, archive, report
