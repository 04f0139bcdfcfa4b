"""The Gradio app: a black-and-white photo colorized by the CNN and the GAN, side by side.

    python demo/app.py [--share]

Serves on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (default 127.0.0.1:7860). Runs the same way on a
Hugging Face Space. Environment: COLORIZER_THREADS (ONNX Runtime threads, default all cores),
COLORIZER_MAX_PIXELS (largest photo accepted, default 50 megapixels).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python demo/app.py` puts demo/, not the repository, on the path
    sys.path.insert(0, str(ROOT))

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

import colorizer  # noqa: E402

MAX_PIXELS = int(os.environ.get("COLORIZER_MAX_PIXELS", 50_000_000))
MAX_FILE_SIZE = "25mb"
EXAMPLES = sorted(str(p) for p in (ROOT / "demo" / "examples").glob("*.jpg"))
MODELS = [colorizer.load("cnn"), colorizer.load("gan")]  # sessions are created once, at start-up

INTRO = """
# Black-and-white photo colorizer: CNN vs GAN
Upload an old black-and-white, sepia or faded photo and compare two small models that run on an ordinary CPU.
**CNN**: a convolutional network trained to predict colour directly (steady, sometimes muted colours).
**GAN**: a U-Net trained against a discriminator that punishes dull, implausible colour (bolder, sometimes wrong).
Both keep every detail of your photo: only the colour comes from the model, at the photo's full resolution.

*The colours are the model's guess, not a historical record. Uploads are processed in memory and not kept.*
"""


def load_photo(path: str | None) -> np.ndarray:
    """An uploaded file -> uint8 HxW / HxWx3 array, or a gr.Error that says what is wrong."""
    if not path:
        raise gr.Error("Please upload a photo first.")
    try:
        image = colorizer.open_image(path)
    except colorizer.ImageError as e:
        raise gr.Error(f"Could not read this file: {str(e).split(': ', 1)[-1]}") from None
    h, w = image.shape[:2]
    if h * w > MAX_PIXELS:
        raise gr.Error(f"The photo is {w}x{h} = {h * w / 1e6:.0f} megapixels; the limit is {MAX_PIXELS / 1e6:.0f}.")
    return image


def as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 HxW or HxWx3 -> RGB uint8 HxWx3 (for the 'before' side of a slider)."""
    return np.repeat(image[..., None], 3, -1) if image.ndim == 2 else image


def colorize(photo: str) -> tuple[tuple, tuple, str]:
    """Colorize a black-and-white photo with both models.

    Args:
        photo: path or URL of the image file (JPEG, PNG, WebP, TIFF, BMP, ...).
    Returns:
        (original, CNN result) and (original, GAN result) image pairs at the photo's full size, and a
        Markdown line with each model's time and the execution provider.
    """
    image = load_photo(photo)
    result = colorizer.compare(MODELS, image)
    before = as_rgb(image)
    cnn, gan = (result.rgb(m.name) for m in MODELS)
    h, w = image.shape[:2]
    timing = " · ".join(f"**{m.kind.upper()}** {1000 * result.seconds[m.name]:.0f} ms" for m in MODELS)
    info = f"{w}x{h} px · {timing} · running on {MODELS[0].provider.removesuffix('ExecutionProvider')}"
    return (before, cnn), (before, gan), info


def build() -> gr.Blocks:
    """The interface; no work happens until a request arrives."""
    with gr.Blocks(title="Photo colorizer: CNN vs GAN") as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            photo = gr.Image(label="Your photo", type="filepath", sources=["upload", "clipboard"], scale=1)
        button = gr.Button("Colorize", variant="primary")
        info = gr.Markdown(label="Timing")
        with gr.Row(equal_height=True):
            cnn = gr.ImageSlider(label="CNN: before / after", format="png", max_height=720)
            gan = gr.ImageSlider(label="GAN: before / after", format="png", max_height=720)
        outputs = [cnn, gan, info]
        button.click(colorize, photo, outputs, api_name="colorize")
        if EXAMPLES:
            gr.Examples(
                [[p] for p in EXAMPLES],
                photo,
                outputs,
                colorize,
                cache_examples=True,
                cache_mode="lazy",
                label="Examples (sources and licences in demo/examples/SOURCES.md)",
            )
    return demo.queue(max_size=16, default_concurrency_limit=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    args = ap.parse_args()
    build().launch(share=args.share, max_file_size=MAX_FILE_SIZE)


if __name__ == "__main__":
    main()
