"""python -m train.evaluate on a few synthetic photos."""

import json

import numpy as np
import pytest
from PIL import Image

from helpers import run
from train.evaluate import SHEET_HEIGHT, evenly_spaced, read_list


def test_table_keys_and_gray_baseline(trained, photo_dir, tmp_path):
    out = tmp_path / "eval"
    run("-m", "train.evaluate", "--data", str(photo_dir), "--models", str(trained["cnn"]), str(trained["gan"]),
        "--limit", "5", "--out", str(out))  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    assert list(results) == ["gray", "cnn", "gan"]
    for r in results.values():
        assert set(r) == {"psnr", "de00", "cf", "cf_ratio", "seconds", "n"} and r["n"] == 5
    assert results["gray"]["cf_ratio"] == 0.0 and results["gray"]["cf"] == 0.0
    assert results["cnn"]["seconds"] > 0
    table = (out / "results.md").read_text()
    assert "| gray |" in table and "| gan |" in table
    with Image.open(out / "sheet.png") as sheet:  # 5 rows of gray | cnn | gan | original
        assert sheet.height == 5 * (SHEET_HEIGHT + 4) and sheet.width >= 4 * SHEET_HEIGHT * 0.7


def test_stamp_puts_the_figures_into_the_model(trained, photo_dir, tmp_path):
    import shutil

    import colorizer

    model = tmp_path / "stamped.onnx"
    shutil.copy(trained["gan"], model)
    out = tmp_path / "eval"
    run("-m", "train.evaluate", "--data", str(photo_dir), "--models", str(model), "--limit", "3", "--out", str(out),
        "--stamp")  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    stamped = colorizer.load(model)
    figures = json.loads(stamped.meta["eval_metrics"])
    assert figures["de00"] == results["stamped"]["de00"] and figures["gray_psnr"] == results["gray"]["psnr"]
    assert figures["n"] == 3 and "3 photos" in figures["data"]
    assert stamped.meta["arch_args"] == colorizer.load(trained["gan"]).meta["arch_args"]  # the rest is kept


def test_list_file_and_limit(photo_dir, tmp_path):
    names = sorted(p.name for p in photo_dir.iterdir())
    lst = tmp_path / "split.txt"
    lst.write_text("# comment\n" + "\n".join(names[:10]) + "\n")
    files = read_list(lst, photo_dir)
    assert [f.name for f in files] == names[:10] and all(f.is_file() for f in files)
    assert [f.name for f in evenly_spaced(files, 3)] == [names[0], names[4], names[9]]
    assert evenly_spaced(files, None) == files


@pytest.mark.parametrize("limit", [1, 7])
def test_evenly_spaced_is_deterministic(limit):
    items = list(np.arange(20))
    assert evenly_spaced(items, limit) == evenly_spaced(items, limit) and len(evenly_spaced(items, limit)) == limit
