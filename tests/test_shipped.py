"""The committed models in onnx_models/ satisfy the contract and give clearly non-gray colour."""

import json
import re

import numpy as np
import onnx
import pytest
from PIL import Image
from skimage import data

import colorizer
from colorizer.color import rgb_to_lab
from colorizer.session import MODEL_DIR
from helpers import ROOT
from train.colorize.metrics import colourfulness


@pytest.mark.parametrize("name", ["cnn", "gan"])
def test_contract_and_size(name):
    path = MODEL_DIR / f"{name}.onnx"
    assert path.stat().st_size <= 10_000_000  # a Space takes files up to 10 MB without LFS
    assert not (MODEL_DIR / f"{name}.onnx.data").exists()
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["L", "hints"] and [o.name for o in graph.output] == ["ab"]
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input]
    assert dims == [["N", 1, "H", "W"], ["N", 3, "H", "W"]]
    model = colorizer.load(name)
    assert model.kind == name and model.meta["contract"] == "colorizer/2" and model.takes_hints
    assert model.render_size >= 128 and model.size_multiple in (8, 16, 32, 64)
    metrics = json.loads(model.meta["eval_metrics"])  # the final validation, stamped by train.colorize.evaluate
    assert metrics["n"] >= 300 and int(model.meta["train_steps"]) >= 500
    assert float(model.meta["train_core_hours"]) >= 1.0  # with the runs it started from (the GAN: the CNN's)


@pytest.mark.parametrize("name", ["cnn", "gan"])
def test_sample_photo_comes_out_in_colour(name):
    rgb = data.astronaut()
    gray = np.asarray(np.rint(rgb @ [0.299, 0.587, 0.114]), np.uint8)
    out = colorizer.load(name).colorize(gray)
    assert out.shape == (512, 512, 3)
    assert colourfulness(out) > 8.0  # gray is 0; a uniform faint tint scores about 2 to 5


def ab_without_and_with(name: str, gray: np.ndarray, hint: tuple) -> tuple[np.ndarray, np.ndarray]:
    """A shipped model's a*b* (float, Lab units, HxWx2) for gray uint8 HxW without hints and with one."""
    model = colorizer.load(name)
    plain, hinted = model.colorize(gray), model.colorize(gray, hints=[hint])
    return rgb_to_lab(plain)[..., 1:], rgb_to_lab(hinted)[..., 1:]


@pytest.mark.parametrize("name", ["cnn", "gan"])
def test_shipped_models_follow_a_hint_where_it_is_given(name):
    gray = data.camera()  # 512x512: a man in a dark coat on a light lawn, sky above
    hint = (250, 60, (150, 190, 240))  # a sky blue (in gamut at the sky's L*), at a spot of the sky
    plain, hinted = ab_without_and_with(name, gray, hint)
    want = rgb_to_lab(np.array([[hint[2]]], np.uint8))[0, 0, 1:]
    near = hinted[55:66, 245:256].reshape(-1, 2).mean(0)  # the 11x11 px around the hint
    before = plain[55:66, 245:256].reshape(-1, 2).mean(0)
    assert np.abs(near - want).max() <= 6 < np.abs(before - want).max()  # the hint comes out as given
    far = (slice(400, 512), slice(0, 100))  # the lawn, far from the hint
    assert np.abs(hinted[far] - plain[far]).mean() < 3


@pytest.mark.parametrize("name", ["cnn", "gan"])
def test_a_hint_on_the_cup_leaves_the_table_alone(name):
    gray = np.asarray(Image.open(ROOT / "demo/examples/coffee_gray.jpg").convert("L"))  # 600x400, the app's example
    hint = (300, 215, (200, 0, 0))  # red, on the cup's front
    change = np.abs(np.subtract(*ab_without_and_with(name, gray, hint)))  # a*b*, Lab units
    assert change[210:221, 295:306].mean() > 15  # the cup turns red
    # the table far from it does not, visibly: under a just-noticeable difference (about 2.3 units)
    assert change[:80, 450:].mean() < 2 and change[130:270, :60].mean() < 2


def test_models_differ_and_compare_shares_luminance():
    models = [colorizer.load("cnn"), colorizer.load("gan")]
    result = colorizer.compare(models, data.camera())
    a, b = result.ab["cnn"], result.ab["gan"]
    assert np.abs(a - b).mean() > 0.5
    mid = result.blend("cnn", "gan", 0.5)
    assert np.allclose(mid, (a + b) / 2, atol=1e-4)
    assert result.rgb("gan").shape == (512, 512, 3)


def test_readme_python_api_snippet_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Python API\n\n```python\n(.*?)```", readme, re.S).group(1)
    Image.fromarray(data.camera()).save(tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # the README's own words, run on a real photo
    with Image.open(tmp_path / "out.png") as im:
        assert im.size == (512, 512) and "Software" in im.info
