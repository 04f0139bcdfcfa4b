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
`colorize` takes colour hints (JSON, colorizer.hints.parse_hints) as its last input; the page places them with clicks
on the blend image (demo.hinting).
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

import colorizer  # noqa: E402
from colorizer.hints import MAX_HINTS  # noqa: E402
from demo.files import LIMITS, MAX_AGE_S, SWEEP_EVERY_S, sweep_on_schedule  # noqa: E402
from demo.handlers import Handlers  # noqa: E402
from demo.hinting import HintPanel  # noqa: E402
from demo.server import return_freed_memory, send_files_in_larger_chunks  # noqa: E402

EXAMPLES = sorted(str(p) for p in (ROOT / "demo" / "examples").glob("*.jpg"))
QUEUE = int(os.environ.get("COLORIZER_QUEUE", 20))
CONCURRENCY = int(os.environ.get("COLORIZER_CONCURRENCY", 1))  # inferences at once; 1 is fastest on 2 cores

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
    header claims billions of pixels) failed with a bare "Error"; demo.files.load_photo reads it instead, with a
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


def hints_input() -> gr.JSON:
    """The `/colorize` endpoint's hints input, hidden: a gr.JSON whose API schema says what it takes (a list of
    {"x", "y", "color"}), where gr.JSON's own says "any JSON" with an empty type that MCP clients cannot read."""
    hints = gr.JSON(None, visible=False, label="hints")
    point = {"type": "object", "required": ["x", "y", "color"],
             "properties": {"x": {"type": "number"}, "y": {"type": "number"}, "color": {"type": "string"}}}  # fmt: skip
    hints.api_info = lambda: {"type": "array", "items": point, "maxItems": MAX_HINTS}
    return hints


def model_card(models: list[colorizer.Model]) -> str:
    """The README's model card section, followed by each shipped model's own metadata (Markdown)."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Model card\n(.*?)(?=^## )", readme, re.S | re.M)
    rows = [
        "| model | version | steps | training time | val PSNR | val ΔE00 | val cf_ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in models:
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


def control_row() -> dict[str, gr.components.Component]:
    """The controls both tabs share, by the name of the handlers' argument they set."""
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
    return {"render_size": render_size, "colour_boost": boost, "brightness": brightness, "blend": blend,
            "mark": mark, "restore": restore, "auto_contrast": auto_contrast, "cracks": cracks}  # fmt: skip


def one_photo_tab(h: Handlers, c: dict[str, gr.components.Component]) -> None:
    """The "One photo" tab: the upload, the results side by side, and the `colorize` and `restoration` endpoints."""
    with gr.Row(equal_height=False):
        limits = f"{LIMITS.max_file_mb} MB and {LIMITS.max_pixels / 1e6:g} megapixels"
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
        with gr.Column(min_width=300):  # the sliders take clicks for themselves: hints are placed on the blend
            blended = gr.Image(label="Blend of the CNN and GAN colour" + ": click to add a hint" * h.takes_hints,
                               format="png", interactive=False, elem_id="blend")  # fmt: skip
            panel = HintPanel(h)
    with gr.Row(elem_classes="results"):
        restored = gr.ImageSlider(label="Restoration: luminance before / after", format="png",
                                  max_height=900, min_width=300, visible=False)  # fmt: skip
        own = gr.Image(label="The photo's own colours, restored (no model)", format="png", min_width=300,
                       interactive=False, visible=False)  # fmt: skip
    inputs, outputs = [photo, *c.values()], [cnn, gan, versus, blended, info, files, restored, own]
    events = {"concurrency_id": "inference"}
    hints = panel.wire(photo, list(c.values()), blended, outputs)  # the page's hints, sent with its requests
    # The page gets previews (colorize_page); the API, behind a button nobody sees, full resolution. The API takes
    # the hints (JSON) as its last input.
    button.click(h.colorize_page, [*inputs, hints], outputs, api_name=False, **events)
    api_hints = hints_input()
    gr.Button("API: colorize", visible=False).click(h.colorize, [*inputs, api_hints], outputs[:6], api_name="colorize",
                                                    **events)  # fmt: skip
    repair = [photo, c["colour_boost"], c["brightness"], c["cracks"]]
    gr.Button("API: restoration", visible=False).click(h.restoration, repair, [restored, own, info],
                                                       api_name="restoration", **events)  # fmt: skip
    photo.upload(h.colorize_page, inputs, outputs, api_name=False, **events)  # a new photo: no hints yet
    triggers = [getattr(control, "release" if isinstance(control, gr.Slider) else "input") for control in c.values()]
    gr.on(triggers, h.rerender, [*inputs, hints], outputs, api_name=False, trigger_mode="always_last", **events)
    if EXAMPLES:
        gr.Examples([[p] for p in EXAMPLES], photo, outputs, h.colorize_page, cache_examples=True,
                    cache_mode="lazy", label="Examples (sources and licences: demo/examples/SOURCES.md)",
                    examples_per_page=8)  # fmt: skip


def many_photos_tab(h: Handlers, c: dict[str, gr.components.Component]) -> None:
    """The "Many photos" tab: a gallery of results and a zip, and the `colorize_batch` endpoint."""
    batch_files = gr.File(label="Photos", file_count="multiple", file_types=["image"])
    with gr.Row():
        results = gr.Radio(["Both", "CNN", "GAN", "Blend"], value="Both", label="Results for each photo")
        batch_button = gr.Button("Colorize all", variant="primary")
    report = gr.Markdown(label="report")
    gallery = gr.Gallery(label="Results", columns=4, format="png", object_fit="contain", height="auto")
    archive = gr.File(label="All results (zip)", interactive=False)
    controls = [c[name] for name in ("render_size", "colour_boost", "brightness", "blend", "restore", "auto_contrast",
                                     "cracks")]  # fmt: skip
    batch_button.click(h.colorize_batch, [batch_files, results, *controls], [gallery, archive, report],
                       api_name="colorize_batch", concurrency_id="inference")  # fmt: skip


def build(handlers: Handlers) -> gr.Blocks:
    """The interface, its events calling `handlers`; no work happens until a request arrives."""
    # Gradio's copies of uploads and results: every SWEEP_EVERY_S, those older than MAX_AGE_S are deleted;
    # demo.files.sweep_on_schedule does the same for the app's own files and the prediction cache.
    with gr.Blocks(title="Old photo colorizer: CNN vs GAN", delete_cache=(SWEEP_EVERY_S, MAX_AGE_S)) as demo:
        gr.Markdown(INTRO)
        controls = control_row()
        with gr.Tab("One photo"):
            one_photo_tab(handlers, controls)
        with gr.Tab("Many photos"):
            many_photos_tab(handlers, controls)
        with gr.Accordion("Model card: the two models, how well they do, where they fail", open=False):
            gr.Markdown(model_card(handlers.models))
    return demo.queue(max_size=QUEUE, default_concurrency_limit=CONCURRENCY)


def start() -> Handlers:
    """Load the models and make the server's settings, before the app serves. A damaged or missing model stops
    here, with the one line that names it and the fix (not a traceback)."""
    try:
        handlers = Handlers.load()  # the ONNX Runtime sessions are created once, here
    except (colorizer.ManifestError, colorizer.ContractError, FileNotFoundError) as e:
        sys.exit(str(e))
    sweep_on_schedule(handlers.cache)
    return_freed_memory()
    send_files_in_larger_chunks()
    return handlers


def main() -> None:
    """`python demo/app.py [--share]`: load the models, then serve the app until stopped."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    args = ap.parse_args()
    mcp = importlib.util.find_spec("mcp") is not None  # gradio[mcp] installed: also serve MCP tools
    build(start()).launch(
        share=args.share, max_file_size=LIMITS.max_file_bytes, mcp_server=mcp, css=CSS,
        theme=gr.themes.Soft(), footer_links=["api"],
    )  # fmt: skip


if __name__ == "__main__":
    main()
