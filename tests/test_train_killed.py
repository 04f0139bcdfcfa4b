"""A real `python -m train` run killed with SIGKILL between checkpoints and during a checkpoint write: --resume
continues from the last complete checkpoint to the same weights, losses and log rows as a run never stopped."""

import csv
import json
import subprocess
import sys
import tomllib

import pytest
import torch

from colorizer.atomic import TEMP_PATTERN
from helpers import ROOT, TINY, run
from train.checkpoint import load_checkpoint

# Checkpoints at steps 2, 4 (with an evaluation: a log row, best.pt, then last.pt), 6 and 8 (evaluation).
CONFIG = tomllib.loads(TINY) | {"steps": 8, "eval_every": 4, "ckpt_every": 2}

# `python -m train` exactly, except that the process SIGKILLs itself at a chosen point, so the kill lands
# where the test wants it every time. "after-step N": once step N is done (between checkpoints);
# "writing-last N": half way through writing last.pt at step N (half its bytes are on disk).
KILLER = """
import io, os, runpy, signal, sys
import torch
from train.trainer import Trainer

where, at = sys.argv[1], int(sys.argv[2])
sys.argv = ["train", *sys.argv[3:]]
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if where == "after-step":
    advance = Trainer.advance
    def step_then_die(self):
        figures = advance(self)
        if self.step == at:
            die()
        return figures
    Trainer.advance = step_then_die
else:
    save = torch.save
    def half_save(obj, f, *args, **kwargs):
        if "last.pt" in getattr(f, "name", "") and obj["step"] == at:
            buf = io.BytesIO()
            save(obj, buf, *args, **kwargs)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            f.flush()
            os.fsync(f.fileno())
            die()
        save(obj, f, *args, **kwargs)
    torch.save = half_save
runpy.run_module("train", run_name="__main__", alter_sys=True)
"""


def train_args(photo_dir, cfg, out) -> list[str]:
    return ["-m", "train", "--model", "gan", "--data", str(photo_dir), "--out", str(out), "--config", str(cfg)]


def log_rows(run_dir) -> list[dict]:
    with open(run_dir / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("killed") / "kill.toml"
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in CONFIG.items()))
    return path


@pytest.fixture(scope="module")
def straight(config, photo_dir):
    """The same run never stopped: the reference."""
    out = config.parent / "straight"
    run(*train_args(photo_dir, config, out))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "where, at, resumes_from",
    [("after-step", 5, 4), ("writing-last", 4, 2)],
    ids=["between-checkpoints", "during-checkpoint-write"],
)
def test_killed_run_resumes_to_the_same_weights_and_log(config, photo_dir, straight, tmp_path, where, at, resumes_from):
    out = tmp_path / "run"
    killed = subprocess.run([sys.executable, "-c", KILLER, where, str(at), *train_args(photo_dir, config, out)[2:]],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert killed.returncode == -9, killed.stderr[-2000:]
    last = load_checkpoint(out / "last.pt")  # complete, and readable with weights_only=True
    assert last["step"] == resumes_from
    half = [p for p in out.iterdir() if TEMP_PATTERN.fullmatch(p.name)]
    assert len(half) == (where == "writing-last")  # the half-written checkpoint, under a temporary name only
    logged = [int(r["step"]) for r in log_rows(out)]
    assert logged == [4]  # the evaluation at step 4: written before the kill, past last.pt when writing it

    run(*train_args(photo_dir, config, out), "--resume")
    assert not [p for p in out.iterdir() if TEMP_PATTERN.fullmatch(p.name)]  # the temporary file is removed
    ours, reference = load_checkpoint(out / "last.pt"), load_checkpoint(straight / "last.pt")
    assert ours["step"] == reference["step"] == CONFIG["steps"]
    for part in ("model", "ema", "disc"):
        for name, value in reference[part].items():
            assert torch.allclose(ours[part][name], value, rtol=1e-5, atol=1e-6), f"{part}.{name}"
    rows, expected = log_rows(out), log_rows(straight)
    assert [r["step"] for r in rows] == [r["step"] for r in expected] == ["4", "8"]  # none twice, none missing
    for row, ref in zip(rows, expected):
        for key, value in ref.items():
            if key not in ("seconds", "cpu_seconds") and value:  # times differ between runs
                assert float(row[key]) == pytest.approx(float(value), rel=1e-5), key
