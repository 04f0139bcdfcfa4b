"""The pretrained EfficientNet-Lite encoder: its ImageNet weights arrive intact, and the colorizer feeds it what
it was trained on (gray copied to RGB, as (x - 127) / 128)."""

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from colorizer.color import gray_to_l, rgb_to_gray
from train.colorize.efficientnet import EfficientNetLite, fold_batchnorms
from train.colorize.model import ColorCNN, l_to_encoder_input

CATS = set(range(281, 286))  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {967, 968, 504}  # espresso, cup, coffee mug


def centre_224(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 HxWx3 -> the 224x224 centre of the photo resized to a 224 px short side, RGB uint8."""
    im = Image.fromarray(rgb)
    s = 224 / min(im.size)
    a = np.asarray(im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.BICUBIC))
    y, x = (a.shape[0] - 224) // 2, (a.shape[1] - 224) // 2
    return a[y : y + 224, x : x + 224]


def scaled(rgb: np.ndarray) -> torch.Tensor:
    """RGB uint8 HxWx3 -> [1,3,H,W] float32 as the weights expect: (x - 127) / 128."""
    return (torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None] - 127.0) / 128.0


@pytest.fixture(scope="module")
def classifier() -> EfficientNetLite:
    return EfficientNetLite("lite0", classifier=True).load_pretrained().eval()


@pytest.mark.parametrize("gray", [False, True], ids=["colour", "gray"])
@pytest.mark.parametrize(("photo", "classes"), [("chelsea", CATS), ("coffee", COFFEE)])
def test_pretrained_lite0_classifies_the_sample_photos(classifier, photo, classes, gray):
    rgb = centre_224(getattr(skdata, photo)())
    if gray:
        rgb = np.repeat(rgb_to_gray(rgb)[..., None], 3, -1)
    with torch.no_grad():
        top1 = int(classifier(scaled(rgb)).argmax())
    assert top1 in classes


def test_gray_stem_is_the_rgb_stem_on_gray_copied_to_rgb(classifier):
    gray = rgb_to_gray(centre_224(skdata.astronaut()))
    encoder = EfficientNetLite("lite0", in_channels=1).load_pretrained().eval()
    with torch.no_grad():
        ours = encoder.features(scaled(gray[..., None]))
        theirs = classifier.features(scaled(np.repeat(gray[..., None], 3, -1)))
    assert [f.shape[1] for f in ours] == [24, 40, 112, 320]
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, atol=1e-4)


def test_encoder_input_is_the_8_bit_gray_the_luminance_came_from():
    levels = np.arange(256, dtype=np.uint8)
    back = l_to_encoder_input(torch.from_numpy(gray_to_l(levels)))
    assert torch.allclose(back * 128 + 127, torch.from_numpy(levels.astype(np.float32)), atol=0.02)


def test_folding_batchnorm_keeps_the_output():
    torch.manual_seed(0)
    net = ColorCNN(widths=(8, 8, 8)).eval()
    net.encoder.load_pretrained()
    for m in net.modules():  # non-trivial statistics in the decoder's BatchNorms too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    lum = torch.rand(1, 1, 64, 96) * 100
    with torch.no_grad():
        before = net(lum)
        fold_batchnorms(net)
        after = net(lum)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert (before - after).abs().max() < 0.01  # Lab units: float rounding only
