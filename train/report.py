"""Run-folder reports: the CSV log (log.csv), its plot (loss.png) and image sheets of validation samples."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on training machines
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from colorizer.atomic import atomic_write
from colorizer.color import gray_to_rgb, rgb_to_gray


def log_row(path: Path, columns: list[str], row: dict) -> None:
    """Append one row (its keys among the header, missing values left empty) to the CSV log. A new file gets
    `columns` as its header; an existing file keeps its own header where the row fits it (a run resumed from an
    older version), and is rewritten under `columns` (plus any older column it had) where it does not."""
    header = columns
    if path.exists():
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            old = list(reader)
            own = list(reader.fieldnames or [])
        header = own or columns
        if not set(row) <= set(header):
            header = columns + [k for k in own if k not in columns]
            with open(path, "w", newline="") as f:
                csv.DictWriter(f, header).writeheader()
                csv.DictWriter(f, header).writerows(old)
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, header)
        if new:
            writer.writeheader()
        writer.writerow(row)


def drop_rows_after(log: Path, step: int) -> None:
    """Remove the CSV log's rows past `step`, and a last row cut short: written after the checkpoint a run
    resumes from, they belong to lost work that the resumed run logs again (no duplicated or missing rows)."""
    if not log.exists():
        return
    text = log.read_text()
    whole = text[: text.rfind("\n") + 1]  # a run killed while appending leaves a partial last line
    rows = list(csv.reader(io.StringIO(whole)))
    if not rows:  # not even a whole header: log_row starts the file again
        log.unlink()
        return
    at = rows[0].index("step")
    keep = rows[:1] + [r for r in rows[1:] if r and int(float(r[at])) <= step]
    if whole != text or len(keep) < len(rows):
        buf = io.StringIO()
        csv.writer(buf).writerows(keep)  # "\r\n" line ends, as log_row's csv writer makes them
        atomic_write(log, buf.getvalue().encode())


def plot_log(log: Path, out: Path, panels: dict[str, tuple[str, ...]]) -> None:
    """A PNG of the CSV log's curves against the step: one panel per entry of `panels` (title -> the columns
    drawn in it, e.g. the training losses, then the validation figures); empty cells are skipped."""
    with open(log, newline="") as f:
        rows = list(csv.DictReader(f))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (title, keys) in zip(axes[0], panels.items()):
        for key in keys:
            pts = [(int(float(r["step"])), float(r[key])) for r in rows if r.get(key)]
            if pts:
                ax.plot(*zip(*pts), label=key)
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
