"""Two CPU processes under torchrun (gloo) train a few steps and end with identical weights. The GAN's run covers
the CNN's too: its first steps are the CNN's loss alone (pretrain_steps), then the discriminator trains beside it."""

import pytest

from helpers import TINY, free_port, run


@pytest.mark.slow
def test_two_process_ddp_ranks_agree(tmp_path, photo_dir):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    out = tmp_path / "run"
    torchrun = ["-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}"]
    run(*torchrun, "-m", "train", "--model", "gan", "--data", str(photo_dir), "--out", str(out), "--config", str(cfg))
    digests = [(out / f"rank{r}.sha256").read_text() for r in (0, 1)]
    assert digests[0] == digests[1] and len(digests[0].strip()) == 64
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    log = (out / "log.csv").read_text().splitlines()
    assert len(log) == 1 + len({ln.split(",")[0] for ln in log[1:]})  # rank 0 alone wrote the log
