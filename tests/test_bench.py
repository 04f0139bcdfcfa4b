"""python -m bench --quick runs end to end (one size, one repetition) and reports every stage, memory figure and
reference; the speed targets themselves are judged by the full benchmark, not here."""

import json

import colorizer
from helpers import run

STAGES = ["decode", "luminance", "resize to render", "model cnn", "model gan", "upsample+merge", "restoration",
          "crack filler (cracked prints, extra)", "encode png", "end-to-end cnn", "end-to-end gan",
          "end-to-end both"]  # fmt: skip
REFERENCES = ["original pix2pix_unet @256", "original plain_cnn @256", "torch eager cnn @256", "torch eager gan @256"]


def test_quick_benchmark(tmp_path):
    out = tmp_path / "bench.json"
    p = run("-m", "bench", "--quick", "--json", str(out), timeout=900)
    r = json.loads(out.read_text())
    stages = r["sizes"]["512x512"]
    for key in STAGES:  # each stage was timed: a stage that failed or was skipped would show 0 or be missing
        t = stages[key]
        assert 0 < t["min"] <= t["median"] <= t["max"], key
    assert "enhancement (extra)" in stages  # a difference of two times, floored at 0: its value is not judged
    assert r["env"]["render_size"] == {"cnn": 256, "gan": 256} and r["env"]["threads"] >= 1
    memory = r["memory_mb"]
    assert set(memory) == {"512x512", "512x512 restored", "512x512 cracks filled, restored"}
    assert all(50 < mb < 4096 for mb in memory.values())
    assert sorted(r["references"]) == REFERENCES and all(v["median"] > 0 for v in r["references"].values())
    assert "both models 512x512" in r["summary"]
    assert "Targets:" in p.stdout and "| model cnn |" in p.stdout
    for name in ("cnn", "gan"):  # a colorizer/2 model: what 10 hints add, paired with none, and its verdict
        hinted = colorizer.load(name).takes_hints
        assert (f"10 hints, {name} (extra)" in stages) == hinted
        assert (f"10 hints on {name} 512x512" in r["summary"]) == hinted
