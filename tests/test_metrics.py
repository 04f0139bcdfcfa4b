"""hue_hit: the share of clearly coloured pixels given the right hue, the mean over six hue sectors."""

import numpy as np
import pytest

from colorizer.color import gray_to_l, gray_to_rgb, lab_to_rgb, rgb_to_gray, rgb_to_lab
from train.colorize.metrics import (
    chroma_hue,
    foreign_change,
    foreign_hint,
    hue_counts,
    hue_hit,
    hue_hit_sectors,
    photo_figures,
    pool,
    pooled_hue_counts,
    protocol_hints,
)


def lab_photo(hue_deg: np.ndarray, chroma: np.ndarray, lightness: np.ndarray) -> np.ndarray:
    """RGB uint8 HxWx3 of the given Lab hue (degrees), C* and L*, each float HxW."""
    h = np.radians(hue_deg)
    return lab_to_rgb(lightness, np.stack([chroma * np.cos(h), chroma * np.sin(h)], axis=-1))


def rotated(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """The photo with its ab rotated by `degrees` around the neutral axis, chroma and lightness kept."""
    chroma, hue = chroma_hue(rgb)
    return lab_photo(hue + degrees, chroma, gray_to_l(rgb_to_gray(rgb)))


@pytest.fixture(scope="module")
def wheel() -> np.ndarray:
    """Every hue (columns, 0..359°), L* 55..65 and C* 25..30 (rows): well inside the sRGB gamut, so that
    rotations survive the round trip. Nine tenths of the columns are sector 0 (0..60°), to tell a mean over
    sectors from one over pixels."""
    hue = np.concatenate([np.linspace(0, 59.5, 2700), np.arange(60, 360, 1.0)])
    rows = np.linspace(0, 1, 8)[:, None]
    return lab_photo(np.broadcast_to(hue, (8, hue.size)), 25 + 5 * rows + 0 * hue, 55 + 10 * rows + 0 * hue)


def score(pred: np.ndarray, target: np.ndarray) -> float:
    return hue_hit(*hue_counts(pred, target))


def test_wheel_fills_all_six_sectors_inside_the_gamut(wheel):
    chroma, _ = chroma_hue(wheel)
    _, totals = hue_counts(wheel, wheel)
    assert chroma.min() > 23 and (totals > 0).all() and totals[0] > 0.85 * totals.sum()


def test_sectors_start_at_the_plus_a_axis():
    hue = np.array([[10.0, 70, 130, 190, 250, 310, 350, 59]])
    _, totals = hue_counts(np.zeros((1, 8, 3), np.uint8), lab_photo(hue, np.full((1, 8), 28.0), np.full((1, 8), 60.0)))
    assert totals.tolist() == [2, 1, 1, 1, 1, 2]


def test_gray_scores_zero(wheel):
    assert score(gray_to_rgb(rgb_to_gray(wheel)), wheel) == 0.0
    assert score(wheel, gray_to_rgb(rgb_to_gray(wheel))) == 0.0  # no coloured pixel in the truth: no sector


def test_the_truth_scores_one(wheel):
    assert score(wheel, wheel) == 1.0


def test_a_constant_tint_hits_one_sector_at_most(wheel):
    lum = gray_to_l(rgb_to_gray(wheel))
    tint = lab_photo(np.full(lum.shape, 30.0), np.full(lum.shape, 20.0), lum)  # the middle of sector 0
    assert 0.1 < score(tint, wheel) <= 1 / 3  # pixel-weighted it would be about 0.9


@pytest.mark.parametrize("degrees", [90, -90])
def test_a_hue_rotated_by_90_degrees_scores_zero(wheel, degrees):
    turned = rotated(wheel, degrees)
    assert chroma_hue(turned)[0].min() >= 20  # still clearly coloured: misses because of the hue alone
    assert score(turned, wheel) == 0.0
    assert score(rotated(wheel, degrees / 6), wheel) == 1.0  # within 30°: hits


def test_pooled_over_photos_not_a_mean_of_photos():
    def block(hue: float, n: int) -> np.ndarray:
        return lab_photo(np.full((1, n), hue), np.full((1, n), 28.0), np.full((1, n), 60.0))

    # Photo a: 10 pixels of sector 0, all right (alone: 1). Photo b: 90 pixels of sector 0, all wrong, and 100 of
    # sector 3, all right (alone: 0.5). Pooled: sector 0 10/100, sector 3 100/100, so 0.55, not (1 + 0.5) / 2.
    a = block(30, 10)
    b = np.concatenate([block(30, 90), block(210, 100)], axis=1)
    b_pred = np.concatenate([block(120, 90), block(210, 100)], axis=1)
    assert score(a, a) == 1.0 and score(b_pred, b) == 0.5
    figures = [photo_figures(a, a), photo_figures(b_pred, b)]
    assert pool(figures)["hue_hit"] == pytest.approx(0.55)
    assert hue_hit_sectors(*pooled_hue_counts(figures)) == [pytest.approx(0.1), None, None, 1.0, None, None]


def test_a_foreign_hint_turns_the_hue_and_finds_its_surface():
    hue, chroma, lightness = (np.full((60, 90), v, float) for v in (240.0, 40.0, 50.0))  # a blue field
    hue[:, :45], lightness[:, :45] = 30.0, 70.0  # a light orange left half
    rgb = lab_photo(hue, chroma, lightness)
    (x, y, colour), surface = foreign_hint(rgb, "photo.jpg")
    assert (x, y) == protocol_hints(rgb, "photo.jpg", 1)[0][:2]
    left = np.zeros((60, 90), bool)
    left[:, :45] = True
    assert np.array_equal(surface, left if x < 45 else ~left)
    a, b = rgb_to_lab(np.array([[colour]], np.uint8))[0, 0, 1:]
    turn = (np.degrees(np.arctan2(b, a)) - hue[y, x]) % 360
    assert abs(turn - 180) < 10  # the opposite hue
    hinted = rgb.copy()
    hinted[surface] = colour  # a hint that recoloured exactly its surface
    on, outside = foreign_change(rgb, hinted, surface)
    assert on > 30 and outside == 0
    hinted[:, :] = colour  # one that ran everywhere
    assert foreign_change(rgb, hinted, surface)[1] > 10
