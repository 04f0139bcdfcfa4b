"""python -m train.soup: the weighted mean of a lineage's checkpoints, exported and run like any restorer."""

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from colorizer.restore import Restorer
from helpers import ROOT, TINY_RESTORE, run
from train.checkpoint import load_checkpoint
from train.restore.config import RestoreConfig
from train.restore.trainer import RestoreTrainer
from train.soup import soup

pytestmark = pytest.mark.slow  # every test here averages a lineage the module's fixture trains


@pytest.fixture(scope="module")
def lineage(tmp_path_factory, photo_dir):
    """A tiny restorer run (2 steps) and a branch trained on from it (2 more): (parent path, branch path)."""
    tmp = tmp_path_factory.mktemp("lineage")
    cfg = RestoreConfig(**TINY_RESTORE)
    parent = RestoreTrainer(cfg, photo_dir, tmp / "a")
    parent.run(2)
    parent.save(evaluate=False)
    branch = RestoreTrainer(replace(cfg, init_from=str(tmp / "a" / "last.pt")), photo_dir, tmp / "b")
    branch.run(4)
    branch.save(evaluate=False)
    return tmp / "a" / "last.pt", tmp / "b" / "last.pt"


def test_the_soup_is_the_weighted_mean_and_records_its_ingredients(lineage):
    a, b = (load_checkpoint(p) for p in lineage)
    ck = soup([a, b], [1.0, 3.0], ["a/last.pt", "b/last.pt"])
    for name, value in ck["ema"].items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.25 * a["ema"][name] + 0.75 * b["ema"][name], atol=1e-7), name
    differs = [n for n, v in a["ema"].items() if v.is_floating_point() and not torch.equal(v, b["ema"][n])]
    assert differs  # the branch did learn: the mean is neither end
    assert ck["step"] == 4 and ck["seconds"] == max(a["seconds"], b["seconds"])
    assert [(s["checkpoint"], s["step"], s["weight"]) for s in ck["soup"]] == [
        ("a/last.pt", 2, 0.25),
        ("b/last.pt", 4, 0.75),
    ]
    assert "opt" not in ck and "val_metrics" not in ck  # the branch's optimiser and figures are not the soup's


def test_checkpoints_of_other_architectures_or_bad_weights_are_refused(lineage, tmp_path, photo_dir):
    other_args = TINY_RESTORE["arch_args"] | {"widths": [8, 16, 24]}
    other = RestoreTrainer(RestoreConfig(**TINY_RESTORE | {"arch_args": other_args}), photo_dir, tmp_path)
    other.save(evaluate=False)
    a = load_checkpoint(lineage[0])
    with pytest.raises(ValueError, match="differs from a in arch_args"):
        soup([a, load_checkpoint(tmp_path / "last.pt")], [1, 1], ["a", "other"])
    with pytest.raises(ValueError, match="positive weight"):
        soup([a, a], [1, 0], ["a", "a"])
    cmd = [sys.executable, "-m", "train.soup", str(lineage[0]), str(tmp_path / "last.pt"), "-o", str(tmp_path / "s.pt")]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert p.returncode != 0 and "not one lineage" in p.stderr and not (tmp_path / "s.pt").exists()


def test_a_soup_exports_and_restores_through_the_library(lineage, tmp_path):
    run("-m", "train.soup", *map(str, lineage), "-o", str(tmp_path / "soup" / "last.pt"))
    run("-m", "export.restorer", str(tmp_path / "soup" / "last.pt"), "-o", str(tmp_path / "soup.onnx"))  # parity
    model = Restorer(tmp_path / "soup.onnx")
    record = json.loads(model.meta["soup"])
    assert [s["checkpoint"] for s in record] == ["a/last.pt", "b/last.pt"] and model.meta["train_steps"] == "4"
    gray = np.random.default_rng(0).integers(0, 256, (70, 90), dtype=np.uint8)
    assert model.restore(gray).shape == (70, 90)
