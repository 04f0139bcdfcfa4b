"""The batch command on Ray against its local engine, on the same generated photos, on this machine.

    python -m bench.archive [--photos 300] [--side 1024] [--json archive_results.json]

Writes N synthetic old photos of SIDE px (long side, 4:3; bench.load.old_photo) to a temporary folder, then runs
`python -m colorizer` on them with the local engine and with `--engine ray` (a local Ray instance on this
machine's cores), each into a fresh folder, without and with --restore. Reports, per run, the photos per second
each engine prints (from the first photo read to the last result; Ray's start-up apart), Ray's start-up time,
the ratio Ray / local against TARGET_RATIO, and the actors' peak resident memory (the results table's
worker_peak_mb) against TARGET_ACTOR_MB. Run it with nothing else running.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.load import ROOT, old_photo

TARGET_RATIO = 0.8  # Ray's photos/s over the local engine's, on this machine
TARGET_ACTOR_MB = 1536


def make_photos(folder: Path, count: int, side: int) -> None:
    """`count` distinct JPEGs, side x 3/4 side px, landscape and portrait alternating."""
    rng = np.random.default_rng(0)
    for i in range(count):
        h, w = (side * 3 // 4, side) if i % 2 == 0 else (side, side * 3 // 4)
        old_photo(rng, h, w).save(folder / f"scan_{i:05d}.jpg", quality=90)


def run_engine(src: Path, dest: Path, engine: str, restore: bool) -> dict:
    """One run of python -m colorizer: its photos/s, Ray's start-up (s, Ray only), the wall time and, for Ray,
    the largest worker_peak_mb of its table."""
    cmd = [sys.executable, "-m", "colorizer", str(src), "-o", str(dest), "--engine", engine]
    start = time.perf_counter()
    p = subprocess.run(cmd + ["--restore"] * restore, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    result = {"photos_per_s": float(re.findall(r"([\d.]+) photos/s", p.stderr)[-1]), "wall_s": round(wall, 1)}
    if engine == "ray":
        result["ray_start_s"] = float(re.search(r"Ray started in ([\d.]+) s", p.stderr).group(1))
        with open(dest / "results.csv", newline="") as f:
            result["actor_peak_mb"] = max(int(r["worker_peak_mb"]) for r in csv.DictReader(f))
    return result


def main() -> None:
    """`python -m bench.archive`: both engines, without and with restoration; prints and writes the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=300)
    ap.add_argument("--side", type=int, default=1024, help="long side of the photos, px")
    ap.add_argument("--json", type=Path, default=Path("archive_results.json"))
    args = ap.parse_args()
    results: dict = {"photos": args.photos, "side": args.side, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "scans"
        src.mkdir()
        make_photos(src, args.photos, args.side)
        for restore in (False, True):
            label = "restored" if restore else "plain"
            runs = {e: run_engine(src, Path(tmp) / f"{e}_{label}", e, restore) for e in ("local", "ray")}
            ratio = runs["ray"]["photos_per_s"] / runs["local"]["photos_per_s"]
            results["runs"][label] = runs | {"ray_over_local": round(ratio, 2)}
            local, ray = runs["local"], runs["ray"]
            speed = "ok" if ratio >= TARGET_RATIO else "UNDER"
            memory = "ok" if ray["actor_peak_mb"] <= TARGET_ACTOR_MB else "OVER"
            print(
                f"{label}: local {local['photos_per_s']:.2f} photos/s, Ray {ray['photos_per_s']:.2f} (start-up "
                f"{ray['ray_start_s']:.1f} s apart): {ratio:.2f}x, {speed} (target >= {TARGET_RATIO}x); actor peak "
                f"{ray['actor_peak_mb']} MB, {memory} (target <= {TARGET_ACTOR_MB})",
                flush=True,
            )
    args.json.write_text(json.dumps(results, indent=2))
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()
