"""The command line (colorizer.__main__.main, run in this process) on folders with corrupt files, name clashes and
existing outputs. `python -m colorizer` itself runs in test_cli_interrupted and test_corpus."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

import colorizer
from colorizer.__main__ import main
from colorizer.hints import hints_json
from colorizer.pipeline import NO_RESTORER, Photo
from colorizer.session import MODEL_DIR
from helpers import ab_distance, cracked_camera, synthetic_photo


@dataclass
class Ran:
    """What a run of the command line left: its exit status and what it wrote to stderr."""

    returncode: int
    stderr: str


@pytest.fixture
def cli(capsys):
    """Run the command line with these arguments; a Ran."""

    def run(*args) -> Ran:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse refusing the command line
            code = e.code
        return Ran(code, capsys.readouterr().err)

    return run


def make_inputs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(synthetic_photo(rng, 90, 130)).convert("L").save(src / "street.jpg")
    Image.fromarray(synthetic_photo(rng, 70, 50)).save(src / "street.png")  # same stem as street.jpg
    (src / "broken.jpg").write_bytes(b"this is not a jpeg")
    (src / "notes.txt").write_text("not an image, skipped silently")
    return src


def test_folder_with_a_corrupt_file(cli, tmp_path):
    src, out = make_inputs(tmp_path), tmp_path / "out"
    p = cli(src, "-o", out)
    assert p.returncode == 1, p.stderr
    assert "broken.jpg" in p.stderr and "notes.txt" not in p.stderr
    names = sorted(f.name for f in out.iterdir())
    assert names == ["street_2_cnn.png", "street_2_gan.png", "street_cnn.png", "street_gan.png"]
    with Image.open(out / "street_cnn.png") as im:
        assert im.size == (130, 90) and im.mode == "RGB" and "GAN" not in im.info["Description"]
    with Image.open(out / "street_2_gan.png") as im:
        assert im.size == (50, 70) and "GAN" in im.info["Description"]


def test_existing_outputs_are_kept_unless_overwrite(cli, tmp_path):
    src, out = make_inputs(tmp_path), tmp_path / "out"
    (src / "broken.jpg").unlink()
    assert cli(src / "street.jpg", "-o", out, "--model", "cnn").returncode == 0
    target = out / "street_cnn.png"
    target.write_bytes(b"user's own file")
    p = cli(src / "street.jpg", "-o", out, "--model", "cnn")
    assert p.returncode == 0 and "kept existing" in p.stderr
    assert target.read_bytes() == b"user's own file"
    assert cli(src / "street.jpg", "-o", out, "--model", "cnn", "--overwrite").returncode == 0
    assert Image.open(target).size == (130, 90)


def test_never_writes_over_an_input(cli, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(synthetic_photo(np.random.default_rng(1), 60, 60)).save(src / "a.png")
    Image.new("RGB", (8, 8), "red").save(src / "a_gan.png")  # looks like an output of a.png
    p = cli(src, "-o", src, "--model", "gan", "--overwrite")
    assert p.returncode == 1 and "is one of the inputs" in p.stderr
    assert Image.open(src / "a_gan.png").getpixel((0, 0)) == (255, 0, 0)


def test_render_size_and_missing_input(cli, tmp_path):
    src, out = make_inputs(tmp_path), tmp_path / "out"
    p = cli(src / "street.jpg", tmp_path / "missing.jpg", "-o", out, "--model", "gan", "--render-size", "128")
    assert p.returncode == 1 and "missing.jpg" in p.stderr
    assert Image.open(out / "street_gan.png").size == (130, 90)


def test_blend_and_colour_controls(cli, tmp_path):
    src, out = make_inputs(tmp_path), tmp_path / "out"
    (src / "broken.jpg").unlink()
    p = cli(src / "street.png", "-o", out, "--blend", "0.5", "--saturation", "0", "--brightness", "5")
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in out.iterdir()) == ["street_blend.png", "street_cnn.png", "street_gan.png"]
    with Image.open(out / "street_blend.png") as im:
        rgb = np.asarray(im).astype(int)
        assert "50% CNN / 50% GAN" in im.info["Description"]
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() <= 1  # saturation 0: gray
    assert cli(src, "-o", out, "--model", "gan", "--blend", "0.5").returncode == 2  # blend needs both
    p = cli(src.as_uri(), "-o", out, "--model", "gan")  # URIs are for the Ray engine (tests/test_archive.py)
    assert p.returncode == 2 and "need --engine ray" in p.stderr


def test_enhancement_flags_give_what_the_api_gives(cli, tmp_path):
    src, out = make_inputs(tmp_path), tmp_path / "out"
    args = ("--saturation", "1.4", "--brightness", "4", "--auto-contrast")
    assert cli(src / "street.png", "-o", out, "--model", "cnn", *args).returncode == 0
    image = colorizer.open_image(src / "street.png")
    expected = colorizer.load("cnn").colorize(image, saturation=1.4, brightness=4.0, auto_contrast=True)
    assert np.array_equal(np.asarray(Image.open(out / "street_cnn.png")), expected)
    assert not np.array_equal(expected, colorizer.load("cnn").colorize(image))


def test_own_colours_for_photos_that_have_colour(cli, tmp_path):
    src, out = make_inputs(tmp_path), tmp_path / "out"
    (src / "broken.jpg").unlink()
    p = cli(src, "-o", out, "--model", "gan", "--own-colours")
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in out.iterdir()) == ["street_2_gan.png", "street_2_own.png", "street_gan.png"]
    assert "no own colours for" in p.stderr and "street.jpg" in p.stderr  # the gray one: named, with the reason
    with Image.open(out / "street_2_own.png") as im:
        own = np.asarray(im)
        assert "own colours restored" in im.info["Description"] and "AI-colourised by" not in im.info["Description"]
    assert np.array_equal(own, Photo.from_image(colorizer.open_image(src / "street.png")).own_colours())
    again = cli(src, "-o", out, "--model", "gan", "--own-colours")
    assert again.returncode == 0 and "kept existing outputs: 3" in again.stderr


def test_restore_without_a_shipped_model_stops_with_one_line(cli, tmp_path, monkeypatch):
    """A checkout whose onnx_models/ has the colorizers but no restorer."""
    from colorizer.pipeline import shipped_restorer

    models = tmp_path / "onnx_models"
    models.mkdir()
    manifest = json.loads((MODEL_DIR / "MANIFEST.json").read_text())
    manifest["files"] = {k: v for k, v in manifest["files"].items() if k in ("cnn.onnx", "gan.onnx")}
    (models / "MANIFEST.json").write_text(json.dumps(manifest))
    for name in manifest["files"]:
        (models / name).symlink_to(MODEL_DIR / name)
    monkeypatch.setattr("colorizer.session.MODEL_DIR", models)
    shipped_restorer.cache_clear()  # loaded once per process: not from this folder yet
    src, out = make_inputs(tmp_path), tmp_path / "out"
    try:
        p = cli(src / "street.png", "-o", out, "--restore")
    finally:
        shipped_restorer.cache_clear()
    assert p.returncode == 2 and p.stderr.strip() == NO_RESTORER, p.stderr
    assert not out.exists()


def test_restore_repairs_what_the_cli_writes(cli, tmp_path):
    from skimage import data

    from train.colorize.metrics import psnr
    from train.restore.degrade import Damage, apply_damage

    clean = data.camera()[:288, :384]
    damaged = apply_damage(clean, Damage(grain=10, dust=30, scratches=4), np.random.default_rng(2))
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    Image.fromarray(damaged).save(src / "scan.png")
    assert cli(src, "-o", out / "plain", "--model", "cnn").returncode == 0
    assert cli(src, "-o", out / "fixed", "--model", "cnn", "--restore", "--own-colours").returncode == 0
    plain, fixed = (Photo.from_image(colorizer.open_image(out / d / "scan_cnn.png")).gray for d in ("plain", "fixed"))
    assert psnr(fixed, clean) > psnr(plain, clean) + 0.5  # the luminance of the result is the restored one
    with Image.open(out / "fixed" / "scan_cnn.png") as im:
        assert "restoration" in im.info["Description"]
    assert not (out / "fixed" / "scan_own.png").exists()  # a gray scan has no colours of its own


def test_cracks_fills_a_cracked_prints_cracks_before_the_restorer(cli, tmp_path):
    from train.colorize.metrics import psnr

    cracked, clean = cracked_camera()
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    Image.fromarray(cracked).save(src / "print.png")
    for flag in ("--restore", "--cracks"):
        assert cli(src, "-o", out / flag, "--model", "cnn", flag).returncode == 0
    restored, filled = (
        Photo.from_image(colorizer.open_image(out / d / "print_cnn.png")).gray for d in ("--restore", "--cracks")
    )
    assert psnr(filled, clean) > psnr(restored, clean) + 1.0  # the cracks went with --cracks only


BLUE, GREEN = (0, 0, 255), (0, 200, 0)


def test_a_hints_file_steers_the_photos_it_names(cli, tmp_path):
    src, out = make_inputs(tmp_path), tmp_path / "out"
    (src / "broken.jpg").unlink()
    spots = [(10, 20, BLUE), (40, 50, GREEN)]
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps({"street.png": hints_json(spots)}))  # [{"x": 10, "y": 20, "color": "#0000ff"}, ..]
    assert cli(src, "-o", out / "plain", "--model", "gan").returncode == 0
    p = cli(src, "-o", out / "hinted", "--model", "gan", "--hints", hints)
    assert p.returncode == 0, p.stderr
    plain, hinted = (np.asarray(Image.open(out / d / "street_2_gan.png")) for d in ("plain", "hinted"))
    for x, y, colour in spots:  # street.png's outputs are street_2_* (street.jpg came first)
        assert ab_distance(hinted, x, y, colour) < ab_distance(plain, x, y, colour) - 5, (x, y)
    with Image.open(out / "hinted" / "street_2_gan.png") as im:
        assert im.info["Description"].endswith("; colour hints: 2")
    with Image.open(out / "hinted" / "street_gan.png") as im:  # street.jpg: not named in the file, no hints
        assert "hints" not in im.info["Description"]
        assert np.array_equal(np.asarray(im), np.asarray(Image.open(out / "plain" / "street_gan.png")))


def test_a_broken_hints_file_is_named_and_the_other_photos_go_through(cli, tmp_path):
    src, out = make_inputs(tmp_path), tmp_path / "out"
    (src / "broken.jpg").unlink()
    Image.fromarray(synthetic_photo(np.random.default_rng(4), 40, 60)).save(src / "other.png")
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps({"street.png": [{"x": 1, "y": 2, "color": "blue"}],
                                 "street.jpg": [{"x": 130, "y": 2, "color": "#0000ff"}], "typo.png": []}))  # fmt: skip
    p = cli(src, "-o", out, "--model", "gan", "--hints", hints)
    assert p.returncode == 1
    assert f"street.png: {hints}: hint 0: the color must be \"#rrggbb\" (hex sRGB), got 'blue'" in p.stderr
    assert f"street.jpg: {hints}: hint 0: (130, 2) is outside the 130x90 photo" in p.stderr  # that photo only
    assert f"{hints}: no input is named 'typo.png'" in p.stderr
    assert sorted(f.name for f in out.iterdir()) == ["other_gan.png"]
    # not JSON at all: no photo's hints are known, so none is coloured without them; each names the file
    hints.write_text('{"street.png": [')
    p = cli(src, "-o", tmp_path / "out2", "--model", "gan", "--hints", hints)
    assert p.returncode == 1 and p.stderr.count(f"{hints}: not JSON") == 3
    assert not list((tmp_path / "out2").iterdir())
    # one list is the hints of a single input
    hints.write_text('[{"x": 1, "y": 2, "color": "#0000ff"}]')
    p = cli(src, "-o", tmp_path / "out3", "--model", "gan", "--hints", hints)
    assert p.returncode == 2 and "holds one list of hints, for a single input; 3 photos are given" in p.stderr
    assert cli(src / "other.png", "-o", tmp_path / "out3", "--model", "gan", "--hints", hints).returncode == 0
