"""The colorizers' training configuration (python -m train): RunConfig's shared fields with the colorizers'
defaults, and their own. Read from a TOML file with train.config.config_from_toml:

    config_from_toml(ColorizeConfig, "train/configs/cnn.toml", {"model": "cnn"}, steps=100)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from train.config import RunConfig

# Default architecture per model kind (the GAN's generator is the CNN); a config file may override both.
DEFAULT_ARCH = {
    "cnn": ("ColorCNN", {"encoder": "lite0"}),
    "gan": ("ColorCNN", {"encoder": "lite0"}),
}
LOWER_IS_BETTER = {"de00": True, "psnr": False, "cf_ratio": False}  # best_metric's direction


@dataclass
class ColorizeConfig(RunConfig):
    model: str = "cnn"  # cnn | gan
    arch: str = ""  # colorizer class name in train.colorize.model; empty: DEFAULT_ARCH[model]
    arch_args: dict = field(default_factory=dict)
    render_size: int = 256  # default inference render size stamped into the exported model
    # RunConfig's fields, with the colorizers' defaults
    lr: float = 2e-4
    betas: list = field(default_factory=lambda: [0.5, 0.999])
    val_images: int = 64
    # data
    crop_sizes: list = field(default_factory=lambda: [128, 160])  # px, one drawn per batch
    batch_pixels: int = 16 * 128 * 128  # batch size = batch_pixels // crop**2, so steps cost alike
    # optimisation
    weight_decay: float = 0.0
    rebalance: float = 0.5  # lambda of the rarity weights on the cross-entropy (0 = none), see losses
    # the pretrained encoder: frozen (no gradients) for this many steps, then trained at this ratio of the lr
    freeze_encoder_steps: int = 1000
    encoder_lr_ratio: float = 0.1
    # colour hints (a model with arch_args hint_width > 0; train.colorize.hints): the share of crops given none,
    # and the weight of the hinted crops' regression loss beside the cross-entropy
    p_no_hints: float = 0.5
    hint_weight: float = 1.0
    p_recolour: float = 0.0  # the share of crops with a surface recoloured and hinted (train.colorize.hints)
    hints_only: bool = False  # train the hint branch alone, on init_from's network kept as it is
    init_from: str = ""  # a checkpoint or exported ONNX file whose network starts the run (the GAN: the CNN)
    # GAN only: hinge loss against a spectrally normalised PatchGAN (train.colorize.model.PatchDiscriminator)
    pretrain_steps: int = 0  # generator-only steps before the adversarial phase ("NoGAN"; 0 with init_from)
    adv_weight: float = 1.0
    d_lr: float = 2e-4
    d_width: int = 64
    # best.pt: the best evaluation by best_metric, de00 (lower is better) | psnr | cf_ratio (higher is better).
    # It must also reach the validation cf_ratio best_min_cf_ratio: ΔE00 alone rewards the dull average colour.
    # Until one does, the most colourful evaluation is kept (see train.colorize.trainer.ColorizeTrainer.score).
    best_metric: str = "de00"
    best_min_cf_ratio: float = 0.0

    def __post_init__(self):
        if self.model not in DEFAULT_ARCH:
            raise ValueError(f"model must be one of {sorted(DEFAULT_ARCH)}, got {self.model!r}")
        if self.best_metric not in LOWER_IS_BETTER:
            raise ValueError(f"best_metric must be one of {sorted(LOWER_IS_BETTER)}, got {self.best_metric!r}")
        if not self.arch:
            self.arch, self.arch_args = DEFAULT_ARCH[self.model][0], dict(DEFAULT_ARCH[self.model][1])
