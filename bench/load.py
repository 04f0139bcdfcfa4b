"""Load-test the app: N gradio_client users at once against `python demo/app.py` on 127.0.0.1.

    python -m bench.load [--users 8] [--seconds 120] [--json load_results.json]
    python -m bench.load --short       # 3 users for about 15 s (what the test suite runs)

Starts the app as users start it (GRADIO_SERVER_NAME/PORT on a free local port, default settings), makes
synthetic old photos in a temporary folder, and first sends enough distinct photos to fill the app's
prediction cache (warm-up). Then each user sends requests one after another until the time is up: single
photos of 512, 1024 and 1536 px (long side, several distinct photos per size, random colour controls), one
batch of 4 photos in every 10 requests and a truncated JPEG in every 7. Reports throughput; p50, p95 and
p99 latency of the single-photo requests (batches and broken files apart); errors by kind (the expected
"broken file" answers, "busy" refusals of a full queue, anything else); the server's resident memory after
warm-up and at the end. All traffic stays on 127.0.0.1; every loop and request is bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # gradio_client is imported where it is used: the module itself loads without it
    from gradio_client import Client

ROOT = Path(__file__).resolve().parent.parent
SIZES = (512, 1024, 1536)  # long side of the single photos, px
BATCH_EVERY, BROKEN_EVERY, BATCH_SIZE = 10, 7, 4
REQUEST_TIMEOUT_S = 120.0  # a request that takes longer counts as an unexpected error
START_TIMEOUT_S = 180.0
MIN_MIX_GRACE_S = 120.0  # how long a short run may go on past its time to complete one full mix of requests


def cache_items() -> int:
    """How many photos the app's prediction cache holds (demo.cache.PredictionCache's max_items default)."""
    from demo.cache import PredictionCache

    return inspect.signature(PredictionCache).parameters["max_items"].default


def old_photo(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    """A synthetic black-and-white photo (PIL 'L', height x width): smooth tones, a few shapes, film grain."""
    small = Image.fromarray((rng.random((5, 6)) * 255).astype(np.uint8))
    gray = np.asarray(small.resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16).copy()
    for _ in range(6):
        y, x = int(rng.integers(0, height * 3 // 4)), int(rng.integers(0, width * 3 // 4))
        dy, dx = int(rng.integers(height // 10, height // 4)), int(rng.integers(width // 10, width // 4))
        gray[y : y + dy, x : x + dx] = rng.integers(0, 256)
    gray += rng.integers(-8, 9, gray.shape, dtype=np.int16)
    return Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8))


def make_photos(folder: Path, per_size: int, seed: int = 0) -> tuple[list[Path], Path]:
    """Write `per_size` distinct JPEGs for each of SIZES (landscape and portrait 4:3) and one truncated JPEG.

    Returns (the photos, interleaved by size so any prefix mixes the sizes, the broken file's path).
    """
    rng = np.random.default_rng(seed)
    photos = []
    for i in range(per_size):
        for side in SIZES:
            h, w = (side * 3 // 4, side) if i % 2 == 0 else (side, side * 3 // 4)
            path = folder / f"photo_{side}_{i}.jpg"
            old_photo(rng, h, w).save(path, quality=90)
            photos.append(path)
    broken = folder / "broken.jpg"
    data = photos[0].read_bytes()
    broken.write_bytes(data[: len(data) // 3])  # a download cut short: valid header, missing data
    return photos, broken


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launched_app(log_path: Path) -> Iterator[tuple[str, int]]:
    """`python demo/app.py` on a free port of 127.0.0.1; yields (its URL, its process id); stops it after."""
    port = free_port()
    # Gradio's uploads and the app's results (GBs in a 2-minute run) go to a folder beside the log, deleted with
    # the run's temporary folder: left in the shared /tmp/gradio, they piled up run after run.
    env = os.environ | {"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                        "GRADIO_ANALYTICS_ENABLED": "False",
                        "GRADIO_TEMP_DIR": str(log_path.parent / "gradio")}  # fmt: skip
    with open(log_path, "w") as log:
        cmd = [sys.executable, "demo/app.py"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the app exited early; see {log_path}:\n{log_path.read_text()[-2000:]}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not start within {START_TIMEOUT_S:.0f} s; see {log_path}")
                time.sleep(0.5)
            yield f"http://127.0.0.1:{port}/", proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def rss_mb(pid: int) -> float:
    """A process's resident memory (VmRSS from /proc/PID/status), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, s) a process has used so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kind_of(i: int) -> str:
    """The i-th request of the mix (0-based): 'batch' every BATCH_EVERY-th, 'broken' every BROKEN_EVERY-th,
    else 'single'."""
    if i % BATCH_EVERY == BATCH_EVERY - 1:
        return "batch"
    return "broken" if i % BROKEN_EVERY == BROKEN_EVERY - 1 else "single"


def outcome_of(error: BaseException | None, kind: str) -> str:
    """'ok', 'broken' (the app's clear answer to the truncated file), 'busy' (a full queue) or 'unexpected'."""
    if error is None:
        return "unexpected" if kind == "broken" else "ok"  # a truncated file must not be "colorized"
    text = f"{type(error).__name__}: {error}".lower()
    if "queue is full" in text or "queueerror" in text:
        return "busy"
    return "broken" if kind == "broken" and "damaged or truncated" in text else "unexpected"


@dataclass
class Record:
    """One request: its kind, how long it took (s), and how it ended (see outcome_of)."""

    kind: str
    seconds: float
    outcome: str
    message: str = ""


@dataclass
class Crowd:
    """The users' shared state: the request counter, the photos, the records (appended under a lock)."""

    url: str
    photos: list[Path]
    broken: Path
    downloads: Path
    records: list[Record] = field(default_factory=list)
    counter: itertools.count = field(default_factory=itertools.count)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, client: Client, kind: str, rng: np.random.Generator, photo: Path | None = None) -> None:
        """Send one request of `kind`, record it and delete what it downloaded (never raises)."""
        from gradio_client import handle_file

        controls = [256, round(rng.uniform(0.5, 1.5), 2), round(rng.uniform(-10, 10), 1), round(rng.random(), 2)]
        if kind == "batch":
            files = [handle_file(str(p)) for p in rng.choice(self.photos, BATCH_SIZE, replace=False)]
            args, api = (files, "Both", *controls), "/colorize_batch"
        else:
            path = self.broken if kind == "broken" else photo or self.photos[int(rng.integers(len(self.photos)))]
            args, api = (handle_file(str(path)), *controls, False), "/colorize"
        start, error = time.monotonic(), None
        try:
            client.submit(*args, api_name=api).result(timeout=REQUEST_TIMEOUT_S)
        except Exception as e:  # every failure is recorded and classified, none stops the user
            error = e
        end = time.monotonic()
        shutil.rmtree(client.output_dir, ignore_errors=True)  # the user's downloads of this request
        with self.lock:
            self.records.append(Record(kind, end - start, outcome_of(error, kind), str(error or "")[:300]))

    def client(self, user: int) -> Client:
        """A gradio_client Client of the app that downloads results into a folder of this user's own."""
        from gradio_client import Client

        # ssl_verify=False: plain HTTP to 127.0.0.1, and otherwise every request and download of gradio_client
        # builds a new TLS context from the CA bundle: about 40 ms of the users' CPU each, on the server's cores.
        folder = str(self.downloads / f"user-{user}")
        return Client(self.url, verbose=False, download_files=folder, ssl_verify=False)

    def warm_up(self, users: int, count: int) -> None:
        """Send the first `count` photos once each, `users` at a time, so that the prediction cache fills."""
        todo = iter(self.photos[:count])
        todo_lock = threading.Lock()

        def user(seed: int) -> None:
            client, rng = self.client(seed), np.random.default_rng(seed)
            while True:
                with todo_lock:
                    photo = next(todo, None)
                if photo is None:
                    return
                self.send(client, "single", rng, photo)

        run_threads(user, users)

    def run(self, users: int, seconds: float) -> tuple[float, float]:
        """`users` users send the request mix back to back for `seconds` (and at least until BATCH_EVERY
        requests have been sent, so every kind is there, for at most `seconds` + MIN_MIX_GRACE_S more);
        returns (start, end) in monotonic seconds."""
        start = time.monotonic()
        deadline, hard_deadline = start + seconds, start + seconds + MIN_MIX_GRACE_S

        def user(seed: int) -> None:
            client, rng = self.client(seed), np.random.default_rng(1000 + seed)
            while time.monotonic() < hard_deadline:
                i = next(self.counter)
                if i >= BATCH_EVERY and time.monotonic() >= deadline:
                    return
                self.send(client, kind_of(i), rng)

        run_threads(user, users)
        return start, time.monotonic()


def run_threads(target: Callable[[int], None], n: int) -> None:
    """Run target(0) ... target(n-1) in threads and wait for all of them."""
    threads = [threading.Thread(target=target, args=(i,), name=f"user-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def latency(records: list[Record]) -> dict[str, float | int]:
    """Count and p50/p95/p99/max (s) of the records' durations (None where there are none)."""
    s = np.array([r.seconds for r in records], dtype=float)
    stats = {f"p{q}": float(np.percentile(s, q)) if len(s) else None for q in (50, 95, 99)}
    return {"count": len(s), **stats, "max": float(s.max()) if len(s) else None}


def report(records: list[Record], span: tuple[float, float], memory: dict, cpu: dict, users: int) -> dict:
    """The figures of a run, as a JSON-serialisable dict (cpu: CPU seconds of the server and of the users)."""
    seconds = span[1] - span[0]
    by_outcome = {k: sum(r.outcome == k for r in records) for k in ("ok", "broken", "busy", "unexpected")}
    answered = [r for r in records if r.outcome in ("ok", "broken")]
    kinds = {kind: latency([r for r in answered if r.kind == kind]) for kind in ("single", "batch", "broken")}
    errors = {"expected_broken_file": by_outcome["broken"], "busy": by_outcome["busy"]}
    return {
        "users": users,
        "seconds": round(seconds, 1),
        "requests": len(records),
        "throughput_rps": len(answered) / seconds,
        "single_photo_rps": sum(r.kind == "single" and r.outcome == "ok" for r in records) / seconds,
        "latency_s": kinds,
        "errors": errors | {"unexpected": by_outcome["unexpected"]},
        "unexpected_examples": sorted({r.message for r in records if r.outcome == "unexpected"})[:5],
        "memory_mb": memory,
        "cpu_s_per_request": {k: v / max(1, len(records)) for k, v in cpu.items()},
    }


def summary(r: dict) -> str:
    """A few lines for people."""
    s, b = r["latency_s"]["single"], r["latency_s"]["batch"]

    def ms(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.2f} s"

    m, e, c = r["memory_mb"], r["errors"], r["cpu_s_per_request"]
    return "\n".join([
        f"{r['users']} users, {r['seconds']} s: {r['requests']} requests, {r['throughput_rps']:.2f}/s "
        f"({r['single_photo_rps']:.2f} single photos/s)",
        f"single photo ({s['count']}): p50 {ms(s['p50'])}, p95 {ms(s['p95'])}, p99 {ms(s['p99'])}, max {ms(s['max'])}",
        f"batch of {BATCH_SIZE} ({b['count']}): p50 {ms(b['p50'])}, p95 {ms(b['p95'])}",
        f"errors: {e['expected_broken_file']} expected (broken file), {e['busy']} busy, {e['unexpected']} unexpected"
        f" (warm-up: {len(r['warmup_errors'])} failed)",
        f"server memory: {m['after_warmup']:.0f} MiB after warm-up, {m['end']:.0f} MiB at the end "
        f"({m['growth_pct']:+.1f} %)",
        f"CPU per request: server {c['server']:.2f} s, users {c['users']:.2f} s",
    ])  # fmt: skip


def measure(tmp: Path, users: int, seconds: float) -> dict:
    """Make the photos in `tmp`, start the app, warm it up, run the crowd; the report (see `report`)."""
    n_cache = cache_items()
    per_size = -(-(n_cache + 2) // len(SIZES))  # a few more photos than the cache holds: some misses
    (tmp / "downloads").mkdir()
    photos, broken = make_photos(tmp, per_size)
    with launched_app(tmp / "app.log") as (url, pid):
        crowd = Crowd(url, photos, broken, tmp / "downloads")
        crowd.warm_up(users, n_cache)
        warm_errors = sorted({r.message for r in crowd.records if r.outcome != "ok"})
        crowd.records.clear()
        memory, cpu = {"after_warmup": rss_mb(pid)}, {"server": -cpu_seconds(pid), "users": -time.process_time()}
        span = crowd.run(users, seconds)
        memory["end"] = rss_mb(pid)
        cpu = {"server": cpu["server"] + cpu_seconds(pid), "users": cpu["users"] + time.process_time()}
    memory["growth_pct"] = 100 * (memory["end"] / memory["after_warmup"] - 1)
    extra = {"warmup_photos": n_cache, "warmup_errors": warm_errors, "photos": len(photos)}
    return report(crowd.records, span, memory, cpu, users) | extra


def main(argv: list[str] | None = None) -> dict:
    """`python -m bench.load`: run the load test, print its summary; the figures (see `report`)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=8, help="concurrent users (default 8)")
    ap.add_argument("--seconds", type=float, default=120.0, help="length of the measured phase (default 120)")
    ap.add_argument("--short", action="store_true", help="3 users for 15 s (the test suite's run)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)
    if args.short:
        args.users, args.seconds = 3, 15.0
    with tempfile.TemporaryDirectory(prefix="colorizer-load-") as tmp:
        tempfile.tempdir = tmp  # gradio_client stages each download in a folder of its own under it
        try:
            result = measure(Path(tmp), args.users, args.seconds)
        except Exception:
            log = Path(tmp) / "app.log"
            print(f"the app's log ends:\n{log.read_text()[-3000:] if log.exists() else ''}", file=sys.stderr)
            raise
        finally:
            tempfile.tempdir = None
    print(summary(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
        print(f"written to {args.json}")
    return result


if __name__ == "__main__":
    main()
