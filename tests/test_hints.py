"""Colour hints (colorizer.hints): what is refused and why, the map a network reads, the non-learned spread, and
the library running a colorizer/2 model with hints (a hand-built file that paints what it is told)."""

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import colorizer
from colorizer.color import rgb_to_lab
from colorizer.hints import MAX_HINTS, HintError, check_hints, hint_map, hints_json, parse_hints, render_positions
from colorizer.model import CONTRACT, HINTS_CONTRACT
from train.colorize.metrics import spread


@pytest.mark.parametrize(
    ("hints", "message"),
    [
        ([(0, 0, (1, 2, 3))] * (MAX_HINTS + 1), "at most 64"),
        ([(5, 5, (1, 2, 3)), (80, 5, (1, 2, 3))], r"hint 1: \(80, 5\) is outside the 80x60 photo"),
        ([(5, -1, (1, 2, 3))], "hint 0: .* outside"),
        ([(5, 5, (256, 0, 0))], r"hint 0: the colour must be \(r, g, b\)"),
        ([(5, 5, (0.5, 0, 0))], "hint 0: the colour"),
        ([(5, 5, (0, 0))], "hint 0: the colour"),
        ([(5, 5, "#ff0000")], "hint 0: the colour"),
        ([(5, float("nan"), (0, 0, 0))], "hint 0: x and y must be numbers"),
        ([(5, 5)], r"hint 0: expected \(x, y, \(r, g, b\)\)"),
    ],
)
def test_bad_hints_are_refused_naming_the_hint(hints, message):
    with pytest.raises(ValueError, match=message):
        check_hints(hints, 60, 80)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ('[{"x": 1,', "the hints are not JSON"),
        ({"x": 1, "y": 2, "color": "#000000"}, "the hints must be a list like .*, got dict"),
        ([{"x": 1, "y": 2, "color": "#000000"}, 7], r"hint 1: expected \{"),
        ([{"x": 1, "y": 2}], "hint 0: no 'color' in"),
        ([{"x": 1, "y": 2, "color": "#000000", "colour": "#000000"}], "hint 0: unknown key.*'colour'"),
        ([{"x": "1", "y": 2, "color": "#000000"}], "hint 0: x and y must be numbers"),
        ([{"x": 1, "y": True, "color": "#000000"}], "hint 0: x and y must be numbers"),
        ([{"x": 1, "y": 2, "color": "blue"}], 'hint 0: the color must be "#rrggbb"'),
        ([{"x": 1, "y": 2, "color": "#12345"}], 'hint 0: the color must be "#rrggbb"'),
        ([{"x": 1, "y": 2, "color": "#000000"}] * (MAX_HINTS + 1), "65 hints: at most 64"),
    ],
)
def test_json_hints_are_refused_naming_what_is_wrong(data, message):
    with pytest.raises(HintError, match=message):
        parse_hints(data)


def test_json_hints_read_as_the_library_takes_them_and_back():
    text = '[{"x": 12, "y": 3.5, "color": "#FF8000"}, {"x": 0, "y": 0, "color": "#0000ff"}]'
    hints = parse_hints(text)
    assert hints == [(12, 3.5, (255, 128, 0)), (0, 0, (0, 0, 255))]
    assert parse_hints(hints_json(hints)) == hints and parse_hints(None) == parse_hints("") == parse_hints([]) == []
    assert len(check_hints(hints, 10, 20)) == 2  # in the library's form: checked against the photo as any hint


def test_the_map_marks_a_square_per_hint_with_the_colours_chroma_and_the_later_hint_wins():
    red, blue = (200, 30, 30), (30, 30, 200)
    m = hint_map([(40, 30, red), (41, 30, blue), (0, 0, red)], 60, 80, (30, 40))
    assert m.shape == (3, 30, 40) and m.dtype == np.float32
    blue_ab = rgb_to_lab(np.array([[blue]], np.uint8))[0, 0, 1:]
    assert np.allclose(m[:2, 14:17, 19:22], blue_ab[:, None, None])  # (41, 30) at half size: cell (15, 20)
    assert m[2].sum() == 9 + 4  # two overlapping 3x3 squares, the corner's cut to 2x2
    assert m[2, 15, 20] == 1 and m[2, 15, 23] == 0 and m[2, 0, 0] == m[2, 1, 1] == 1
    assert not hint_map([], 60, 80, (30, 40)).any()  # no hints: all zeros, the automatic result


def test_the_spread_reaches_the_hint_stays_on_its_surface_and_never_overshoots():
    ab = np.zeros((2, 40, 60), np.float32)
    lum = np.full((40, 60), 30.0, np.float32)
    lum[:, 30:] = 80.0  # a dark left half and a light right half
    one = render_positions([(10, 20, (200, 30, 30))], 40, 60, (40, 60))
    target = one[0][2]
    out = spread(ab, lum, one)
    assert np.allclose(out[:, 20, 10], target, atol=1e-4)  # the hinted cell gets the hint's colour
    assert np.abs(out[:, 20, 25]).max() > 0.5 * np.abs(target).max()  # spread over its own surface
    assert np.abs(out[:, 20, 35]).max() < 1e-3 * np.abs(target).max()  # not across the edge in L*
    twice = spread(ab, lum, one * 2)  # the same hint twice: never past the hint's colour, anywhere
    assert np.allclose(twice[:, 20, 10], target, atol=1e-4)
    assert (np.abs(twice) <= np.abs(target)[:, None, None] + 1e-4).all()
    assert spread(ab, lum, []) is ab


def hints_model(path: Path, takes_hints: bool = True) -> Path:
    """A colorizer/2 file whose ab is the hint map's a*, b* (plus 0 x L): what follows its hints exactly; or, with
    takes_hints=False, a colorizer/1 file named 'plain' whose ab is 0 x L (no colour)."""
    lum = helper.make_tensor_value_info("L", TensorProto.FLOAT, ["N", 1, "H", "W"])
    hints = helper.make_tensor_value_info("hints", TensorProto.FLOAT, ["N", 3, "H", "W"])
    ab = helper.make_tensor_value_info("ab", TensorProto.FLOAT, ["N", 2, "H", "W"])
    consts = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("s", [0]), ("e", [2]), ("ax", [1]))]
    consts.append(numpy_helper.from_array(np.zeros(1, np.float32), "zero"))
    if takes_hints:
        nodes = [helper.make_node("Slice", ["hints", "s", "e", "ax"], ["hint_ab"]),
                 helper.make_node("Mul", ["L", "zero"], ["nothing"]),
                 helper.make_node("Add", ["hint_ab", "nothing"], ["ab"])]  # fmt: skip
        inputs, contract, kind = [lum, hints], HINTS_CONTRACT, "cnn"
    else:
        nodes = [helper.make_node("Mul", ["L", "zero"], ["nothing"]),
                 helper.make_node("Concat", ["nothing", "nothing"], ["ab"], axis=1)]  # fmt: skip
        inputs, contract, kind = [lum], CONTRACT, "gan"
    graph = helper.make_graph(nodes, "follow_hints", inputs, [ab], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    meta = {"contract": contract, "kind": kind, "render_size": "64", "size_multiple": "8", "version": "t"}
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, path)
    return path


def test_a_colorizer_2_model_follows_hints_keeping_the_photos_luminance(tmp_path):
    model = colorizer.load(hints_model(tmp_path / "hints.onnx"))
    assert model.takes_hints and model.contract == HINTS_CONTRACT
    gray = np.full((90, 120), 150, np.uint8)
    plain = model.colorize(gray)  # no hints: all zeros in, no colour out
    assert np.abs(plain.astype(int) - 150).max() <= 1
    out = model.colorize(gray, hints=[(30, 45, (20, 40, 110))])  # a dark blue, in gamut at the photo's lightness
    lab = rgb_to_lab(out[45:46, 30:31])[0, 0]
    assert lab[2] < -20 and abs(lab[0] - rgb_to_lab(plain[45:46, 30:31])[0, 0, 0]) < 1  # blue, the photo's L*
    assert np.abs(out[5, 110].astype(int) - 150).max() <= 1  # far from the hint: untouched
    with pytest.raises(ValueError, match=r"hint 0: .* outside the 120x90 photo"):
        model.colorize(gray, hints=[(120, 0, (0, 0, 0))])


def test_hints_for_a_colorizer_1_model_are_refused_naming_its_file(tmp_path):
    plain = colorizer.load(hints_model(tmp_path / "plain.onnx", takes_hints=False))
    follower = colorizer.load(hints_model(tmp_path / "hints.onnx"))
    gray, hint = np.full((40, 50), 100, np.uint8), [(10, 10, (200, 0, 0))]
    with pytest.raises(ValueError, match=r"plain\.onnx: a colorizer/1 model takes no colour hints"):
        plain.colorize(gray, hints=hint)
    with pytest.raises(ValueError, match=r"plain\.onnx: a colorizer/1 model takes no colour hints"):
        colorizer.compare([follower, plain], gray, hints=hint)
    both = colorizer.compare([follower, plain], gray)  # without hints both run as before
    assert set(both.ab) == {"plain", "hints"}


def test_new_hints_reuse_the_restored_photo(tmp_path):
    follower = colorizer.load(hints_model(tmp_path / "hints.onnx"))

    class Brighten:  # a restorer that counts its calls
        calls = 0

        def restore(self, gray: np.ndarray) -> np.ndarray:
            Brighten.calls += 1
            return np.minimum(gray.astype(int) + 40, 255).astype(np.uint8)

    gray = np.full((60, 80), 100, np.uint8)
    first = colorizer.compare([follower], gray, restore=Brighten())
    again = colorizer.compare([follower], first.photo, hints=[(40, 30, (30, 60, 160))])
    assert Brighten.calls == 1 and again.photo is first.photo and "restore" not in again.seconds
    assert again.rgb("hints")[30, 40, 2] > again.rgb("hints")[30, 40, 0] + 30  # blue at the hint
    assert np.abs(again.rgb("hints")[5, 75].astype(int) - 140).max() <= 1  # the restored luminance, no colour
    with pytest.raises(ValueError, match="used as it is"):
        colorizer.compare([follower], first.photo, restore=Brighten())
