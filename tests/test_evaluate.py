"""python -m train.colorize.evaluate on a few synthetic photos."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from colorizer.color import rgb_to_gray
from colorizer.pipeline import Photo
from helpers import ROOT, run
from train.colorize.evaluate import SHEET_HEIGHT, SUBSET, evaluate, is_imagenet, markdown
from train.colorize.metrics import summarise
from train.data import evenly_spaced, load_rgb, read_list

FIGURES = {"psnr", "de00", "cf", "cf_ratio", "hue_hit", "hue_hit_sectors", "seconds", "n"}


@pytest.fixture(scope="module")
def mixed_dir(photo_dir, tmp_path_factory):
    """Five of the synthetic photos, two named as ImageNet samples (one per prefix), three not."""
    d = tmp_path_factory.mktemp("mixed")
    names = ["imagenet_n01.jpg", "imagen_n02.jpg", "bsds_1.jpg", "coco_2.jpg", "syn_3.jpg"]
    for src, name in zip(sorted(photo_dir.iterdir()), names):
        shutil.copy(src, d / name)
    return d


class Tint:
    """A stand-in colorizer (a Model's predict_photo and colorize): one constant warm ab on the photo's lightness."""

    name, takes_hints, render_size, size_multiple = "tint", False, 64, 8

    def predict_photo(self, photo: Photo, render_size: int | None = None) -> np.ndarray:
        h, w = photo.model_input(self.render_size, self.size_multiple)[1]
        return np.broadcast_to(np.float32([10, 20])[:, None, None], (2, h, w)).copy()

    def colorize(self, gray: np.ndarray) -> np.ndarray:
        photo = Photo.from_image(gray)
        return photo.render(self.predict_photo(photo))


def test_table_keys_and_gray_baseline(mixed_dir, tmp_path):
    out = tmp_path / "eval"
    run("-m", "train.colorize.evaluate", "--data", str(mixed_dir), "--models", "cnn", "gan", "--out", str(out))
    results = json.loads((out / "results.json").read_text())
    assert list(results) == ["gray", "cnn", "gan"]
    for r in results.values():
        assert set(r) == FIGURES | {SUBSET} and r["n"] == 5
        assert set(r[SUBSET]) == FIGURES and r[SUBSET]["n"] == 3
    assert results["gray"]["cf_ratio"] == 0.0 and results["gray"]["cf"] == 0.0 and results["gray"]["hue_hit"] == 0.0
    assert results["cnn"]["seconds"] > 0 and 0 <= results["cnn"]["hue_hit"] <= 1
    table = (out / "results.md").read_text()
    assert "| gray |" in table and "| gan |" in table and "| hue_hit |" in table
    assert table.splitlines()[-1].startswith(f"| gan ({SUBSET}) |") and table.count(f"({SUBSET}) |") == 6
    assert "| hue_hit by true hue |" in table and len(results["cnn"]["hue_hit_sectors"]) == 6
    with Image.open(out / "sheet.png") as sheet:  # 5 rows of gray | cnn | gan | original
        assert sheet.height == 5 * (SHEET_HEIGHT + 4) and sheet.width >= 4 * SHEET_HEIGHT * 0.7


def test_stamp_puts_the_figures_into_the_model(photo_dir, tmp_path):
    import colorizer

    model, shipped = tmp_path / "stamped.onnx", ROOT / "onnx_models" / "gan.onnx"
    shutil.copy(shipped, model)
    out = tmp_path / "eval"
    run("-m", "train.colorize.evaluate", "--data", str(photo_dir), "--models", str(model), "--limit", "3",
        "--out", str(out), "--stamp")  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    stamped = colorizer.load(model)
    figures = json.loads(stamped.meta["eval_metrics"])
    assert figures["de00"] == results["stamped"]["de00"] and figures["gray_psnr"] == results["gray"]["psnr"]
    assert figures["n"] == 3 and "3 photos" in figures["data"]
    assert figures["hue_hit"] == results["stamped"]["hue_hit"]
    assert stamped.meta["arch_args"] == colorizer.load(shipped).meta["arch_args"]  # the rest is kept


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


def test_non_imagenet_figures_come_from_the_same_photos(mixed_dir):
    files = sorted(mixed_dir.iterdir())
    results, sheet = evaluate(files, [Tint()])
    others = [f for f in files if not is_imagenet(f)]
    rgbs = [load_rgb(f) for f in others]
    alone = summarise([Tint().colorize(rgb_to_gray(rgb)) for rgb in rgbs], rgbs)
    subset = results["tint"][SUBSET]
    assert {k: subset[k] for k in alone} == pytest.approx(alone) and subset["n"] == 3
    assert subset["hue_hit"] != pytest.approx(results["tint"]["hue_hit"])  # the ImageNet two count in the whole
    assert len(sheet) == 5 and len(sheet[0]) == 3  # gray | tint | original
    assert "| tint (non-ImageNet) |" in markdown(results)


def test_no_subset_without_imagenet_photos(photo_dir):
    results, _ = evaluate(sorted(photo_dir.iterdir())[:2], [Tint()])
    assert SUBSET not in results["gray"] and SUBSET not in results["tint"] and "non-ImageNet" not in markdown(results)


@pytest.mark.parametrize(
    ("name", "imagenet"),
    [
        ("imagenet_n0153.jpg", True),
        ("imagen_0007.JPEG", True),
        ("bsds_train_1.jpg", False),
        ("my_imagenet_1.jpg", False),
    ],
)
def test_imagenet_photos_by_file_name(tmp_path, name, imagenet):
    assert is_imagenet(tmp_path / name) is imagenet
