"""Run-folder reports: the CSV log, the loss-curve plot and the validation sample grid."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on training machines
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from colorizer.color import gray_to_rgb, rgb_to_gray

COLUMNS = ["step", "seconds", "l1", "ce", "adv", "d", "val_psnr", "val_de00", "val_cf", "val_cf_ratio", "val_hue_hit"]


def log_row(path: Path, row: dict) -> None:
    """Append one row to the CSV log. The header is COLUMNS, or the file's own when it was written by an
    older version (a resumed run); a file whose header lacks one of the row's keys is rewritten with COLUMNS."""
    header = COLUMNS
    if path.exists():
        with open(path, newline="") as f:
            old = list(csv.DictReader(f))
            header = list(old[0].keys()) if old else COLUMNS
        if not set(row) <= set(header):
            header = COLUMNS
            with open(path, "w", newline="") as f:
                csv.DictWriter(f, header).writeheader()
                csv.DictWriter(f, header).writerows(old)
    append_row(path, header, row)


def append_row(path: Path, header: list[str], row: dict) -> None:
    """Append one row (keys among `header`, missing values left empty) to a CSV file, writing `header` first if the
    file is new. An existing file's header is taken as it is: log_row checks and migrates it where it may differ."""
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, header)
        if new:
            writer.writeheader()
        writer.writerow(row)


def plot_log(log: Path, out: Path) -> None:
    """Loss curves (left) and validation figures (right) from the CSV log, as a PNG."""
    with open(log) as f:
        rows = list(csv.DictReader(f))
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    for key, ax in [
        ("l1", ax_loss),
        ("ce", ax_loss),
        ("adv", ax_loss),
        ("d", ax_loss),
        ("val_de00", ax_val),
        ("val_psnr", ax_val),
    ]:
        pts = [(int(r["step"]), float(r[key])) for r in rows if r.get(key)]
        if pts:
            ax.plot(*zip(*pts), label=key)
    for ax, title in [(ax_loss, "training losses"), (ax_val, "validation")]:
        ax.set_xlabel("step")
        ax.set_title(title)
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def image_sheet(rows: list[list[np.ndarray]], out: Path, height: int) -> None:
    """A PNG with one line per row of RGB uint8 HxWx3 images, each scaled to `height`, on white."""

    def scaled(a: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(a).resize((round(a.shape[1] * height / a.shape[0]), height)))

    lines = [np.concatenate([scaled(a) for a in row], 1) for row in rows]
    width = max(ln.shape[1] for ln in lines)
    pad = [np.pad(ln, ((0, 4), (0, width - ln.shape[1]), (0, 0)), constant_values=255) for ln in lines]
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(pad)).save(out)


def sample_grid(targets: list[np.ndarray], preds: list[np.ndarray], out: Path, height: int = 128) -> None:
    """Validation samples, one row per photo: gray input | prediction | original (RGB uint8 HxWx3 each)."""
    image_sheet([[gray_to_rgb(rgb_to_gray(t)), p, t] for t, p in zip(targets, preds)], out, height)
