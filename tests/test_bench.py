"""python -m bench --quick runs end to end (one size, one repetition); times are not judged here."""

import json

from helpers import run


def test_quick_benchmark(tmp_path):
    out = tmp_path / "bench.json"
    p = run("-m", "bench", "--quick", "--json", str(out), timeout=900)
    r = json.loads(out.read_text())
    stages = r["sizes"]["512x512"]
    keys = ["decode", "luminance", "resize to render", "model cnn", "model gan", "upsample+merge"]
    keys += ["enhancement (extra)", "restoration", "encode png", "end-to-end cnn", "end-to-end gan", "end-to-end both"]
    for key in keys:
        assert stages[key]["median"] >= 0, key
    assert r["env"]["onnxruntime"] and r["env"]["threads"] >= 1
    assert 50 < r["memory_mb"]["512x512"] < 4096 and 50 < r["memory_mb"]["512x512 restored"] < 4096
    int8 = [name for name, p in r["env"]["precision"].items() if p == "int8"]
    assert len(r["references"]) == 4 + len(int8) and all(v["median"] > 0 for v in r["references"].values())
    assert "both models 512x512" in r["summary"] and "Targets:" in p.stdout
