"""The hostile and odd files of tests/corpus.py: every file through the library, the whole folder through the CLI
in one run, and through the app the few that test what only the app does (its own reading of uploads, its error
messages, a batch with bad files among good ones, a server that outlives them).

Every file gets a correct result (size, orientation, transparency over white) or a clear error naming the
file: never a traceback, a hang or a dead server.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from corpus import CASES, Case, write_corpus
from PIL import Image

import colorizer
from helpers import ROOT

BAD = [c for c in CASES if c.size is None]
GOOD = [c for c in CASES if c.size is not None]
# Through the app: one error of each kind, the EXIF orientation (the app reads uploads itself, not through
# gr.Image) and a name that is not ASCII (the app makes file names of it).
APP = ["text renamed.jpg", "truncated.png", "bomb 16000x16000.png", "exif rotated.jpg",
       "vieille photo de Zoë à Kraków 写真.jpg"]  # fmt: skip
APP_CASES = [c for c in CASES if c.name in APP]
TIMEOUT = 180  # seconds for one request or one CLI run: a hang fails the test instead of stalling the suite


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    write_corpus(folder)
    return folder


@pytest.fixture(scope="module")
def model() -> colorizer.Model:
    return colorizer.load("cnn")


def expect_result(case: Case, rgb: np.ndarray) -> None:
    """A correct result: RGB uint8 at the case's size, passing the case's own check."""
    assert rgb.dtype == np.uint8 and rgb.shape == (*case.size, 3), f"{case.name}: {rgb.shape}"
    if case.check:
        case.check(rgb)


def expect_error(case: Case, message: str) -> None:
    """A clear error: one that names the file and says what is wrong, not a traceback."""
    assert case.name in message and re.search(case.error, message), f"{case.name}: {message!r}"
    assert "Traceback" not in message


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_library(case, corpus_dir, model):
    path = corpus_dir / case.name
    if case.size is None:
        with pytest.raises(colorizer.ImageError) as info:
            colorizer.open_image(path)
        expect_error(case, str(info.value))
        with pytest.raises(colorizer.ImageError, match=case.error):  # the same from bytes in memory
            colorizer.open_image(path.read_bytes())
    else:
        expect_result(case, model.colorize(colorizer.open_image(path)))


@pytest.mark.slow
def test_cli_runs_the_whole_folder(corpus_dir, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "colorizer", str(corpus_dir), "-o", str(out), "--model", "cnn"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 1, p.stderr  # as documented: 1 when any file failed
    assert "Traceback" not in p.stderr
    for case in BAD:  # each named on a line of its own, with the reason
        line = next((x for x in p.stderr.splitlines() if case.name in x), "")
        assert line.startswith("skipped") and re.search(case.error, line), f"{case.name}: {line!r}"
    for case in GOOD:  # one bad file never stops the rest
        with Image.open(out / f"{Path(case.name).stem}_cnn.png") as im:
            expect_result(case, np.asarray(im))
    assert f"{len(GOOD)} image(s) written to {out}, {len(BAD)} failure(s)" in p.stderr
    assert sorted(f.name for f in out.iterdir()) == sorted(f"{Path(c.name).stem}_cnn.png" for c in GOOD)


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def path_of(item) -> str:
    return item["path"] if isinstance(item, dict) else item


@pytest.mark.slow
@pytest.mark.parametrize("case", APP_CASES, ids=lambda c: c.name)
def test_app_colorize(case, corpus_dir, client):
    from gradio_client import handle_file

    job = client.submit(handle_file(str(corpus_dir / case.name)), api_name="/colorize")
    if case.size is None:
        with pytest.raises(Exception) as info:
            job.result(timeout=TIMEOUT)
        expect_error(case, str(info.value))
    else:
        cnn, gan, _, blend, info, _ = job.result(timeout=TIMEOUT)
        h, w = case.size
        assert f"{w}x{h} px" in info
        for look in (cnn[1], gan[1], blend):
            with Image.open(path_of(look)) as im:
                expect_result(case, np.asarray(im.convert("RGB")))


@pytest.mark.slow
def test_app_colorize_batch(corpus_dir, client):
    """Every bad file among good ones in one batch: each reported, none stopping the others."""
    from gradio_client import handle_file

    cases = [c for c in CASES if c.size is None or c in APP_CASES]
    files = [handle_file(str(corpus_dir / c.name)) for c in cases]
    gallery, archive, report = client.submit(files, "GAN", api_name="/colorize_batch").result(timeout=TIMEOUT)
    good = [c for c in cases if c.size is not None]
    assert f"{len(good)} of {len(cases)} photos colorized" in report
    captions = [g["caption"] for g in gallery]
    assert captions == [f"{c.name}: not colorized" if c.size is None else f"{c.name} · GAN" for c in cases]
    for case in BAD:
        line = next(x for x in report.splitlines() if case.name in x)
        expect_error(case, line)
    for case, item in zip(cases, gallery):
        if case.size is not None:
            with Image.open(path_of(item["image"])) as im:
                expect_result(case, np.asarray(im.convert("RGB")))
    assert path_of(archive).endswith(".zip")


@pytest.mark.slow
def test_app_still_serves_after_the_corpus(client, corpus_dir):
    """The hostile files left the server alive and answering."""
    from gradio_client import handle_file

    result = client.submit(handle_file(str(corpus_dir / "2x3.png")), api_name="/colorize").result(timeout=TIMEOUT)
    assert "2x3 px" in result[4]
