"""onnx_models/MANIFEST.json: it matches the shipped files; a damaged or missing shipped file is refused at load
with one line naming the file and the fix; a user's own path is not checked; the tools rewrite it."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import colorizer
import colorizer.__main__ as cli
from colorizer import manifest
from colorizer.session import MODEL_DIR, refresh_manifest
from helpers import ROOT

CONTRACTS = {"colorizer/2", "restorer/1"}


@pytest.fixture
def models(tmp_path, monkeypatch):
    """A copy of onnx_models/ (same folder name) that colorizer.load uses as the shipped folder."""
    folder = tmp_path / "onnx_models"
    shutil.copytree(MODEL_DIR, folder)
    monkeypatch.setattr("colorizer.session.MODEL_DIR", folder)
    return folder


def test_manifest_matches_the_shipped_files():
    listed = manifest.read_manifest(MODEL_DIR)
    assert {"cnn.onnx", "gan.onnx", "restore.onnx"} <= set(listed)
    assert listed == manifest.entries(MODEL_DIR)  # every .onnx file: its sha256, contract and size
    assert {e["contract"] for e in listed.values()} == CONTRACTS


def truncate(path):
    path.write_bytes(path.read_bytes()[:-1000])


def flip_a_byte(path):  # a weight in the middle of the file: the model would still load and run
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [truncate, flip_a_byte, os.remove], ids=["truncated", "modified", "missing"])
def test_damaged_shipped_model_is_refused_in_one_line(models, tmp_path, capsys, damage):
    target = models / "gan.onnx"
    damage(target)
    shown = f"onnx_models/{target.name}"
    with pytest.raises(colorizer.ManifestError) as err:
        colorizer.load("gan")
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{shown} ")
    assert "MANIFEST.json" in message and f"restore it with git checkout -- {shown} or re-export it" in message
    assert colorizer.load("cnn").name == "cnn"  # the intact model still loads
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(photo)
    capsys.readouterr()
    assert cli.main([str(photo), "-o", str(tmp_path / "out"), "--model", "gan"]) == 2
    assert capsys.readouterr().err == message + "\n"  # the command line's whole output: that one line


def test_a_missing_manifest_is_refused(models):
    (models / "MANIFEST.json").unlink()
    with pytest.raises(colorizer.ManifestError, match=r"^onnx_models/MANIFEST.json is missing: restore it"):
        colorizer.load("cnn")


def test_users_own_model_path_is_not_checked(models):
    listed = json.loads((models / "MANIFEST.json").read_text())
    listed["files"]["gan.onnx"]["sha256"] = "0" * 64
    (models / "MANIFEST.json").write_text(json.dumps(listed))
    with pytest.raises(colorizer.ManifestError, match="sha256 "):
        colorizer.load("gan")
    assert colorizer.load(models / "gan.onnx").kind == "gan"  # the same file by path: the user's choice


def test_each_file_is_hashed_once_per_process(models, monkeypatch):
    calls = []
    digest = hashlib.file_digest
    monkeypatch.setattr(manifest, "_digests", {})
    monkeypatch.setattr(hashlib, "file_digest", lambda f, name: calls.append(f.name) or digest(f, name))
    for _ in range(3):
        colorizer.load("cnn")
    assert calls == [str(models / "cnn.onnx")]
    os.utime(models / "cnn.onnx", ns=(0, 10**18))  # a file that changed: hashed again
    colorizer.load("cnn")
    assert len(calls) == 2


def test_evaluate_stamp_rewrites_the_manifest(models, photo_dir, tmp_path, monkeypatch):
    from train.colorize import evaluate

    before = manifest.read_manifest(models)
    assert not refresh_manifest(tmp_path / "elsewhere.onnx")  # a file outside the folder: manifest untouched
    argv = ["evaluate", "--data", str(photo_dir), "--models", "cnn", "--limit", "2", "--stamp", "--out",
            str(tmp_path / "eval")]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    evaluate.main()
    stamped = "cnn.onnx"
    after = manifest.read_manifest(models)
    assert after[stamped]["sha256"] != before[stamped]["sha256"]  # the file changed, and the manifest with it
    assert after == manifest.entries(models)
    assert "eval_metrics" in colorizer.load("cnn").meta  # and it still loads


# `python demo/app.py`, with the shipped folder replaced by the damaged copy; importing the app loads nothing.
START = """import pathlib, runpy, sys
import colorizer.session
colorizer.session.MODEL_DIR = pathlib.Path(sys.argv[1])
runpy.run_path("demo/app.py", run_name="imported")
print("imported")
sys.argv = ["demo/app.py"]
runpy.run_path("demo/app.py", run_name="__main__")
"""


@pytest.mark.slow
def test_the_app_stops_at_start_up_with_the_one_line(models):
    flip_a_byte(models / "cnn.onnx")
    p = subprocess.run([sys.executable, "-c", START, str(models)], cwd=ROOT, capture_output=True, text=True)
    assert p.stdout == "imported\n"  # the module imports without touching the models
    assert p.returncode == 1 and p.stderr.strip().splitlines() == [p.stderr.strip()]
    assert p.stderr.startswith("onnx_models/cnn.onnx does not match") and "restore it with git checkout" in p.stderr
