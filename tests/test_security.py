"""Security of the app and the project: file routes, upload paths, deletion of user data, pinned dependencies.

The HTTP tests talk to the real app (conftest's `app_url`, on 127.0.0.1) with raw requests, so that paths
with `..` and %-escapes reach the server exactly as written.
"""

import http.client
import json
import os
import re
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np
import pytest
from PIL import Image

from helpers import ROOT, synthetic_photo

TARGETS = [ROOT / "demo" / "app.py", ROOT / "onnx_models" / "cnn.onnx", Path("/etc/passwd")]
UP = 12  # enough `..` to climb from any temporary folder to /


def request(url: str, method: str = "GET", target: str = "/", body: bytes | None = None, headers=None):
    """(status, body) of one raw HTTP request to the app at `url`; `target` is sent unaltered."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def uploaded(app_url, tmp_path_factory) -> tuple[str, bytes]:
    """A photo uploaded the way the page uploads it: (its path on the server, its bytes)."""
    path = tmp_path_factory.mktemp("upload") / "mine.jpg"
    Image.fromarray(synthetic_photo(np.random.default_rng(3), 60, 80)).save(path)
    data, boundary = path.read_bytes(), "colorizer-test-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="mine.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, answer = request(app_url, "POST", "/gradio_api/upload", body,
                             {"Content-Type": f"multipart/form-data; boundary={boundary}"})  # fmt: skip
    assert status == 200, answer
    return json.loads(answer)[0], data


def traversals(target: Path, cache_dir: str) -> list[str]:
    """Request targets that try to reach `target` through Gradio's file routes and static folders."""
    s, tail = str(target), str(target).lstrip("/")
    urls = [
        f"/gradio_api/file={s}",
        f"/gradio_api/file={quote(s, safe='')}",
        f"/gradio_api/file=file://{s}",
        f"/gradio_api/file={cache_dir}/{'../' * UP}{tail}",
        f"/gradio_api/file={cache_dir}/{'%2e%2e/' * UP}{tail}",
        f"/gradio_api/file={cache_dir}/{'..%2f' * UP}{quote(tail, safe='')}",
        f"/gradio_api/file={cache_dir}/{'%252e%252e%252f' * UP}{tail}",
        f"/gradio_api/file/{s}",
        f"/gradio_api/file/{cache_dir}/{'../' * UP}{tail}",
        f"/file={s}",
        f"/file/{s}",
        *(f"/{route}/{'..%2f' * UP}{quote(tail, safe='')}" for route in ("static", "assets", "svelte")),
    ]
    if target.is_relative_to(ROOT):  # relative to the app's working folder, the repository
        rel = target.relative_to(ROOT).as_posix()
        urls += [f"/gradio_api/file={rel}", f"/gradio_api/file=./{rel}", f"/{rel}", f"/gradio_api/{rel}"]
    return urls


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_file_routes_refuse_everything_outside_the_apps_folders(app_url, uploaded, target):
    secret = target.read_bytes()[100:164]  # a piece of the file that no error message would contain
    for url in traversals(target, str(Path(uploaded[0]).parent)):
        status, body = request(app_url, target=url)
        assert 400 <= status < 500, f"{url}: HTTP {status}"
        assert secret not in body, f"{url} returned the file"


@pytest.mark.slow
def test_file_route_serves_an_upload_and_fetches_no_loopback_url(app_url, uploaded):
    path, data = uploaded
    status, body = request(app_url, target=f"/gradio_api/file={path}")
    assert status == 200 and body == data  # the route works: the refusals above are not a broken route
    status, body = request(app_url, target=f"/gradio_api/file={app_url}gradio_api/file={path}")
    assert 400 <= status < 500 and data not in body  # the server fetches no URL on 127.0.0.1 for a client


def call(app_url: str, api: str, data: list) -> str:
    """Call an endpoint through Gradio's HTTP API; the event stream's text (ends with complete or error)."""
    status, answer = request(app_url, "POST", f"/gradio_api/call/{api}", json.dumps({"data": data}).encode(),
                             {"Content-Type": "application/json"})  # fmt: skip
    assert status == 200, answer
    status, stream = request(app_url, target=f"/gradio_api/call/{api}/{json.loads(answer)['event_id']}")
    return stream.decode()


def file_data(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


@pytest.mark.slow
def test_endpoints_refuse_paths_that_were_not_uploaded(app_url, uploaded, tmp_path):
    outside = tmp_path / "not_uploaded.jpg"
    outside.write_bytes(uploaded[1])
    controls = [256, 1.0, 0.0, 0.5, False, False, False, False, None]  # the last: no hints
    assert "event: complete" in call(app_url, "colorize", [file_data(uploaded[0]), *controls])  # control case
    cache_dir = Path(uploaded[0]).parent
    for path in (str(outside), str(ROOT / "demo" / "examples" / "coins_bw.jpg"), f"{cache_dir}/../../{outside}"):
        stream = call(app_url, "colorize", [file_data(path), *controls])
        assert "event: error" in stream and "event: complete" not in stream, path
        stream = call(app_url, "colorize_batch", [[file_data(path)], "CNN", 256, 1.0, 0.0, 0.5, False, False])
        assert "event: error" in stream and "event: complete" not in stream, path
        stream = call(app_url, "restoration", [file_data(path), 1.0, 0.0])
        assert "event: error" in stream and "event: complete" not in stream, path


@pytest.mark.slow
def test_uploads_and_results_are_deleted_on_a_schedule_the_page_states(app_url):
    from demo import app, files
    from demo.handlers import Handlers

    assert files.MAX_AGE_S == 3600 and files.SWEEP_EVERY_S == 600
    handlers = Handlers.load()
    assert app.build(handlers).delete_cache == (files.SWEEP_EVERY_S, files.MAX_AGE_S)  # Gradio's copies
    assert handlers.cache.max_age_s == files.MAX_AGE_S
    status, config = request(app_url, target="/config")
    assert status == 200
    values = [c.get("props", {}).get("value") for c in json.loads(config)["components"]]
    page = re.sub(r"\s+", " ", " ".join(v for v in values if isinstance(v, str)))
    assert "deleted once they are an hour old (checked every 10 minutes)" in page
    assert "kept in memory, for at most an hour" in page


def test_sweep_deletes_old_request_folders_and_expired_predictions(tmp_path, monkeypatch):
    from demo import files
    from demo.cache import PredictionCache

    monkeypatch.setattr(files, "OUT_ROOT", tmp_path)
    old, new = files.new_out_dir(), files.new_out_dir()
    (old / "result.png").write_bytes(b"a result")
    hours_ago = time.time() - 2 * files.MAX_AGE_S
    os.utime(old, (hours_ago, hours_ago))
    cache = PredictionCache(max_age_s=0.3)
    cache.put(("digest", 256), object())
    assert cache.get(("digest", 256)) is not None and len(cache) == 1
    stop = files.sweep_on_schedule(cache, every_s=0.05)
    try:
        deadline = time.time() + 10
        while (old.exists() or len(cache)) and time.time() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
    assert not old.exists() and new.is_dir()  # the hour-old folder went, the fresh one stays
    assert len(cache) == 0 and cache.get(("digest", 256)) is None  # expired without any request


def test_prediction_cache_entries_expire_even_when_in_use():
    from demo.cache import PredictionCache

    cache = PredictionCache(max_age_s=0.2)
    cache.put("a", object())
    for _ in range(3):  # being read does not extend an entry's life
        assert cache.get("a") is not None
        time.sleep(0.05)
    time.sleep(0.1)
    assert cache.get("a") is None


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-gpu.txt"])
def test_runtime_dependencies_are_pinned_to_a_major_version(name):
    lines = [x.split("#")[0].strip() for x in (ROOT / name).read_text().splitlines()]
    for req in filter(None, lines):
        exact = re.fullmatch(r"[A-Za-z0-9_.\[\]-]+==[\w.]+", req)
        bounded = re.search(r">=?\s*([\d.]+)", req) and re.search(r",\s*<\s*([\d.]+)", req)
        assert exact or bounded, f"{name}: {req!r} may move to another major version on a rebuild"
        if bounded and not exact:
            low, high = (int(re.search(p, req).group(1).split(".")[0]) for p in (r">=?\s*([\d.]+)", r"<\s*([\d.]+)"))
            assert high - low <= 2, f"{name}: {req!r} spans several major versions"


def test_no_eval_exec_or_pickle_near_user_data():
    """The library and the app (everything that reads uploads or the CLI's files) evaluate nothing they read."""
    pattern = re.compile(r"\b(eval|exec)\s*\(|\b(pickle|marshal|shelve|dill|joblib)\b|allow_pickle\s*=\s*True")
    for path in [*ROOT.glob("colorizer/*.py"), *ROOT.glob("demo/*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not pattern.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
