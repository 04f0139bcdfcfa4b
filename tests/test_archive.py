"""python -m colorizer --engine ray (colorizer.archive) on a local Ray instance: the CLI's outputs, one row per
input, a rerun that writes nothing, and an actor that crashes mid-run."""

import csv
import json
import os
import shutil
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from helpers import ROOT, synthetic_photo

pytestmark = pytest.mark.slow
BROKEN = {"truncated.jpg", "not_an_image.png", "huge.png"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """40 photos: 37 small synthetic ones (JPEG and PNG, colour and gray) and 3 that cannot be coloured."""
    src = tmp_path_factory.mktemp("archive")
    rng = np.random.default_rng(0)
    for i in range(37):
        photo = synthetic_photo(rng, 48 + i % 5 * 8, 64)
        Image.fromarray(photo if i % 3 else photo[..., 0]).save(src / f"photo_{i:02d}.{'jpg' if i % 2 else 'png'}")
    good = (src / "photo_01.jpg").read_bytes()
    (src / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (src / "not_an_image.png").write_text("a text file with an image's name")
    Image.new("L", (1, 1)).save(src / "huge.png")  # then its header is made to claim 70,000 x 70,000 px
    data = bytearray((src / "huge.png").read_bytes())
    data[16:24] = (70_000).to_bytes(4, "big") * 2
    data[29:33] = zlib.crc32(data[12:29]).to_bytes(4, "big")  # the IHDR chunk's CRC, so the header is valid
    (src / "huge.png").write_bytes(bytes(data))
    return src


def colorize(src, dest, *flags, env=None, cwd=ROOT) -> subprocess.CompletedProcess:
    """python -m colorizer SRC -o DEST FLAGS, from the repository root unless `cwd` is given."""
    cmd = [sys.executable, "-m", "colorizer", str(src), "-o", str(dest), *flags]
    env = (env or os.environ) | {"PYTHONPATH": str(ROOT)}  # the package, from any folder
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900, env=env)


def table(dest) -> list[dict]:
    with open(dest / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def pngs(folder) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}


def test_ray_makes_the_clis_images_and_a_row_per_input_and_a_rerun_writes_nothing(archive, tmp_path):
    local, ray = tmp_path / "local", tmp_path / "ray"
    p = colorize(archive, local, "--blend", "0.3")
    assert p.returncode == 1, p.stderr  # the broken files are failures for both engines
    p = colorize(archive, ray, "--blend", "0.3", "--engine", "ray")
    assert p.returncode == 1, p.stderr[-3000:]
    assert "37 done, 0 skipped, 3 failed" in p.stderr and "photos/s" in p.stderr
    expected = pngs(local)
    assert len(expected) == 37 * 3 and expected.keys() == pngs(ray).keys()
    assert all(np.array_equal(expected[k], v) for k, v in pngs(ray).items())  # pixel for pixel
    rows = table(ray)
    assert len(rows) == 40 and len({r["input"] for r in rows}) == 40
    failed = {os.path.basename(r["input"]): r["error"] for r in rows if r["status"] == "failed"}
    assert set(failed) == BROKEN and all(name in error for name, error in failed.items())
    assert "megapixels" in failed["huge.png"]  # refused by the library's limits, before anything is decoded
    done = [r for r in rows if r["status"] == "done"]
    assert all(len(json.loads(r["outputs"])) == 3 and r["written"] == "3" for r in done)
    assert all(r["models"].startswith("cnn=cnn-") and len(r["models_sha256"].split()) == 2 for r in rows)
    # A rerun writes no image and marks every input done or failed again.
    before = {p.name: p.stat().st_mtime_ns for p in ray.glob("*.png")}
    p = colorize(archive, ray, "--blend", "0.3", "--engine", "ray")
    assert p.returncode == 1 and "37 done, 0 skipped, 3 failed" in p.stderr
    assert {p.name: p.stat().st_mtime_ns for p in ray.glob("*.png")} == before
    again = table(ray)
    assert len(again) == 40 and all(r["written"] == "0" for r in again)
    assert {r["status"] for r in again} == {"done", "failed"}


def test_an_actor_that_crashes_is_restarted_and_every_photo_is_done_once(archive, tmp_path):
    dest, marker = tmp_path / "ray", tmp_path / "crashed"
    env = os.environ | {"COLORIZER_TEST_CRASH": f"3:{marker}"}
    p = colorize(archive, dest, "--model", "cnn", "--engine", "ray", env=env)
    assert marker.exists(), "the fault hook never fired"
    assert p.returncode == 1 and "37 done, 0 skipped, 3 failed" in p.stderr, p.stderr[-3000:]
    rows = table(dest)
    assert len(rows) == 40 and len({r["input"] for r in rows}) == 40
    outputs = sorted(dest.glob("*.png"))
    assert len(outputs) == 37 and not list(dest.glob(".*.tmp"))  # no temporary file left (colorizer.atomic)
    for out in outputs:  # complete files only
        with Image.open(out) as im:
            im.load()


def test_src_and_dest_given_as_uris_are_read_and_written_through_pyarrow(archive, tmp_path):
    src, local, dest = tmp_path / "src", tmp_path / "local", tmp_path / "ray"
    src.mkdir()
    names = ["photo_01.jpg", "photo_02.png", "photo_03.jpg", "truncated.jpg"]
    for name in names:
        shutil.copy(archive / name, src / name)
    assert colorize(src, local, "--model", "cnn").returncode == 1
    p = colorize(src.as_uri(), dest.as_uri(), "--model", "cnn", "--engine", "ray")
    assert p.returncode == 1 and "3 done, 0 skipped, 1 failed" in p.stderr, p.stderr[-3000:]
    assert f"results in {dest.as_uri()}/results.csv" in p.stderr
    expected, made = pngs(local), pngs(dest)
    assert len(expected) == 3 and expected.keys() == made.keys()
    assert all(np.array_equal(expected[k], v) for k, v in made.items())
    rows = {r["input"]: r for r in table(dest)}
    assert rows.keys() == {(src / n).as_uri() for n in names}  # the inputs named as given: URIs
    assert json.loads(rows[(src / "photo_01.jpg").as_uri()]["outputs"]) == [f"{dest.as_uri()}/photo_01_cnn.png"]
    assert rows[(src / "truncated.jpg").as_uri()]["status"] == "failed"
    assert not list(dest.glob(".*.tmp"))  # written under a temporary name, then moved into place
    p = colorize(f"{src.as_uri()}/missing", dest.as_uri(), "--engine", "ray")
    assert p.returncode == 1 and "missing: no such file or folder" in p.stderr


def test_the_archive_benchmark_prints_both_engines_figures(tmp_path):
    out = tmp_path / "archive.json"
    p = subprocess.run([sys.executable, "-m", "bench.archive", "--photos", "3", "--side", "128", "--json", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    runs = json.loads(out.read_text())["runs"]
    assert set(runs) == {"plain", "restored"} and "target >= 0.8x" in p.stdout
    for r in runs.values():
        assert r["local"]["photos_per_s"] > 0 and r["ray"]["photos_per_s"] > 0 and r["ray"]["ray_start_s"] > 0
        assert 50 < r["ray"]["actor_peak_mb"] < 4096


def test_ray_gets_the_hints_file_as_the_local_engine_does(archive, tmp_path):
    src, local, ray = tmp_path / "src", tmp_path / "local", tmp_path / "ray"
    src.mkdir()
    for name in ("photo_01.jpg", "photo_02.png", "photo_03.jpg"):
        shutil.copy(archive / name, src / name)
    hints = {"photo_01.jpg": [{"x": 10, "y": 10, "color": "#0000ff"}], "photo_02.png": [{"x": 1, "y": 2}]}
    (tmp_path / "hints.json").write_text(json.dumps(hints))
    flags = ["--model", "cnn", "--hints", "hints.json"]  # relative: the actors work in another folder
    run_in = {"cwd": tmp_path}
    assert colorize(src, local, *flags, **run_in).returncode == 1
    p = colorize(src, ray, *flags, "--engine", "ray", **run_in)
    assert p.returncode == 1 and "2 done, 0 skipped, 1 failed" in p.stderr, p.stderr[-3000:]
    expected, made = pngs(local), pngs(ray)
    assert expected.keys() == made.keys() == {"photo_01_cnn.png", "photo_03_cnn.png"}
    assert all(np.array_equal(expected[k], v) for k, v in made.items())
    with Image.open(ray / "photo_01_cnn.png") as im:
        assert im.info["Description"].endswith("; colour hints: 1")
    failed = {os.path.basename(r["input"]): r["error"] for r in table(ray) if r["status"] == "failed"}
    assert list(failed) == ["photo_02.png"]
    assert f"photo_02.png: {tmp_path / 'hints.json'}: hint 0: no 'color'" in failed["photo_02.png"]
