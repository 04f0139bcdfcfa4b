"""The Gradio app: old photos colorized by a CNN and a GAN, compared side by side.

    python demo/app.py [--share]

Serves on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (default 127.0.0.1:7860) and runs the same way on a
Hugging Face Space. Environment: COLORIZER_THREADS (ONNX Runtime and merge threads; default all cores),
COLORIZER_MAX_PIXELS (default 50 megapixels), COLORIZER_MAX_FILE_MB (default 25), COLORIZER_MAX_SIDE (default
65535 px; these limits are colorizer.imageio.Limits, checked before a photo is decoded), COLORIZER_QUEUE (most
waiting requests before new ones get a "busy" answer; default 20), COLORIZER_CONCURRENCY (inferences run
at once; default 1, which is fastest on a 2-core machine since ONNX Runtime already uses every core),
COLORIZER_PREVIEW_SIDE (long side of the images shown on the page, default 1600 px; the API and the downloads
are always full resolution).
With `gradio[mcp]` installed the `colorize`, `restoration` and `colorize_batch` endpoints are also MCP tools.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python demo/app.py` puts demo/, not the repository, on the path
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no usage reports to Gradio's servers unless asked

import gradio as gr  # noqa: E402
from starlette.responses import FileResponse  # noqa: E402

import colorizer  # noqa: E402
from colorizer.compare import blend_text  # noqa: E402
from colorizer.pipeline import SupportsRestore, get_restorer  # noqa: E402
from demo import service  # noqa: E402

try:  # sessions are created once, at start-up
    MODELS = [colorizer.load("cnn"), colorizer.load("gan")]
    RESTORER = get_restorer(True)
    CRACKED = get_restorer("cracks")  # a cracked print: the crack filler, then that same restorer
except colorizer.ManifestError as e:
    sys.exit(str(e))  # one line naming the damaged file and the fix, not a traceback
BY_NAME = {m.name: m for m in MODELS}
CACHE = service.PredictionCache()
EXAMPLES = sorted(str(p) for p in (ROOT / "demo" / "examples").glob("*.jpg"))
QUEUE = int(os.environ.get("COLORIZER_QUEUE", 20))
CONCURRENCY = int(os.environ.get("COLORIZER_CONCURRENCY", 1))  # inferences at once; 1 is fastest on 2 cores
# Starlette's FileResponse, which serves every result, reads and sends 64 KiB at a time, each read a hop to a
# worker thread: a 1536 px request's downloads (about 15 MB: an API client fetches each image once per output
# that shows it) took some 230 of them. 256 KiB chunks need a quarter of the hops; 1 MiB ones were no faster
# under load and buffered more per download (server memory +10.8 % in one of three 2-minute runs).
FileResponse.chunk_size = 1 << 18
LOOKS = ("cnn", "gan", "blend")

INTRO = """
# Old photo colorizer: CNN vs GAN
Upload a black-and-white, sepia or faded photo and compare two small colorization models that run on an
ordinary CPU. **CNN**: a convolutional network trained to predict each pixel's colour directly (steadier,
often muted). **GAN**: the same network trained further against a discriminator that punishes dull,
implausible colour (bolder, sometimes wrong). Both keep every detail of your photo: only the colour is
predicted, and the result has your photo's full resolution. Move the sliders to compare; change the controls
to re-render without uploading again. **Repair scratches, dust and grain** runs a small restoration model on
the photo first (its before/after is shown too); for a cracked print, tick **The print is cracked** as well.
A photo that still has colour of its own (a faded colour print) also gets those colours restored, with no model.

**The colours are the model's guess, not a historical record.** Your photos and the results are stored only
as temporary files on this server and deleted once they are an hour old (checked every 10 minutes). The
predictions for the most recent photos are also kept in memory, for at most an hour, so that moving the
controls is instant. Your photos are not sent anywhere else.
"""


def unopened(image: gr.Image) -> gr.Image:
    """Make a gr.Image(type="filepath") hand the uploaded file's path to the handler without opening it.

    gr.Image opens every upload with Pillow before the handler runs, so a file that is not an image (or whose
    header claims billions of pixels) failed with a bare "Error"; service.load_photo reads it instead, with a
    clear message naming the file and the app's limits checked before anything is decoded. (An override on
    the instance: a gr.Image subclass would make Gradio write a demo/app.pyi stub at every start.)
    """
    opening = image.preprocess

    def preprocess(payload):  # Gradio has already checked that the path is one of its uploads
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return opening(payload)

    image.preprocess = preprocess
    return image


def safe_stem(path: str) -> str:
    """A file-name-safe stem of an upload's name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem)[:60] or "photo"


def colorize(
    photo: str, render_size: int = 256, colour_boost: float = 1.0, brightness: float = 0.0,
    blend: float = 0.5, mark: bool = False, restore: bool = False, auto_contrast: bool = False,
    cracks: bool = False,
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
    Returns:
        (original, CNN result), (original, GAN result), (CNN result, GAN result), the blended result, a
        Markdown line with each model's inference time and the execution provider, and the list of
        downloadable files (full-resolution PNGs of the three results, of the restored luminance when
        `restore` and of the photo's own colours restored when it still carries colour; the page adds a zip of
        them, which an API client would only download twice).
        The restoration's before/after and the own colours themselves: endpoint `restoration`.
    """
    controls = (render_size, colour_boost, brightness, blend, mark, restore, auto_contrast, cracks)
    return results(False, photo, *controls)[:6]


def colorize_page(photo: str, *controls) -> tuple:
    """`colorize` for the page, plus the restoration's before/after and the photo's own colours (shown only
    when there are any): the images are previews of at most service.PREVIEW_SIDE px (long side), which the
    browser loads quickly; the downloads are the same full-resolution PNGs."""
    *outputs, restored, own = results(True, photo, *controls)
    return (*outputs, gr.ImageSlider(restored, visible=restored is not None), gr.Image(own, visible=own is not None))


def restorer_for(restore: bool, cracks: bool) -> SupportsRestore | None:
    """The repair the controls ask for: the crack filler and the restorer, the restorer alone, or none."""
    return CRACKED if cracks else RESTORER if restore else None


def restoration(photo: str, colour_boost: float = 1.0, brightness: float = 0.0, cracks: bool = False) -> tuple:
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
    entry = service.predict(CACHE, [], photo, 256, restorer_for(True, cracks))  # no colorization: the repair alone
    out, stem = service.new_out_dir(), safe_stem(photo)
    pair, own = service.extras(entry, out, stem, False, colour_boost, brightness)
    note = service.colour_note(entry.result.photo)
    return pair[0], (None if own is None else own[0]), note


def results(
    page: bool, photo: str, render_size: int = 256, colour_boost: float = 1.0, brightness: float = 0.0,
    blend: float = 0.5, mark: bool = False, restore: bool = False, auto_contrast: bool = False,
    cracks: bool = False,
) -> tuple:  # fmt: skip
    """What `colorize` returns, then the restoration's (before, after) and the own colours (see extras; None where
    there are none). For the `page`, the images are previews (see colorize_page) and the downloads end with a zip
    of all the PNGs; for the API, the images are the full-resolution PNGs and there is no zip (a zip of files
    the client downloads anyway doubled the bytes every request sends). The results are rendered and encoded in
    parallel; the predictions come from CACHE when they can."""
    entry = service.predict(CACHE, MODELS, photo, render_size, restorer_for(restore, cracks))
    res, out, stem = entry.result, service.new_out_dir(), safe_stem(photo)
    abs_ = {"cnn": res.ab["cnn"], "gan": res.ab["gan"], "blend": res.blend("cnn", "gan", blend)}
    texts = {name: m.png_text() for name, m in BY_NAME.items()} | {"blend": blend_text(MODELS, blend)}

    def write(look: str) -> tuple[str, str]:
        rgb = res.photo.render(abs_[look], colour_boost, brightness, auto_contrast)
        rgb = service.add_mark(rgb) if mark else rgb
        return service.write_result(out / f"{stem}_{look}.png", rgb, texts[look], page)

    written = dict(zip(LOOKS, service.in_parallel(write, LOOKS), strict=True))
    full = [paths[0] for paths in written.values()]
    shown = {look: paths[1] for look, paths in written.items()}
    before = service.fixed_png(entry, "original", lambda: entry.before, out, stem)[1 if page else 0]
    pair, own = service.extras(entry, out, stem, page, colour_boost, brightness)
    full += ([pair[0][1]] if pair else []) + ([own[0]] if own else [])
    files = [*full, service.write_zip(out / f"{stem}_colorized.zip", full)] if page else full
    info = service.timing_line(entry, MODELS, render_size) + (f" · {service.colour_note(res.photo)}" if own else "")
    return (
        (before, shown["cnn"]), (before, shown["gan"]), (shown["cnn"], shown["gan"]), shown["blend"], info, files,
        None if pair is None else pair[1], None if own is None else own[1],
    )  # fmt: skip


def rerender(photo: str | None, *controls) -> tuple:
    """Re-render after a control changed; the predictions come from the cache unless the render size or the
    restore setting changed."""
    if not photo:
        return tuple(gr.skip() for _ in range(8))
    return colorize_page(photo, *controls)


def colorize_batch(
    files: list[str], results: str = "Both", render_size: int = 256, colour_boost: float = 1.0,
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
    looks = {"Both": ["cnn", "gan"], "CNN": ["cnn"], "GAN": ["gan"], "Blend": ["blend"]}[results]
    out, gallery, written, errors = service.new_out_dir(), [], [], []
    for path, stem in zip(progress.tqdm(files, desc="Colorizing"), colorizer.unique_stems([Path(f) for f in files])):
        name = Path(path).name
        try:
            image = service.load_photo(path)
            res = colorizer.compare(MODELS, image, int(render_size), restorer_for(restore, cracks) or False)
        except gr.Error as e:  # the message starts with the file's name
            errors.append(f"- {e.message}")
            gallery.append((service.error_card(e.message), f"{name}: not colorized"))
            continue

        def write(look: str, res=res, stem=stem) -> str:
            ab = res.blend("cnn", "gan", blend) if look == "blend" else res.ab[look]
            text = blend_text(MODELS, blend) if look == "blend" else BY_NAME[look].png_text()
            rgb = res.photo.render(ab, colour_boost, brightness, auto_contrast)
            return service.write_png(out / f"{safe_stem(stem)}_{look}.png", rgb, text)

        for look, path in zip(looks, service.in_parallel(write, looks), strict=True):
            written.append(path)
            gallery.append((path, f"{name} · {look.upper()}"))
    archive = service.write_zip(out / "colorized.zip", written) if written else None
    report = f"**{len(files) - len(errors)} of {len(files)} photos colorized.**\n" + "\n".join(errors)
    return gallery, archive, report


def model_card() -> str:
    """The README's model card section, followed by each shipped model's own metadata."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Model card\n(.*?)(?=^## )", readme, re.S | re.M)
    rows = [
        "| model | version | steps | training time | val PSNR | val ΔE00 | val cf_ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in MODELS:
        v = m.val_metrics
        rows.append(
            f"| {m.kind.upper()} | {m.meta.get('version', '?')} | {m.meta['train_steps']} | "
            f"{int(m.meta['train_seconds']) / 3600:.1f} h | {v.get('psnr', 0):.2f} | {v.get('de00', 0):.2f} | "
            f"{v.get('cf_ratio', 0):.2f} |"
        )
    return (match.group(1) if match else "") + "\n**Shipped files** (training-time validation):\n\n" + "\n".join(rows)


CSS = """
.controls .block { min-width: 220px; }
"""


def build() -> gr.Blocks:
    """The interface; no work happens until a request arrives."""
    # Gradio's copies of uploads and results: every SWEEP_EVERY_S, those older than MAX_AGE_S are deleted;
    # service.sweep_on_schedule does the same for the app's own files and the prediction cache.
    delete_cache = (service.SWEEP_EVERY_S, service.MAX_AGE_S)
    with gr.Blocks(title="Old photo colorizer: CNN vs GAN", delete_cache=delete_cache) as demo:
        gr.Markdown(INTRO)
        with gr.Accordion("Controls (apply to one photo and to many)", open=True), gr.Row():
            render_size = gr.Slider(128, 768, 256, step=32, label="Render resolution (px, long side)",
                                    info="Higher: more detail in the colour, slower.")  # fmt: skip
            boost = gr.Slider(0, 2, 1, step=0.05, label="Colour boost (saturation)")
            brightness = gr.Slider(-20, 20, 0, step=1, label="Brightness (L*)")
            blend = gr.Slider(0, 1, 0.5, step=0.05, label="Blend: 0 = all CNN … 1 = all GAN")
            mark = gr.Checkbox(False, label="Add a visible “AI-colourised” mark")
            restore = gr.Checkbox(False, label="Repair scratches, dust and grain first",
                                  info="Grain, dust, thin scratches, JPEG blocks (not a print's cracks).")  # fmt: skip
            cracks = gr.Checkbox(False, label="The print is cracked",
                                 info="Fill its cracks, dust and flakes first, then repair. Not for clean photos: "
                                      "it can take thin light lines for cracks.")  # fmt: skip
            auto_contrast = gr.Checkbox(False, label="Auto-contrast", info="Stretch a faded photo's tones.")
        with gr.Tab("One photo"):
            with gr.Row(equal_height=False):
                limits = f"{service.LIMITS.max_file_mb} MB and {service.LIMITS.max_pixels / 1e6:g} megapixels"
                photo = unopened(gr.Image(label=f"Your photo: JPEG, PNG, WebP, TIFF, BMP, AVIF, HEIC · up to {limits}",
                                          type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                          height=300, scale=1, min_width=280))  # fmt: skip
                with gr.Column(scale=1, min_width=280):
                    button = gr.Button("Colorize", variant="primary", size="lg")
                    info = gr.Markdown("Upload a photo or pick an example below.", label="timing")
                    files = gr.File(label="Downloads: full-resolution PNGs, and all of them as a zip",
                                    file_count="multiple", interactive=False)  # fmt: skip
            with gr.Row(elem_classes="results"):
                cnn = gr.ImageSlider(label="CNN: before / after", format="png", max_height=900, min_width=300)
                gan = gr.ImageSlider(label="GAN: before / after", format="png", max_height=900, min_width=300)
            with gr.Row(elem_classes="results"):
                versus = gr.ImageSlider(label="CNN (left) vs GAN (right)", format="png", max_height=900, min_width=300)
                blended = gr.Image(label="Blend of the CNN and GAN colour", format="png", min_width=300,
                                   interactive=False)  # fmt: skip
            with gr.Row(elem_classes="results"):
                restored = gr.ImageSlider(label="Restoration: luminance before / after", format="png",
                                          max_height=900, min_width=300, visible=False)  # fmt: skip
                own = gr.Image(label="The photo's own colours, restored (no model)", format="png", min_width=300,
                               interactive=False, visible=False)  # fmt: skip
            controls = [render_size, boost, brightness, blend, mark, restore, auto_contrast, cracks]
            outputs = [cnn, gan, versus, blended, info, files, restored, own]
            # The page gets previews (colorize_page); the API, behind a button nobody sees, full resolution.
            button.click(colorize_page, [photo, *controls], outputs, api_name=False, concurrency_id="inference")
            api_button = gr.Button("API: colorize", visible=False)
            api_button.click(colorize, [photo, *controls], outputs[:6], api_name="colorize", concurrency_id="inference")
            api_restore = gr.Button("API: restoration", visible=False)
            api_restore.click(restoration, [photo, boost, brightness, cracks], [restored, own, info],
                              api_name="restoration", concurrency_id="inference")  # fmt: skip
            photo.upload(colorize_page, [photo, *controls], outputs, api_name=False, concurrency_id="inference")
            triggers = [render_size.release, boost.release, brightness.release, blend.release, mark.input,
                        restore.input, auto_contrast.input, cracks.input]  # fmt: skip
            gr.on(triggers, rerender, [photo, *controls], outputs, api_name=False, concurrency_id="inference",
                  trigger_mode="always_last")  # fmt: skip
            if EXAMPLES:
                gr.Examples([[p] for p in EXAMPLES], photo, outputs, colorize_page, cache_examples=True,
                            cache_mode="lazy", label="Examples (sources and licences: demo/examples/SOURCES.md)",
                            examples_per_page=8)  # fmt: skip
        with gr.Tab("Many photos"):
            batch_files = gr.File(label="Photos", file_count="multiple", file_types=["image"])
            with gr.Row():
                results = gr.Radio(["Both", "CNN", "GAN", "Blend"], value="Both", label="Results for each photo")
                batch_button = gr.Button("Colorize all", variant="primary")
            report = gr.Markdown(label="report")
            gallery = gr.Gallery(label="Results", columns=4, format="png", object_fit="contain", height="auto")
            archive = gr.File(label="All results (zip)", interactive=False)
            batch_inputs = [batch_files, results, render_size, boost, brightness, blend, restore, auto_contrast, cracks]
            batch_button.click(colorize_batch, batch_inputs, [gallery, archive, report], api_name="colorize_batch",
                               concurrency_id="inference")  # fmt: skip
        with gr.Accordion("Model card: the two models, how well they do, where they fail", open=False):
            gr.Markdown(model_card())
    return demo.queue(max_size=QUEUE, default_concurrency_limit=CONCURRENCY)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    args = ap.parse_args()
    mcp = importlib.util.find_spec("mcp") is not None  # gradio[mcp] installed: also serve MCP tools
    service.sweep_on_schedule(CACHE)
    service.return_freed_memory()
    build().launch(
        share=args.share, max_file_size=service.LIMITS.max_file_bytes, mcp_server=mcp, css=CSS,
        theme=gr.themes.Soft(), footer_links=["api"],
    )  # fmt: skip


if __name__ == "__main__":
    main()
