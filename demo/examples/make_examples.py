"""Rebuild the app's example photos from public-domain / CC0 samples shipped inside pip packages.

    python demo/examples/make_examples.py

Each photo is saved as an 8-bit grayscale JPEG (the colour ones are turned to grayscale with ITU-R 601
luma, as a scanner would). Sources and licences are listed in SOURCES.md beside this script.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.cbook
import numpy as np
from PIL import Image
from skimage import data

HERE = Path(__file__).resolve().parent


def main() -> None:
    hopper = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")))
    photos = {
        "cameraman_bw": data.camera(),
        "grace_hopper_gray": hopper,
        "astronaut_gray": data.astronaut(),
        "coffee_gray": data.coffee(),
        "chelsea_cat_gray": data.chelsea(),
        "rocket_gray": data.rocket(),
        "coins_bw": data.coins(),
    }
    for name, pixels in photos.items():
        Image.fromarray(pixels).convert("L").save(HERE / f"{name}.jpg", quality=92)
        print(f"wrote {name}.jpg {pixels.shape[1]}x{pixels.shape[0]}")


if __name__ == "__main__":
    main()
