"""The Gradio app launched as users launch it (python demo/app.py), called with gradio_client."""

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from helpers import ROOT, free_port, synthetic_photo


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = free_port()
    env = os.environ | {
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "COLORIZER_MAX_PIXELS": "4000000",
    }
    log = open(tmp_path_factory.mktemp("app") / "app.log", "w+")  # noqa: SIM115 (lives as long as the app)
    proc = subprocess.Popen([sys.executable, "demo/app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"the app exited early:\n{log.read()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        pytest.fail("the app did not start within 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_colorize_returns_both_results_at_input_size(client, tmp_path):
    from gradio_client import handle_file

    path = tmp_path / "photo.jpg"
    Image.fromarray(synthetic_photo(np.random.default_rng(5), 181, 263)).convert("L").save(path)
    cnn, gan, info = client.predict(handle_file(str(path)), api_name="/colorize")
    for pair in (cnn, gan):
        before, after = (Image.open(p["path"] if isinstance(p, dict) else p) for p in pair)
        assert before.size == after.size == (263, 181)
    assert "CNN" in info and "GAN" in info and "ms" in info and "CPU" in info


def test_oversized_photo_gets_the_limit_message(client, tmp_path):
    from gradio_client import handle_file

    path = tmp_path / "big.png"
    Image.new("L", (2500, 2000), 128).save(path)  # 5 MP, over the 4 MP limit set for this test
    with pytest.raises(Exception, match="limit is 4"):
        client.predict(handle_file(str(path)), api_name="/colorize")
