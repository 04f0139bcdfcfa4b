"""Timing, memory and reporting helpers for `python -m bench`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def threads() -> int:
    """The thread count the pipeline uses: COLORIZER_THREADS, else all cores."""
    return int(os.environ.get("COLORIZER_THREADS", "0")) or os.cpu_count() or 1


def parse_size(text: str) -> tuple[int, int]:
    """'2048' -> (2048, 2048); '3000x2000' (width x height) -> (2000, 3000) as (height, width)."""
    w, _, h = text.partition("x")
    return int(h or w), int(w)


def once_ms(fn: Callable[[], object]) -> float:
    """Wall time of one call of `fn`, in ms."""
    t = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - t)


def spread(times: list[float]) -> dict[str, float]:
    """Median, min and max of a list of times (ms)."""
    return {"median": float(np.median(times)), "min": float(min(times)), "max": float(max(times))}


def timeit(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median, min and max in ms of `repeat` calls, after one warm-up call."""
    fn()
    return spread([once_ms(fn) for _ in range(repeat)])


def extra_time(fn: Callable[[], object], base: Callable[[], object], repeat: int) -> dict[str, float]:
    """What `fn` costs beyond `base` (ms): median, min and max of `repeat` differences of the two timed back to
    back (paired, so that the spread is the extra's own), each floored at 0, after one warm-up call of each."""
    fn(), base()
    return spread([max(0.0, once_ms(fn) - once_ms(base)) for _ in range(repeat)])


def peak_memory_mb(height: int, width: int, restore: bool | str = False) -> float:
    """Peak RSS (MiB) of a fresh process (no torch) that colorizes one photo of this size with both models,
    after repairing it with the shipped restoration model if `restore` (True, or "cracks": the crack filler first)."""
    # VmHWM (not ru_maxrss, which a child inherits from the parent that forked it) is this process's own peak.
    code = (
        "import re, sys, numpy as np, colorizer\n"
        f"img = np.random.default_rng(0).integers(0, 256, ({height}, {width}), dtype=np.uint8)\n"
        "ms = [colorizer.load('cnn'), colorizer.load('gan')]\n"
        f"c = colorizer.compare(ms, img, restore={restore!r})\n"
        "out = [c.rgb(m.name) for m in ms]\n"
        "assert 'torch' not in sys.modules\n"
        "print(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return int(p.stdout.split()[-1]) / 1024


def stage_table(title: str, stages: dict) -> str:
    """A Markdown table of one size's stages: median and min-max in ms."""
    rows = [f"\n### {title}", "| stage | median ms | min-max ms |", "|---|---|---|"]
    for name, t in stages.items():
        if t is None:
            rows.append(f"| {name} | n/a | |")
        else:
            rows.append(f"| {name} | {t['median']:.1f} | {t['min']:.1f}-{t['max']:.1f} |")
    return "\n".join(rows)


def verdict(value: float, target: float, unit: str) -> str:
    """'ok' or how far over the target a measured value is."""
    if value <= target:
        return f"ok ({value:.0f} {unit} <= {target:.0f})"
    return f"OVER by {value - target:.0f} {unit} ({value / target:.2f}x the target {target:.0f})"


def summary(
    results: dict, ref: int, both_ms: dict, peak_mb: dict, merge_ms: dict, speedup: float, restore_ms: dict,
    restore_extra_mb: dict,
) -> dict:  # fmt: skip
    """Each target next to its measurement."""
    out = {}
    for side, target in restore_ms.items():
        s = results["sizes"].get(f"{side}x{side}")
        if s and s["restoration"]:
            out[f"restoration {side}x{side}"] = verdict(s["restoration"]["median"], target, "ms")
    for side, target in restore_extra_mb.items():
        mb = results["memory_mb"]
        if f"{side}x{side} restored" in mb:
            extra = mb[f"{side}x{side} restored"] - mb[f"{side}x{side}"]
            out[f"restoration's extra peak memory {side}x{side}"] = verdict(extra, target, "MiB")
    for side, target in both_ms.items():
        s = results["sizes"].get(f"{side}x{side}")
        if s:
            out[f"both models {side}x{side}"] = verdict(s["end-to-end both"]["median"], target, "ms")
    for side, target in merge_ms.items():
        s = results["sizes"].get(f"{side}x{side}")
        if s:
            merge, copy = s["upsample+merge"]["median"], s["numpy copy of the result"]["median"]
            out[f"merge {side}x{side}"] = verdict(merge, target, "ms") + f"; {merge / copy:.0f}x a numpy copy"
    for side, target in peak_mb.items():
        mb = results["memory_mb"].get(f"{side}x{side}")
        if mb is not None:
            out[f"peak memory {side}x{side}"] = verdict(mb, target, "MiB")
    s = results["sizes"].get(f"{ref}x{ref}")
    refs = [v["median"] for k, v in results["references"].items() if k.startswith("original") and f"@{ref}" in k]
    if s and len(refs) == 2:
        ratio = sum(refs) / s["end-to-end both"]["median"]
        out[f"speed-up vs original @{ref}"] = (
            f"{ratio:.0f}x ({'ok' if ratio >= speedup else 'UNDER'} target {speedup:.0f}x)"
        )
    return out


def hints_summary(results: dict, hints: int, share: float) -> dict:
    """Per size and model timed with `hints` colour hints (stage "<hints> hints, <model> (extra)"): what they add
    against `share` of that model's end-to-end time."""
    out = {}
    for size, s in results["sizes"].items():
        for name in results["env"]["render_size"]:
            if (extra := s.get(f"{hints} hints, {name} (extra)")) is None:
                continue  # a colorizer/1 model: no hints to time
            base = s[f"end-to-end {name}"]["median"]
            ratio = extra["median"] / base
            out[f"{hints} hints on {name} {size}"] = (
                f"{'ok' if ratio <= share else 'OVER'} (+{extra['median']:.1f} ms, {100 * ratio:.1f} % of "
                f"{base:.0f} ms; target <= {100 * share:.0f} %)"
            )
    return out


def report(results: dict) -> str:
    """The environment, references and target summary as text."""
    env = results["env"]
    lines = ["", f"ONNX Runtime {env['onnxruntime']}, {env['provider']}, {env['threads']} threads, {env['cpu']}"]
    lines.append(f"render sizes: {', '.join(f'{name} {size} px' for name, size in env['render_size'].items())}")
    lines += ["", "| reference | median ms | min-max ms |", "|---|---|---|"]
    for name, t in results["references"].items():
        lines.append(f"| {name} | {t['median']:.1f} | {t['min']:.1f}-{t['max']:.1f} |")
    head = "| peak memory (both models, own process; 'restored': restoration first; 'cracks filled': the crack filler"
    lines += ["", head + " before it) | MiB |", "|---|---|"]
    lines += [f"| {size} | {mb:.0f} |" for size, mb in results["memory_mb"].items()]
    lines += ["", "Targets:"] + [f"- {k}: {v}" for k, v in results["summary"].items()]
    return "\n".join(lines)
