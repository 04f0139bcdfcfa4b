"""python -m colorizer stopped mid-folder (SIGINT, SIGKILL): only complete files under final names, and a
second run removes its stale temporary files, keeps what was done and finishes the rest."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from colorizer.__main__ import main
from colorizer.atomic import TEMP_PATTERN, atomic_write, remove_stale_temps
from helpers import ROOT, synthetic_photo

PHOTOS, SIZE = 24, (360, 480)  # (height, width)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """PHOTOS synthetic JPEGs of SIZE: a tenth of a second or so each through one model, so that a run lasts long
    enough to be stopped midway."""
    src = tmp_path_factory.mktemp("archive")
    rng = np.random.default_rng(3)
    for i in range(PHOTOS):
        Image.fromarray(synthetic_photo(rng, *SIZE)).save(src / f"photo {i:02d}.jpg", quality=90)
    return src


def cli(*args) -> list[str]:
    """`python -m colorizer INPUT... OUTDIR [flags]` with the CNN alone."""
    *inputs, out = [a for a in args if not str(a).startswith("--")]
    flags = [a for a in args if str(a).startswith("--")]
    return [sys.executable, "-m", "colorizer", *map(str, inputs), "-o", str(out), "--model", "cnn", *flags]


def finals(out) -> list:
    return sorted(p for p in out.glob("*.png") if not p.name.startswith("."))


def temps(out) -> list:
    return [p for p in out.iterdir() if TEMP_PATTERN.fullmatch(p.name)]


def assert_complete(paths) -> None:
    """Every file decodes to its last row, at the input's size: nothing partial under a final name."""
    for p in paths:
        with Image.open(p) as im:
            im.load()
            assert im.size == SIZE[::-1], p


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_killed_folder_run_leaves_only_complete_files_and_resumes(folder, tmp_path, sig, capsys):
    out = tmp_path / "out"
    out.mkdir()
    others = {out / "notes.tmp": b"mine", out / ".photo 00_cnn.png.tmp": b"not the pattern"}
    for path, data in others.items():
        path.write_bytes(data)
    live = out / f".photo 01_cnn.png.{os.getpid()}-0badcafe.tmp"  # a running writer's (this test's): kept
    live.write_bytes(b"in progress")
    log = (tmp_path / "first.log").open("w+")
    # SIGINT back to its default for the child: a shell's background job may inherit it ignored.
    proc = subprocess.Popen(cli(folder, out), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:
        deadline = time.time() + 60
        # Until two results are done; for SIGKILL also until a write is under way, to catch one half-written.
        while len(finals(out)) < 2 or (sig == signal.SIGKILL and temps(out) == [live]):
            assert proc.poll() is None and time.time() < deadline, "the run ended before it could be stopped"
            time.sleep(0.002)
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    log.seek(0)
    text = log.read()
    done = finals(out)
    assert 2 <= len(done) < PHOTOS, "stopped too late to test anything"
    assert_complete(done)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "Traceback" not in text, text
        assert text.strip().splitlines()[-1].startswith(f"interrupted: the outputs in {out} are complete")
    else:
        assert proc.returncode == -signal.SIGKILL
        stale = out / f".photo 99_cnn.png.{proc.pid}-12345678.tmp"  # a killed writer's, whether or not one is left
        stale.write_bytes(b"\x89PNG half")
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in done}

    # The next runs in this process (colorizer.__main__.main): the same code as `python -m colorizer`.
    assert main(cli(folder, out)[3:]) == 0
    assert f"kept existing outputs: {len(done)}" in capsys.readouterr().err
    results = finals(out)
    assert [p.name for p in results] == [f"photo {i:02d}_cnn.png" for i in range(PHOTOS)]
    assert_complete(results)
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in done} == before  # not rewritten
    assert temps(out) == [live]  # the killed run's temporary files are gone, a live writer's stay
    assert all(path.read_bytes() == data for path, data in others.items())  # and files not ours

    redo = [folder / p.name.replace("_cnn.png", ".jpg") for p in done]  # the photos the stopped run had done
    assert main(cli(*redo, out, "--overwrite")[3:]) == 0
    assert f"{len(done)} image(s) written" in capsys.readouterr().err
    assert all(p.stat().st_ino != before[p.name][0] for p in done)  # --overwrite replaces, atomically


def test_atomic_write_never_replaces_without_overwrite(tmp_path):
    target = tmp_path / "result.png"
    atomic_write(target, b"first", overwrite=False)
    with pytest.raises(FileExistsError):
        atomic_write(target, b"second", overwrite=False)
    assert target.read_bytes() == b"first" and os.listdir(tmp_path) == ["result.png"]

    def half_then_fail(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):  # a writer failing midway leaves no file and no temporary
        atomic_write(tmp_path / "other.bin", half_then_fail)
    assert os.listdir(tmp_path) == ["result.png"]
    atomic_write(target, b"second")
    assert target.read_bytes() == b"second" and remove_stale_temps(tmp_path) == []
