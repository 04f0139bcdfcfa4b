"""The command line's Ray engine: a whole archive coloured on a Ray cluster with the CLI's own semantics.

    python -m colorizer SRC -o DEST --engine ray [--address ADDRESS] [every flag of the local engine]

The driver lists the photos as the CLI does and names their outputs exactly as the CLI does (unique stems over the
whole list). Ray Data reads the files (read tasks of READ_CPUS each) and hands them to a pool of actors, one per
ACTOR_CPUS of the cluster, each of which loads the models once and colours its photos with
colorizer.batch.colorize_photo, the CLI's own code: the same checks against the library's limits, the same images,
written atomically under the same names. ONNX Runtime in an actor runs one thread per whole CPU of its share, so
the read tasks are not starved. COLORIZER_* settings reach the workers.
Nothing lost, nothing twice: a photo whose outputs exist is not coloured again; a broken or oversized file is a
row with its reason and the job goes on; an actor that dies is restarted by Ray and its photos redone (Ray Data
retries the tasks it held). Every input ends as exactly one row of DEST/results.csv: input, status (done, skipped,
failed), error, seconds, outputs, and the models' versions and sha256. The exit status is the CLI's.
SRC and DEST are local folders or URIs that pyarrow reads and writes (s3://bucket/prefix, gs://...,
colorizer.storage). With --address, local paths must be on a filesystem every node mounts at the same path.
The local instance's workers run at the driver's priority (Ray's default niceness of 15 would let any other
process on the machine take their cores).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

from colorizer.atomic import remove_stale_temps
from colorizer.batch import DONE, FAILED, SKIPPED, Job, Outcome, colorize_photo, job_from_args
from colorizer.imageio import unique_stems
from colorizer.manifest import sha256
from colorizer.storage import Folder, fs_path, is_uri

ACTOR_CPUS = 0.9  # CPUs each colouring actor reserves: most of a core, leaving room for the read tasks
READ_CPUS = 0.1  # CPUs a Ray Data read task reserves
TABLE = "results.csv"
ACTOR_THREADS = 1  # ONNX Runtime's threads in an actor: the whole CPUs of its ACTOR_CPUS
# A row per input: what the actor that coloured it returns (worker_peak_mb: that actor's peak resident memory so
# far), then the models, the same for every row
ACTOR_COLUMNS = ("input", "status", "error", "seconds", "outputs", "written", "worker_peak_mb")
COLUMNS = (*ACTOR_COLUMNS, "models", "models_sha256")
CRASH_HOOK = "COLORIZER_TEST_CRASH"  # tests only: "N:MARKER": an actor exits after N photos, once (no MARKER yet)
ROOT = Path(__file__).resolve().parent.parent


def model_columns(job: Job) -> dict[str, str]:
    """The models' versions and their files' sha256, as the table's columns."""
    versions = " ".join(f"{m.name}={m.meta.get('version', m.name)}" for m in job.models)
    sha = " ".join(f"{m.name}={sha256(m.path)}" for m in job.models)  # cached: verified shipped files hash once
    return {"models": versions, "models_sha256": sha}


class Colorizer:
    """The Ray Data actor: loads the models once, then colours each photo of its batches."""

    def __init__(self, args: argparse.Namespace, names: dict[str, tuple[str, str]], outdir: str):
        """names: each photo's path as Ray Data gives it back -> (its input name, its outputs' stem); outdir: the
        output folder (an absolute path or a URI)."""
        os.environ["COLORIZER_THREADS"] = str(ACTOR_THREADS)
        self.job, self.names, self.outdir = job_from_args(args), names, Folder(outdir)
        self.inputs = {name for name, _ in names.values()}
        self.done = 0

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        """batch: {"path": [...], "bytes": [...]} from read_binary_files -> the table's rows for those photos."""
        rows: dict[str, list] = {c: [] for c in ACTOR_COLUMNS}
        for path, data in zip(batch["path"], batch["bytes"]):
            self._crash_hook()
            name, stem = self.names[str(path)]
            try:
                out = colorize_photo(self.job, bytes(data), name, stem, self.outdir, self.inputs)
            except Exception as e:
                out = Outcome(FAILED, f"{name}: {type(e).__name__}: {e}")
            self.done += 1
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
            row = (name, out.status, out.error, round(out.seconds, 3), json.dumps(out.written + out.kept))
            for column, value in zip(ACTOR_COLUMNS, (*row, len(out.written), round(peak_mb)), strict=True):
                rows[column].append(value)
        return rows

    def _crash_hook(self) -> None:
        """Tests only (CRASH_HOOK): exit this worker process abruptly, once, after N photos."""
        if hook := os.environ.get(CRASH_HOOK):
            after, marker = hook.split(":", 1)
            if self.done >= int(after) and not Path(marker).exists():
                Path(marker).touch()
                os._exit(1)


def runtime_env() -> dict:
    """What every worker gets: this package and the shipped models (uploaded by Ray, so a cluster's nodes need
    only the requirements installed) and the COLORIZER_* settings."""
    keep = {"colorizer", "onnx_models"}
    return {
        "working_dir": str(ROOT),
        "excludes": [f"/{p.name}" for p in ROOT.iterdir() if p.name not in keep],
        "env_vars": {k: v for k, v in os.environ.items() if k.startswith("COLORIZER_")},
    }


def write_table(rows: list[dict], outdir: Folder) -> None:
    """The results table as outdir/TABLE, CSV, written whole (colorizer.storage)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    outdir.write(TABLE, buf.getvalue().encode(), overwrite=True)


def run(files: list[Path | str], args: argparse.Namespace, job: Job, outdir: Folder) -> tuple[dict[str, int], float]:
    """Colour `files` (local paths or URIs) into `outdir` on Ray (args.address, or a local instance on this
    machine's cores) as `job` (the driver's, from the same args: every actor makes its own): returns the count of
    rows per status and the photos per second from the first read to the last row; writes outdir/TABLE."""
    import ray  # only this engine needs Ray (requirements-archive.txt)

    files = [f if is_uri(f) else str(Path(f).resolve()) for f in files]
    if not files:  # nothing to start a cluster for
        write_table([], outdir)
        return {DONE: 0, SKIPPED: 0, FAILED: 0}, 0.0
    stems = unique_stems([Path(f) for f in files])
    names = {fs_path(f) if is_uri(f) else f: (f, stem) for f, stem in zip(files, stems)}
    start = time.perf_counter()
    if not args.address:  # Ray starts its workers at niceness 15; the local instance's actors are the work itself
        os.environ.setdefault("RAY_worker_niceness", "0")
    ray.init(address=args.address, runtime_env=runtime_env(), include_dashboard=False, log_to_driver=False)
    started = time.perf_counter()
    print(f"Ray started in {started - start:.1f} s", file=sys.stderr)
    actors = max(1, int(ray.cluster_resources().get("CPU", 1) / ACTOR_CPUS))
    reading = {"num_cpus": READ_CPUS}
    ds = ray.data.read_binary_files(files, include_paths=True, ray_remote_args=reading)
    fn_args = {"args": args, "names": names, "outdir": outdir.absolute()}
    ds = ds.map_batches(Colorizer, fn_constructor_kwargs=fn_args, batch_size=1, concurrency=actors, num_cpus=ACTOR_CPUS)
    rows = {}
    for row in ds.iter_rows():  # keyed by input: one row per input whatever Ray retried
        rows[row["input"]] = {c: row[c] for c in ACTOR_COLUMNS}
    seconds = time.perf_counter() - started
    ray.shutdown()
    if outdir.local:  # what a crashed actor was writing (its photo was redone under the final name)
        remove_stale_temps(outdir.where)
    lost = {"status": FAILED, "error": "no result came back from the cluster", "seconds": 0, "outputs": "[]"}
    extra = model_columns(job)
    table = [rows.get(f, {"input": f, **lost, "written": 0, "worker_peak_mb": 0}) | extra for f in files]
    write_table(table, outdir)
    counts = {s: sum(r["status"] == s for r in table) for s in (DONE, SKIPPED, FAILED)}
    return counts, len(table) / seconds if seconds else 0.0
