"""End to end: train each model a few steps -> export -> colorizer.load -> colorize; resume; contract."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import colorizer
from colorizer.model import CONTRACT, HINTS_CONTRACT
from export.__main__ import PARITY_TOL, parity
from helpers import DECODING, ROOT, TINY, run, straight_and_resumed
from train.checkpoint import load_checkpoint
from train.colorize.config import ColorizeConfig
from train.colorize.efficientnet import EfficientNetLite
from train.colorize.trainer import ColorizeTrainer
from train.config import config_from_toml
from train.report import log_row
from train.restore.config import RestoreConfig
from train.restore.crack import CrackConfig

SMALL = {"val_images": 2, "val_percent": 20, "crop_sizes": [64]}  # a colorizer that builds fast on the test photos

META_KEYS = {"contract", "kind", "arch", "arch_args", "render_size", "size_multiple", "train_data", "train_steps",
             "train_seconds", "git_commit", "val_metrics"}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cnn", "gan"])
def test_trained_model_colorizes_at_input_size(trained, kind):
    model = colorizer.load(trained[kind])
    assert model.kind == kind and model.meta["contract"] == {"cnn": CONTRACT, "gan": HINTS_CONTRACT}[kind]
    assert set(model.meta) >= META_KEYS
    assert set(json.loads(model.meta["val_metrics"])) >= {"psnr", "de00", "cf_ratio"}
    image = np.random.default_rng(0).integers(0, 256, (123, 77)).astype(np.uint8)
    for size in (None, 96):
        out = model.colorize(image, render_size=size)
        assert out.shape == (123, 77, 3) and out.dtype == np.uint8


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cnn", "gan"])
def test_export_parity_with_pytorch(trained, kind):
    ck = load_checkpoint(trained[f"{kind}_run"] / "best.pt")
    if kind == "gan":  # exported with a decoding of its own (conftest.trained)
        ck["arch_args"] |= DECODING
    exported, vs_float32 = parity(ck, trained[kind])
    assert exported < PARITY_TOL  # against the same network with float16-rounded conv weights
    assert vs_float32 < 1.0  # what float16 storage costs: under a just-visible colour difference


@pytest.mark.slow
def test_float16_weights_are_cast_once_when_the_session_starts(trained, tmp_path):
    m = onnx.load(str(trained["cnn"]))
    halves = [i for i in m.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
    casts = [n for n in m.graph.node if n.op_type == "Cast"]
    assert len(halves) == len(casts) > 50 and m.metadata_props  # every conv weight, behind its own Cast
    assert colorizer.load(trained["cnn"]).meta["weights"] == "float16"
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(trained["cnn"]), options, providers=["CPUExecutionProvider"])
    assert not [n for n in onnx.load(options.optimized_model_filepath).graph.node if n.op_type == "Cast"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cnn", "gan"])
def test_run_folder_has_logs_plots_and_samples(trained, kind):
    run_dir = trained[f"{kind}_run"]
    for name in ("last.pt", "best.pt", "log.csv", "loss.png"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "samples").glob("step_*.png"))
    ck = load_checkpoint(run_dir / "last.pt")
    assert ck["step"] == 6 and ck["arch"] and ck["config"]["model"] == kind


@pytest.mark.slow
def test_onnx_graph_is_self_contained_with_dynamic_dims(trained):
    path = trained["gan"]
    assert not list(path.parent.glob("*.onnx.data"))
    m = onnx.load(str(path))
    dims = [d.dim_param for d in m.graph.input[0].type.tensor_type.shape.dim]
    assert dims[0] == "N" and dims[2] == "H" and dims[3] == "W"


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path, photo_dir):
    cfg_file = tmp_path / "tiny.toml"
    cfg_file.write_text(TINY)
    cfg = config_from_toml(ColorizeConfig, cfg_file, {"model": "gan"})  # the most state: EMA, D, two optimisers
    straight, resumed = straight_and_resumed(lambda out, resume: ColorizeTrainer(cfg, photo_dir, out, resume), tmp_path)
    for part in ("model", "ema", "disc"):
        ours, reference = getattr(resumed, part).state_dict(), getattr(straight, part).state_dict()
        assert all(torch.equal(ours[k], v) for k, v in reference.items()), part


@pytest.mark.slow
def test_cnn_weight_averaging_can_start_on_resume(tmp_path, photo_dir):
    cfg = ColorizeConfig(model="cnn", ema_decay=0.0, **SMALL)
    plain = ColorizeTrainer(cfg, photo_dir, tmp_path)
    plain.run(2)
    assert plain.ema is None and load_checkpoint(tmp_path / "last.pt")["ema"] is None
    cfg.ema_decay = 0.9
    averaged = ColorizeTrainer(cfg, photo_dir, tmp_path, resume=True)  # the EMA starts from the resumed weights
    for a, b in zip(averaged.ema.state_dict().values(), averaged.model.state_dict().values()):
        assert torch.equal(a, b)
    averaged.run(4)
    ck = load_checkpoint(tmp_path / "last.pt")
    assert not torch.equal(ck["ema"]["head.weight"], ck["model"]["head.weight"])


@pytest.mark.slow
def test_learning_rate_follows_the_schedule(tmp_path, photo_dir):
    cfg = ColorizeConfig(model="gan", pretrain_steps=2, lr=1e-3, steps=10, lr_decay_from=6, lr_min_ratio=0.1,
                         d_width=8, **SMALL)  # fmt: skip
    t = ColorizeTrainer(cfg, photo_dir, tmp_path)
    lrs = {}
    for step in (0, 2, 6, 8, 10):
        t.step = step
        assert t.train_step().keys() == ({"ce"} if step < 2 else {"ce", "adv", "d"})  # pretraining, then adversarial
        lrs[step] = t.opt.param_groups[0]["lr"]
        assert t.opt.param_groups[1]["lr"] == pytest.approx(lrs[step] * cfg.encoder_lr_ratio)  # the encoder's
    assert t.opt_d.param_groups[0]["lr"] == pytest.approx(cfg.d_lr * 0.1)  # the discriminator's decays alike
    assert lrs[0] == lrs[2] == lrs[6] == 1e-3  # constant until the decay starts
    assert lrs[8] == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))  # half way down the cosine
    assert lrs[10] == pytest.approx(1e-4)


def test_unknown_contract_is_refused_naming_the_file(tmp_path):
    m = onnx.load(str(ROOT / "onnx_models" / "cnn.onnx"))
    onnx.helper.set_model_props(m, {"contract": "colorizer/99", "kind": "cnn"})
    bad = tmp_path / "future_model.onnx"
    onnx.save(m, str(bad))
    with pytest.raises(colorizer.ContractError, match=r"future_model\.onnx"):
        colorizer.load(bad)


def test_cli_train_rejects_a_config_for_the_other_model(tmp_path, photo_dir):
    cfg = tmp_path / "gan.toml"
    cfg.write_text('model = "gan"\n')
    with pytest.raises(AssertionError, match="disagrees"):
        run("-m", "train", "--model", "cnn", "--config", str(cfg), "--data", str(photo_dir), "--out", str(tmp_path))


def test_best_checkpoint_needs_the_colourfulness_floor(tmp_path, photo_dir):
    cfg = ColorizeConfig(model="cnn", best_min_cf_ratio=0.5, **SMALL)
    t = ColorizeTrainer(cfg, photo_dir, tmp_path)
    dull, vivid, vivid_better = ({"de00": d, "cf_ratio": c} for d, c in [(5.0, 0.1), (9.0, 0.6), (8.0, 0.7)])
    assert t.score(vivid) > t.score(dull)  # below the floor, a lower ΔE00 does not count
    assert t.score(vivid_better) > t.score(vivid)  # above it, ΔE00 decides
    assert t.score({"de00": 5.0, "cf_ratio": 0.3}) > t.score(dull)  # none qualifies: the more colourful


@pytest.mark.slow
def test_encoder_is_frozen_then_fine_tuned_and_the_gan_starts_from_the_cnn(tmp_path, photo_dir):
    cfg = ColorizeConfig(model="cnn", freeze_encoder_steps=2, ema_decay=0.0, **SMALL)
    t = ColorizeTrainer(cfg, photo_dir, tmp_path / "cnn")
    pretrained = EfficientNetLite("lite0", in_channels=1).load_pretrained().state_dict()
    assert all(torch.equal(v, t.model.encoder.state_dict()[k]) for k, v in pretrained.items())
    t.run(2)
    encoder = {k: v.clone() for k, v in t.model.encoder.state_dict().items()}
    assert all(torch.equal(v, encoder[k]) for k, v in pretrained.items())  # frozen: not even its BatchNorm
    t.run(3)
    changed = [k for k, v in t.model.encoder.state_dict().items() if not torch.equal(v, encoder[k])]
    assert changed and all(k.endswith((".weight", ".bias")) for k in changed)  # statistics stay frozen
    gan_cfg = ColorizeConfig(model="gan", init_from=str(tmp_path / "cnn" / "last.pt"), d_width=8, **SMALL)
    gan = ColorizeTrainer(gan_cfg, photo_dir, tmp_path / "gan")
    cnn_weights = load_checkpoint(tmp_path / "cnn" / "last.pt")["model"]
    assert all(torch.equal(v, cnn_weights[k]) for k, v in gan.model.state_dict().items())
    assert gan.train_step().keys() >= {"ce", "adv", "d"}  # adversarial from its first step


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cnn", "gan"])
def test_classification_colorizer_trains_and_exports(trained, kind):
    run_dir = trained[f"{kind}_run"]
    ck = load_checkpoint(run_dir / "last.pt")
    log_weights = ck["model"]["log_weights"]  # the rarity weights the cross-entropy used, kept for decoding
    assert torch.isfinite(log_weights).sum() > 1 and torch.isinf(log_weights).any()
    if kind == "gan":  # the adversarial phase ran: the discriminator saw decoded ab
        assert "adv" in (run_dir / "log.csv").read_text().splitlines()[0]
        assert not torch.equal(ck["ema"]["head.bias"], ck["model"]["head.bias"])
    model = colorizer.load(trained[kind])
    assert json.loads(model.meta["arch_args"])["widths"] == [48, 96, 128]  # the config's arch_args reach the file
    assert model.colorize(np.zeros((50, 70), np.uint8)).shape == (50, 70, 3)


@pytest.mark.slow
def test_export_folds_the_decoding_flags(trained):
    model = colorizer.load(trained["gan"])  # exported with DECODING_FLAGS and --render-size 96 (conftest.trained)
    assert model.render_size == 96 != load_checkpoint(trained["gan_run"] / "best.pt")["render_size"]
    args = json.loads(model.meta["arch_args"])
    assert {k: args[k] for k in DECODING} == DECODING
    assert model.colorize(np.zeros((40, 40), np.uint8)).max() == 0  # faded: no colour in pure black


@pytest.mark.slow
def test_tune_prints_the_best_decoding_as_export_flags(trained, photo_dir):
    # choosing the decoding: more gain, more colour; the pick is the flags for export
    tune = ["-m", "train.colorize.tune", str(trained["cnn_run"] / "best.pt"), "--data", str(photo_dir), "--limit", "6"]
    out = run(*tune, "--prior-correction", "0.5", "--chroma-gain", "0.5", "2", "--min-cf-ratio", "0",
              "--render-size", "96").stdout  # fmt: skip
    assert "render size 96" in out and "--render-size 96" in out
    rows = [ln.split() for ln in out.splitlines() if ln.split()[:1] == ["0.35"]]  # T of each setting
    assert len(rows) == 2 and float(rows[1][-1]) > float(rows[0][-1])
    assert "best with cf_ratio >= 0.0: --temperature 0.35 --prior-correction 0.5 --chroma-gain" in out


def test_log_keeps_an_older_header_and_migrates_when_needed(tmp_path):
    log, columns = tmp_path / "log.csv", ["step", "seconds", "ce", "adv", "d", "val_psnr"]
    log.write_text("step,seconds,l1,adv,d\r\n1,2,0.4,,\r\n")  # an older run's log, resumed
    log_row(log, columns, {"step": 2, "seconds": 3, "l1": 0.3, "adv": 1.0})  # fits the old header: appended
    assert log.read_text().splitlines()[2] == "2,3,0.3,1.0,"
    log_row(log, columns, {"step": 3, "seconds": 4, "ce": 2.0})  # needs a new column: rewritten, nothing lost
    lines = log.read_text().splitlines()
    assert lines[0] == ",".join([*columns, "l1"]) and lines[2] == "2,3,,1.0,,,0.3" and lines[3] == "3,4,2.0,,,,"


@pytest.mark.parametrize("path", sorted((ROOT / "train" / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_every_config_in_the_repository_loads(path):
    if path.stem.startswith("restore"):
        cfg = config_from_toml(RestoreConfig, path)  # unknown keys are an error
        assert cfg.arch == "RestoreUNet" and cfg.steps > 0
    elif path.stem.startswith("crack"):
        cfg = config_from_toml(CrackConfig, path)  # unknown keys are an error
        prints = {Path(p).stem for p in cfg.damage_prints}
        assert cfg.steps > 0 and not prints & {"bopbtl_a", "bopbtl_c"}  # the test prints stay out
    else:
        cfg = config_from_toml(ColorizeConfig, path)  # unknown keys or values are an error
        assert cfg.model == path.stem.split("_")[0]  # cnn*.toml train a CNN, gan*.toml a GAN
