"""The crack filler: its detector's training data (train.restore.crack), the fill (train.restore.crack_model), exact
resume, its export (export.restorer) as a restorer/1 file the library runs before the restorer
(colorizer.restore.Chain)."""

import json
from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch

from colorizer.pipeline import get_restorer
from colorizer.restore import Chain, Restorer, load_restorer
from helpers import TINY_RESTORE, cracked_camera, run, straight_and_resumed
from train.checkpoint import load_checkpoint
from train.colorize.metrics import psnr
from train.restore.config import RestoreConfig
from train.restore.crack import CrackConfig, CrackTrainer, crack_sample
from train.restore.crack_model import CrackFill, CrackNet, fill, gaussian_kernel
from train.restore.trainer import RestoreTrainer

TINY_CRACK = {"steps": 4, "batch_size": 3, "crop_size": 64, "ckpt_every": 2, "val_percent": 20,
              "arch_args": {"widths": [4, 8, 8]}}  # fmt: skip
GRAY = (np.random.default_rng(0).random((96, 80)) * 60 + 100).astype(np.uint8)  # mid-gray with fine texture


def test_training_samples_are_deterministic_and_their_mask_is_the_damage():
    cfg = CrackConfig(**TINY_CRACK)
    a, b = (crack_sample(GRAY, cfg, [], np.random.default_rng(5)) for _ in range(2))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[0].dtype == np.uint8 and a[0].shape == a[1].shape == (64, 64)
    masks = [crack_sample(GRAY, cfg, [], np.random.default_rng(s))[1] for s in range(20)]
    assert set(np.unique(np.stack(masks))) == {0.0, 1.0}
    assert 0 < np.mean([m.mean() for m in masks]) < 0.2  # damage is local: a few % of the pixels
    clean = [crack_sample(GRAY, replace(cfg, p_clean=1.0), [], np.random.default_rng(s))[1] for s in range(5)]
    assert not np.stack(clean).any()  # grain, blur, sharpening and JPEG are never damage


def test_the_fill_replaces_only_masked_pixels_with_their_surroundings():
    gray = torch.full((1, 1, 40, 48), 0.3)
    gray[..., :, 24:] = 0.6  # two fields
    cracked, mask = gray.clone(), torch.zeros_like(gray)
    cracked[..., 20, 4:44] = 1.0  # a light crack across both
    mask[..., 19:22, 4:44] = 1
    out = fill(cracked, mask, gaussian_kernel(2.0))
    assert torch.equal(out[mask == 0], cracked[mask == 0])  # nothing unmasked moves
    # farther than the kernel reaches (3 sigma) from the fields' edge: exactly its own field
    assert (out[..., 20, 4:17] - 0.3).abs().max() < 1e-5 and (out[..., 20, 31:44] - 0.6).abs().max() < 1e-5
    everything = fill(cracked, torch.ones_like(mask), gaussian_kernel(2.0))
    assert torch.equal(everything, cracked)  # nothing left to fill from: the pixels keep their values


@pytest.mark.slow
def test_training_resumes_exactly(tmp_path, photo_dir):
    cfg = CrackConfig(**TINY_CRACK)
    a, b = straight_and_resumed(lambda d, resume: CrackTrainer(cfg, photo_dir, d, resume=resume), tmp_path)
    ck = load_checkpoint(tmp_path / "b" / "last.pt")
    assert ck["step"] == 4 and ck["kind"] == "crack_detector" and ck["cpu_seconds"] > 0
    assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())
    untrained = CrackNet(**cfg.arch_args).state_dict()
    assert not all(torch.equal(v, untrained[k]) for k, v in a.model.state_dict().items())


@pytest.fixture(scope="module")
def filler(tmp_path_factory, photo_dir):
    """(detector checkpoint, crack filler .onnx exported from it by export.restorer, a tiny restorer .onnx)."""
    tmp = tmp_path_factory.mktemp("filler")
    CrackTrainer(CrackConfig(**TINY_CRACK), photo_dir, tmp / "c").run(2)
    run("-m", "export.restorer", str(tmp / "c" / "last.pt"), "--threshold", "0.3", "-o", str(tmp / "cracks.onnx"))
    restorer = RestoreTrainer(RestoreConfig(**TINY_RESTORE), photo_dir, tmp / "r")
    restorer.run(2)
    restorer.save(evaluate=False)
    run("-m", "export.restorer", str(tmp / "r" / "last.pt"), "-o", str(tmp / "restore.onnx"))
    return tmp / "c" / "last.pt", tmp / "cracks.onnx", tmp / "restore.onnx"


@pytest.mark.slow
def test_the_crack_filler_keeps_the_restorer_contract_and_says_what_it_holds(filler):
    detector_ck, path, restorer = filler
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    ck = load_checkpoint(detector_ck)
    assert meta["contract"] == "restorer/1" and meta["arch"] == "CrackNet" and meta["context"] == "local"
    assert json.loads(meta["fill"]) == {"threshold": 0.3, "grow": 1, "sigma": 2.0}
    assert meta["train_steps"] == "2" and meta["train_cpu_seconds"] == f"{ck['cpu_seconds']:.0f}"
    gray = (np.random.default_rng(1).random((70, 90)) * 255).astype(np.uint8)  # odd size, not a multiple of 32
    model = Restorer(path)
    out = model.restore(gray)
    assert out.shape == gray.shape and out.dtype == np.uint8
    both = Chain(model, Restorer(restorer))
    assert both.name == "cracks+restore" and np.array_equal(both.restore(gray), Restorer(restorer).restore(out))


def test_the_filler_leaves_a_photo_where_its_detector_finds_nothing_or_everything():
    net = CrackFill(CrackNet(**TINY_CRACK["arch_args"]), threshold=0.5, grow=1, sigma=2.0).eval()
    x = torch.rand(1, 1, 32, 40)
    with torch.no_grad():
        for p in net.detector.parameters():
            p.zero_()
        net.detector.head.bias.fill_(-5.0)  # a detector that finds nothing: the photo as it came
        assert torch.equal(net(x), x)
        net.detector.head.bias.fill_(5.0)  # one that finds damage everywhere: nothing to fill from, as it came
        assert torch.equal(net.mask(x), torch.ones_like(x)) and torch.equal(net(x), x)


def test_the_shipped_filler_takes_off_thick_cracks_the_restorer_leaves():
    cracked, clean = cracked_camera()
    restorer, both = get_restorer(True), get_restorer("cracks")
    assert both.name == "cracks+restore" and both.parts[1] is restorer  # loaded once per process
    alone, filled = psnr(restorer.restore(cracked), clean), psnr(both.restore(cracked), clean)
    assert filled > alone + 1.5, (alone, filled)


def test_the_shipped_filler_and_restorer_stay_within_the_training_budget():
    """The issue's budget, 4 core-hours for the shipped run: the restorer's steps (wall time on one thread each, an
    upper bound) and the crack detector's (CPU time over its threads), as their files record them."""
    restorer, filler = load_restorer(), load_restorer("cracks")
    assert float(restorer.meta["train_seconds"]) + float(filler.meta["train_cpu_seconds"]) <= 4 * 3600
