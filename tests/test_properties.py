"""Property-based tests (hypothesis): the colour math, and the pipeline's shape and dtype guarantees.

Random sizes, layouts and values; scikit-image's conversions are the reference for the colour math, and
the shipped CNN (a real ONNX Runtime session) runs the whole pipeline. Examples are few and small so that
the file stays well under a minute on a loaded 2-core machine; no example database is written.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage import color as skcolor
from skimage.color import deltaE_ciede2000

import colorizer
from colorizer.color import (
    composite_over_white,
    gray_to_l,
    gray_to_rgb,
    lab_to_rgb,
    linear_to_srgb,
    rgb_to_gray,
    rgb_to_lab,
    srgb_to_linear,
    to_8bit,
)
from colorizer.merge import MAX_DE00, merge
from colorizer.pipeline import colorize_array, model_input, render_dims, to_gray, upsample_ab

FAST = settings(max_examples=40, deadline=None, database=None)
SLOW = settings(max_examples=15, deadline=None, database=None)  # for examples that run a network

sides = st.integers(1, 48)
shapes = st.tuples(sides, sides)


def images(dtype=np.uint8, channels=(None, 1, 3, 4)) -> st.SearchStrategy:
    """uint8 / uint16 photo arrays of any layout the pipeline accepts: HxW, HxWx1, HxWx3, HxWx4."""
    return st.tuples(shapes, st.sampled_from(channels)).flatmap(
        lambda sc: arrays(dtype, sc[0] if sc[1] is None else (*sc[0], sc[1]))
    )


# --- colour math -----------------------------------------------------------------------------------------


@FAST
@given(arrays(np.uint8, st.tuples(sides, sides, st.just(3))))
def test_rgb_lab_round_trip_within_one_level(rgb):
    lab = rgb_to_lab(rgb)
    assert lab.dtype == np.float32 and lab.shape == rgb.shape
    back = lab_to_rgb(lab[..., 0], lab[..., 1:])
    assert back.dtype == np.uint8 and np.abs(back.astype(int) - rgb).max() <= 1


@FAST
@given(arrays(np.uint8, st.tuples(sides, sides, st.just(3))))
def test_rgb_to_lab_matches_skimage(rgb):
    np.testing.assert_allclose(rgb_to_lab(rgb), skcolor.rgb2lab(rgb), atol=2e-3)


lab_values = st.tuples(st.floats(0, 100), st.floats(-128, 127), st.floats(-128, 127))


@pytest.mark.filterwarnings("ignore:Conversion from CIE-LAB")  # skimage reports its own clipping
@FAST
@given(st.lists(lab_values, min_size=1, max_size=64))
def test_lab_to_rgb_matches_skimage_including_out_of_gamut(values):
    lab = np.array(values, np.float32)[None]  # 1xNx3
    ours = lab_to_rgb(lab[..., 0], lab[..., 1:]).astype(int)
    ref = np.rint(np.clip(skcolor.lab2rgb(lab.astype(np.float64)), 0, 1) * 255).astype(int)
    assert np.abs(ours - ref).max() <= 1


@FAST
@given(arrays(np.uint8, shapes))
def test_gray_to_l_is_exact_against_skimage(gray):
    lum = gray_to_l(gray)
    assert lum.dtype == np.float32 and lum.shape == gray.shape
    np.testing.assert_allclose(lum, skcolor.rgb2lab(gray_to_rgb(gray))[..., 0], atol=1e-3)


@FAST
@given(st.integers(0, 255), st.integers(0, 255))
def test_gray_to_l_is_strictly_monotonic(a, b):
    la, lb = gray_to_l(np.array([a, b], np.uint8))
    assert (la < lb) == (a < b) and (la == lb) == (a == b)
    assert 0.0 <= la <= 100.0 + 1e-4


@FAST
@given(arrays(np.uint8, st.tuples(sides, sides, st.just(3))))
def test_luma_is_itu_601_and_neutral_grays_keep_their_level(rgb):
    c = rgb.astype(np.uint32)
    expected = (c[..., 0] * 19595 + c[..., 1] * 38470 + c[..., 2] * 7471 + 0x8000) >> 16
    assert np.array_equal(rgb_to_gray(rgb), expected)
    assert np.array_equal(rgb_to_gray(gray_to_rgb(rgb[..., 0])), rgb[..., 0])


@FAST
@given(arrays(np.float32, st.integers(1, 64), elements=st.floats(0, 1, width=32)))
def test_srgb_transfer_round_trip(x):
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5)


@FAST
@given(arrays(np.uint8, shapes))
def test_to_8bit_inverts_the_16_bit_widening(gray):
    assert np.array_equal(to_8bit(gray.astype(np.uint16) * 257), gray)


@FAST
@given(arrays(np.uint8, st.tuples(sides, sides, st.just(4))))
def test_transparency_composites_over_white(rgba):
    out = composite_over_white(rgba).astype(int)
    rgb, alpha = rgba[..., :3].astype(int), rgba[..., 3:].astype(int)
    assert out.shape == rgb.shape
    assert (out >= np.minimum(rgb, 255) - 1).all()  # only ever lightened, towards white
    assert np.array_equal(out[alpha[..., 0] == 255], rgb[alpha[..., 0] == 255])  # opaque: unchanged
    assert (out[alpha[..., 0] == 0] == 255).all()  # transparent: white


# --- pipeline and merge ---------------------------------------------------------------------------------


@FAST
@given(st.one_of(images(np.uint8), images(np.uint16)))
def test_to_gray_gives_uint8_hxw_for_every_layout(image):
    gray = to_gray(image)
    assert gray.dtype == np.uint8 and gray.shape == image.shape[:2]


@FAST
@given(images(np.uint8, channels=(3, 4)))
def test_to_gray_ignores_16_bit_widening_and_opaque_alpha(image):
    assert np.array_equal(to_gray(image.astype(np.uint16) * 257), to_gray(image))
    if image.shape[2] == 4:
        opaque = image.copy()
        opaque[..., 3] = 255
        assert np.array_equal(to_gray(opaque), to_gray(opaque[..., :3]))


@FAST
@given(st.sampled_from([np.float32, np.float64, np.int16, np.int32, bool]), shapes)
def test_to_gray_refuses_other_dtypes(dtype, shape):
    with pytest.raises(TypeError):
        to_gray(np.zeros(shape, dtype))


@FAST
@given(st.integers(1, 20_000), st.integers(1, 20_000), st.integers(16, 1024))
def test_render_dims_keep_the_aspect_ratio(h, w, size):
    rh, rw = render_dims(h, w, size)
    assert max(rh, rw) == size and min(rh, rw) >= 1
    assert abs(rh - h * size / max(h, w)) <= 0.5 + 1e-9 or rh == 1
    assert abs(rw - w * size / max(h, w)) <= 0.5 + 1e-9 or rw == 1


@FAST
@given(arrays(np.uint8, shapes), st.integers(16, 300), st.sampled_from([1, 8, 16, 32]))
def test_model_input_is_padded_to_the_multiple(gray, size, multiple):
    lum, (h, w) = model_input(gray, size, multiple)
    assert lum.dtype == np.float32 and lum.shape[:2] == (1, 1)
    assert (h, w) == render_dims(*gray.shape, size)
    ph, pw = lum.shape[2:]
    assert ph % multiple == 0 and pw % multiple == 0 and 0 <= ph - h < multiple and 0 <= pw - w < multiple
    assert lum.min() >= 0.0 and lum.max() <= 100.0 + 1e-4


def ab_planes(limit: float = 127.0) -> st.SearchStrategy:
    """ab float32 [2,h,w] with values in -limit..limit (Lab units)."""
    return st.tuples(st.integers(1, 24), st.integers(1, 24)).flatmap(
        lambda s: arrays(np.float32, (2, *s), elements=st.floats(-limit, limit, width=32))
    )


@FAST
@given(ab_planes(160.0), shapes)
def test_upsample_ab_stays_within_the_input_range(ab, shape):
    up = upsample_ab(ab, *shape)
    assert up.dtype == np.float32 and up.shape == (*shape, 2)
    for k in range(2):
        low, high = np.clip([ab[k].min(), ab[k].max()], -128, 128)
        assert up[..., k].min() >= low - 1e-3 and up[..., k].max() <= high + 1e-3


# Beyond the table's domain too: merge clamps ab after scaling and upsampling, as the float reference does, so
# colour boosted past -128..127 (up to 3 x 160) meeting a weaker one blends the same way.
@FAST
@given(arrays(np.uint8, shapes), ab_planes(160.0), st.sampled_from([1.0, 0.5, 2.0, 3.0]))
def test_merge_is_faithful_to_the_float_reference(gray, ab, saturation):
    fast = merge(gray, ab, saturation)
    assert fast.dtype == np.uint8 and fast.shape == (*gray.shape, 3)
    ref = lab_to_rgb(gray_to_l(gray), upsample_ab(ab * saturation, *gray.shape))
    assert deltaE_ciede2000(rgb_to_lab(ref), rgb_to_lab(fast)).max() <= MAX_DE00


@FAST
@given(arrays(np.uint8, shapes), ab_planes(160.0))
def test_no_colour_keeps_the_photo_gray_and_its_luma(gray, ab):
    out = merge(gray, ab, saturation=0.0).astype(int)
    assert np.abs(out - out[..., :1]).max() <= 1  # R = G = B, to a level
    assert np.abs(rgb_to_gray(out.astype(np.uint8)).astype(int) - gray).max() <= 1


@pytest.fixture(scope="module")
def cnn() -> colorizer.Model:
    return colorizer.load("cnn")


@SLOW
@given(st.one_of(images(np.uint8), images(np.uint16)), st.integers(16, 320))
def test_a_real_model_gives_rgb_uint8_of_the_input_size(cnn, image, render_size):
    out = cnn.colorize(image, render_size=render_size)
    assert out.dtype == np.uint8 and out.shape == (*image.shape[:2], 3) and out.flags.c_contiguous
    gray = cnn.colorize(image, render_size=render_size, saturation=0.0)  # only the colour is predicted:
    assert np.abs(rgb_to_gray(gray).astype(int) - to_gray(image)).max() <= 1  # without it, the photo's luma


@FAST
@given(images(np.uint8), st.integers(16, 200), st.sampled_from([1, 8, 32]))
def test_any_predictor_of_the_right_shape_gives_the_input_size(image, render_size, multiple):
    seen = []

    def predict(lum: np.ndarray) -> np.ndarray:
        seen.append(lum.shape)
        return np.full((1, 2, *lum.shape[2:]), 20.0, np.float32)

    out = colorize_array(predict, image, render_size, multiple)
    assert out.dtype == np.uint8 and out.shape == (*image.shape[:2], 3)
    assert len(seen) == 1 and seen[0][2] % multiple == 0 and seen[0][3] % multiple == 0
