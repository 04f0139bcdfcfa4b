"""The load script (python -m bench.load) in its short mode, against the app launched as users launch it.

Only correctness is asserted here: the speed targets are for the 2-minute benchmark, not for the test suite.
"""

import json

import pytest

from helpers import run

FIGURES = ("users", "seconds", "requests", "throughput_rps", "single_photo_rps")


@pytest.fixture(scope="module")
def short_run(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("load") / "load.json"
    run("-m", "bench.load", "--short", "--json", str(out), timeout=900)
    return json.loads(out.read_text())


@pytest.mark.slow
def test_short_load_run_has_no_unexpected_errors_and_no_busy_refusals(short_run):
    errors = short_run["errors"]
    assert errors["unexpected"] == 0, short_run["unexpected_examples"]
    assert short_run["warmup_errors"] == []
    assert errors["busy"] == 0
    assert errors["expected_broken_file"] >= 1  # the truncated JPEG got the app's clear answer


@pytest.mark.slow
def test_short_load_run_reports_every_figure(short_run):
    for name in FIGURES:
        assert short_run[name] > 0, name
    for kind in ("single", "batch", "broken"):
        stats = short_run["latency_s"][kind]
        assert stats["count"] >= 1, kind
        assert 0 < stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["max"], kind
    memory = short_run["memory_mb"]
    assert 0 < memory["after_warmup"] < 4096 and 0 < memory["end"] < 4096  # MiB: the server fits a free Space
    assert memory["growth_pct"] == pytest.approx(100 * (memory["end"] / memory["after_warmup"] - 1))
    assert short_run["cpu_s_per_request"]["server"] > 0
    assert short_run["warmup_photos"] < short_run["photos"]  # the warm-up fills the cache; some photos miss it


def test_request_mix():
    from bench.load import kind_of

    kinds = [kind_of(i) for i in range(70)]
    assert kinds.count("batch") == 7 and kinds.count("broken") == 9 and kinds[:6] == ["single"] * 6
