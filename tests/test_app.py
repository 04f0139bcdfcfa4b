"""The Gradio app launched as users launch it (python demo/app.py) and called with gradio_client (slow: they
share one server, started once), and its request handling called in this process."""

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.hints import hints_json
from helpers import ROOT, ab_distance, cracked_camera, synthetic_photo

BLUE, GREEN = (0, 0, 255), (0, 200, 0)
SPOTS = [(60, 40, BLUE), (200, 120, GREEN)]  # (x, y, colour) inside the 263x181 `photo`


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def path_of(item) -> str:
    return item["path"] if isinstance(item, dict) else item


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "family photo.jpg"
    Image.fromarray(synthetic_photo(np.random.default_rng(5), 181, 263)).convert("L").save(path)
    return path


@pytest.mark.slow
def test_colorize_returns_both_results_at_input_size(client, photo):
    from gradio_client import handle_file

    cnn, gan, versus, blend, info, files = client.predict(handle_file(str(photo)), api_name="/colorize")
    for pair in (cnn, gan, versus):
        before, after = (Image.open(path_of(p)) for p in pair)
        assert before.size == after.size == (263, 181)
    assert Image.open(path_of(blend)).size == (263, 181)
    assert "CNN" in info and "GAN" in info and "ms" in info and "CPU" in info
    names = sorted(re.sub(r".*/", "", path_of(f)) for f in files)
    assert names == ["family_photo_blend.png", "family_photo_cnn.png", "family_photo_gan.png"]  # no zip: see below
    with Image.open(path_of(gan[1])) as im:
        assert "GAN" in im.info["Description"] and "guess" in im.info["Description"]
    cnn_rgb, gan_rgb = (np.asarray(Image.open(path_of(p[1]))).astype(int) for p in (cnn, gan))
    assert np.abs(cnn_rgb - gan_rgb).mean() > 0.5  # two different models


@pytest.mark.slow
def test_controls_rerender_from_the_cache(client, photo):
    from gradio_client import handle_file

    first = client.predict(handle_file(str(photo)), 256, 1.0, 0.0, 0.5, False, api_name="/colorize")
    gray = client.predict(handle_file(str(photo)), 256, 0.0, 0.0, 0.0, True, api_name="/colorize")
    assert first[4].split("·")[2:4] == gray[4].split("·")[2:4]  # same inference times: predictions reused
    rgb = np.asarray(Image.open(path_of(gray[3]))).astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() < 1.0  # colour boost 0: gray (but for the mark)


@pytest.mark.slow
def test_colorize_takes_hints_as_its_last_input_and_names_a_bad_one(client, photo):
    from gradio_client import handle_file

    plain = client.predict(handle_file(str(photo)), api_name="/colorize")
    hinted = client.predict(handle_file(str(photo)), hints=hints_json(SPOTS), api_name="/colorize")
    assert len(hinted) == 6  # the outputs and their order as without hints
    for i in (0, 1):  # the CNN's and the GAN's results
        before, after = (np.asarray(Image.open(path_of(out[i][1]))) for out in (plain, hinted))
        for x, y, colour in SPOTS:
            assert ab_distance(after, x, y, colour) < ab_distance(before, x, y, colour) - 5, (i, x, y)
    with Image.open(path_of(hinted[1][1])) as im:
        assert im.info["Description"].endswith("; colour hints: 2")
    controls = (256, 0.5, 0.0, 0.5, False, False, False, False)  # positional, the hints last; colour boost 0.5
    again = client.predict(handle_file(str(photo)), *controls, hints_json(SPOTS), api_name="/colorize")
    assert again[4].split("·")[2:4] == hinted[4].split("·")[2:4]  # the hinted predictions, from the cache
    bad = [*hints_json(SPOTS), {"x": 5, "y": 5, "color": "blue"}]
    with pytest.raises(Exception, match=r'hints: hint 2: the color must be "#rrggbb" \(hex sRGB\), got \'blue\''):
        client.predict(handle_file(str(photo)), hints=bad, api_name="/colorize")
    with pytest.raises(Exception, match=r"hints: hint 0: \(263, 5\) is outside the 263x181 photo"):
        client.predict(handle_file(str(photo)), hints=[{"x": 263, "y": 5, "color": "#0000ff"}], api_name="/colorize")


@pytest.mark.slow
def test_mcp_lists_the_tools_and_how_to_pass_hints(app_url):
    import asyncio

    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def list_tools() -> list:
        async with (
            streamablehttp_client(f"{app_url}gradio_api/mcp/") as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return (await session.list_tools()).tools

    tools = {t.name: t for t in asyncio.run(list_tools())}
    assert {"colorize", "restoration", "colorize_batch"} <= set(tools)
    schema = tools["colorize"].inputSchema
    hints = schema["properties"]["hints"]
    assert hints["type"] == "array" and hints["items"]["required"] == ["x", "y", "color"]
    how = hints["description"]
    assert '{"x": 120, "y": 80, "color": "#3366cc"}' in how and "full-resolution pixels" in how
    assert "hints" not in schema.get("required", [])  # default: none


@pytest.mark.slow
def test_colorize_batch_reports_the_corrupt_file(client, tmp_path):
    from gradio_client import handle_file

    files = [tmp_path / "a.png", tmp_path / "broken.jpg", tmp_path / "c.jpg"]
    Image.fromarray(synthetic_photo(np.random.default_rng(1), 90, 120)).save(files[0])
    files[1].write_bytes(b"not a jpeg at all")
    Image.fromarray(synthetic_photo(np.random.default_rng(2), 100, 70)).convert("L").save(files[2])
    gallery, archive, report = client.predict([handle_file(str(f)) for f in files], "GAN",
                                              api_name="/colorize_batch")  # fmt: skip
    captions = [g["caption"] for g in gallery]
    assert captions == ["a.png · GAN", "broken.jpg: not colorized", "c.jpg · GAN"]
    assert Image.open(path_of(gallery[2]["image"])).size == (70, 100)
    assert "2 of 3 photos colorized" in report and "broken.jpg" in report
    assert path_of(archive).endswith(".zip")


@pytest.mark.slow
def test_the_apps_pixel_limit_is_lower_than_the_librarys(client, tmp_path):
    """A 64-megapixel bomb: the library (200 MP) would decode it, the app (50 MP) refuses it unread."""
    from corpus import gray_png
    from gradio_client import handle_file

    import colorizer

    path = tmp_path / "bomb 8000x8000.png"
    path.write_bytes(gray_png(8000, 8000))  # ~60 KB
    assert colorizer.imageio.LIMITS.max_pixels >= 64_000_000
    with pytest.raises(Exception, match=r"bomb 8000x8000\.png: 8000x8000 px is 64 megapixels; the limit is 50 "):
        client.predict(handle_file(str(path)), api_name="/colorize")


@pytest.mark.slow
def test_oversized_file_is_refused(client, tmp_path):
    from gradio_client import handle_file

    path = tmp_path / "huge.png"
    path.write_bytes(np.random.default_rng(0).bytes(26 * 2**20))  # over the app's 25 MB
    with pytest.raises(Exception, match=r"(?i)(25 ?MB|too large|exceeds|limit)"):
        client.predict(handle_file(str(path)), api_name="/colorize")


@pytest.mark.slow
def test_readme_client_snippet_runs(app_url, photo, tmp_path):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"<!-- client-snippet -->\n```python\n(.*?)```", readme, re.S).group(1)
    code = code.replace("http://127.0.0.1:7860/", app_url).replace("old_photo.jpg", str(photo))
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # the README's own words, run against the live app
    assert Image.open(scope["gan"][1]).size == (263, 181)
    with Image.open(scope["gan"][1]) as im:  # its last call gives two hints
        assert im.info["Description"].endswith("; colour hints: 2")


@pytest.fixture(scope="module")
def handlers():
    """The app's request handling in this process, on the shipped models."""
    from demo.handlers import Handlers

    return Handlers.load()


def test_page_shows_previews_api_and_downloads_stay_full_resolution(handlers, tmp_path, monkeypatch):
    from gradio.utils import get_upload_folder

    side = 160
    monkeypatch.setattr("demo.files.PREVIEW_SIDE", side)  # the page's long side (1600 px by default)
    path = tmp_path / "large.jpg"
    Image.fromarray(synthetic_photo(np.random.default_rng(3), 300, 400)).convert("L").save(path)
    page, api = handlers.colorize_page(str(path)), handlers.colorize(str(path))
    for shown in (*page[0], *page[1], *page[2], page[3]):
        assert Image.open(shown).size == (side, side * 3 // 4)
    for shown in (*api[0], *api[1], *api[2], api[3]):
        assert Image.open(shown).size == (400, 300)
    for files in (page[5], api[5]):
        assert [Image.open(f).size for f in files[:3]] == [(400, 300)] * 3
        assert all(Path(f).is_relative_to(get_upload_folder()) for f in files)  # served as written: no copies
    # the page adds a zip of its PNGs; the API does not (its client downloads every PNG anyway)
    assert len(page[5]) == len(api[5]) + 1 and page[5][-1].endswith(".zip") and not api[5][-1].endswith(".zip")
    assert _zip_names(page[5][-1]) == [Path(f).name for f in page[5][:-1]]
    full, preview = np.asarray(Image.open(api[1][1])), np.asarray(Image.open(page[1][1]))
    small = np.asarray(Image.fromarray(full).resize(preview.shape[1::-1], Image.Resampling.BILINEAR, reducing_gap=2.0))
    assert np.abs(small.astype(int) - preview).max() <= 1  # the preview is the full result, downscaled


@pytest.fixture
def scratched(tmp_path):
    """(path of a damaged copy of scikit-image's camera photo, the clean luminance): grain, dust, scratches."""
    from skimage import data

    from train.restore.degrade import Damage, apply_damage

    clean = data.camera()[:320, :448]
    damaged = apply_damage(clean, Damage(grain=10, dust=30, scratches=4), np.random.default_rng(2))
    path = tmp_path / "scratched.png"
    Image.fromarray(damaged).save(path)
    return path, clean


@pytest.mark.slow
def test_restore_in_the_app_repairs_and_is_cached_apart(client, scratched):
    from gradio_client import handle_file

    from train.colorize.metrics import psnr

    path, clean = scratched
    plain = client.predict(handle_file(str(path)), api_name="/colorize")
    fixed = client.predict(handle_file(str(path)), 256, 1.0, 0.0, 0.5, False, True, api_name="/colorize")
    assert "restored" not in plain[4] and "restored" in fixed[4]  # the restore setting is part of the cache key
    share = float(re.search(r"\(([\d.]+) % of the pixels changed\)", fixed[4]).group(1))
    assert 10 < share < 100  # grain on every pixel: most of them are repaired (the shipped model: 74 %)
    names = sorted(re.sub(r".*/", "", path_of(f)) for f in fixed[5])
    assert "scratched_restored.png" in names
    (before, after), own, note = client.predict(handle_file(str(path)), api_name="/restoration")
    before, after = (np.asarray(Image.open(path_of(p))) for p in (before, after))
    assert before.shape == after.shape == clean.shape and own is None and "No colour of its own" in note
    assert psnr(after, clean) > psnr(before, clean) + 0.5
    again = client.predict(handle_file(str(path)), 256, 1.0, 0.0, 0.5, False, True, api_name="/colorize")
    assert again[4].split("·")[2:5] == fixed[4].split("·")[2:5]  # same restore and model times: cached


@pytest.mark.slow
def test_a_cracked_print_gets_its_cracks_filled_when_asked(client, tmp_path):
    from gradio_client import handle_file

    from train.colorize.metrics import psnr

    cracked, clean = cracked_camera()
    path = tmp_path / "cracked.png"
    Image.fromarray(cracked).save(path)
    afters = []
    for cracks in (False, True):  # photo, colour boost, brightness, cracks
        (_, after), _, _ = client.predict(handle_file(str(path)), 1.0, 0.0, cracks, api_name="/restoration")
        afters.append(psnr(np.asarray(Image.open(path_of(after))), clean))
    assert afters[1] > afters[0] + 1.0  # the crack filler took the cracks the restorer alone leaves
    # /colorize: the new control is its last input; the outputs keep their order
    out = client.predict(handle_file(str(path)), 256, 1.0, 0.0, 0.5, False, False, False, True, api_name="/colorize")
    assert len(out) == 6 and "restored" in out[4]


def _zip_names(path: str) -> list[str]:
    import zipfile

    with zipfile.ZipFile(path) as z:
        return z.namelist()


@pytest.mark.slow
def test_a_photo_with_its_own_colour_gets_them_restored(client, tmp_path):
    from gradio_client import handle_file
    from skimage import data

    from colorizer.color import lab_to_rgb, rgb_to_lab

    lab = rgb_to_lab(data.astronaut())
    lab[..., 1:] *= 0.3  # a faded colour print
    path = tmp_path / "faded.png"
    Image.fromarray(lab_to_rgb(lab[..., 0], lab[..., 1:])).save(path)
    *_, info, files = client.predict(handle_file(str(path)), api_name="/colorize")
    assert "colour of its own" in info
    own = [path_of(f) for f in files if path_of(f).endswith("_own_colours.png")]
    with Image.open(own[0]) as im:
        assert im.size == (512, 512) and "not AI-colourised" in im.info["Description"]
        chroma = np.hypot(*rgb_to_lab(np.asarray(im.convert("RGB")))[..., 1:].transpose(2, 0, 1))
    assert np.percentile(chroma, 90) > np.percentile(np.hypot(lab[..., 1], lab[..., 2]), 90) * 1.2  # de-faded
    _, own_again, note = client.predict(handle_file(str(path)), api_name="/restoration")
    assert own_again is not None and "colour of its own" in note


def test_the_restoration_endpoint_runs_no_colorizer(handlers, scratched):
    from demo.cache import PredictionCache, predict

    path, clean = scratched
    cache = PredictionCache()
    alone = predict(cache, [], str(path), 256, handlers.restorer)  # what /restoration asks for
    both = predict(cache, handlers.models, str(path), 256, handlers.restorer)
    assert alone.result.ab == {} and "cnn" not in alone.result.seconds and alone.result.photo.gray.shape == clean.shape
    assert set(both.result.ab) == {"cnn", "gan"} and len(cache) == 2  # kept apart: /colorize still gets its ab
    (before, after), own, note = handlers.restoration(str(path))
    assert Image.open(before).size == Image.open(after).size == clean.shape[::-1] and own is None and note


def test_the_app_saves_what_the_cli_saves(handlers, scratched, tmp_path):
    """The same photo and controls, repaired first: the same pixels and PNG text from both faces."""
    import colorizer.__main__ as cli

    path, _ = scratched
    controls = {"saturation": 1.3, "brightness": 4.0, "blend": 0.3}
    argv = [str(path), "-o", str(tmp_path / "cli"), "--restore", "--auto-contrast", "--blend", "0.3"]
    assert cli.main([*argv, "--saturation", "1.3", "--brightness", "4"]) == 0
    app = handlers.colorize(str(path), 256, controls["saturation"], controls["brightness"], controls["blend"],
                            False, True, True)  # fmt: skip
    for look, saved in zip(("cnn", "gan", "blend"), (app[0][1], app[1][1], app[3])):
        with Image.open(saved) as ours, Image.open(tmp_path / "cli" / f"scratched_{look}.png") as theirs:
            assert np.array_equal(np.asarray(ours), np.asarray(theirs)), look
            assert ours.info["Description"] == theirs.info["Description"], look
            assert ours.info["Description"].endswith("; luminance repaired by the restoration model first")


def test_a_click_on_the_preview_lands_on_the_same_spot_of_the_full_photo():
    from demo.hinting import full_resolution

    assert full_resolution((0, 0), (120, 160), (300, 400)) == (0, 0)
    assert full_resolution((80, 60), (120, 160), (300, 400)) == (200, 150)  # the middle: the middle
    assert full_resolution((159, 119), (120, 160), (300, 400)) == (397, 297)  # 397.5: the position, not its pixel's
    assert full_resolution((160, 120), (120, 160), (300, 400)) == (399, 299)  # the far edge: still inside
    assert full_resolution((80, 60), (300, 400), (300, 400)) == (80, 60)  # no preview: as clicked


def test_hints_rerun_the_models_only_and_the_controls_rerender_from_the_cache(handlers, scratched):
    import gradio as gr

    from demo.cache import PredictionCache, predict
    from demo.hinting import HintEvents

    path = scratched[0].with_suffix(".tif")  # a format the browser cannot show: clicked on its preview
    Image.open(scratched[0]).save(path)
    cache, spot = PredictionCache(), [(100, 80, BLUE)]
    plain = predict(cache, handlers.models, str(path), 256, handlers.restorer)
    hinted = predict(cache, handlers.models, str(path), 320, handlers.restorer, spot)
    assert hinted.result.photo is plain.result.photo  # read and repaired once, for any hints and render size
    assert predict(cache, handlers.models, str(path), 320, handlers.restorer, [(100.0, 80.0, BLUE)]) is hinted
    assert len(cache) == 2
    # the page: a click picks the spot, preset to the colour shown there; adding it re-runs both models
    events, controls = HintEvents(handlers), [256, 1.0, 0.0, 0.5, False, True, False, False]
    first = handlers.colorize_page(str(path), *controls)
    shown = np.asarray(Image.open(first[3]).convert("RGB"))
    (x, y), colour, note = events.pick(gr.SelectData(None, {"index": [100, 80], "value": None}), str(path), shown, [],
                                       *controls)  # fmt: skip
    assert (x, y) == (100, 80) and colour == "#{:02x}{:02x}{:02x}".format(*shown[80, 100]) and "(100, 80)" in note
    *outputs, hints, _, picked, _ = events.add((x, y), "#0000ff", [], str(path), *controls)
    assert hints == [{"x": 100, "y": 80, "color": "#0000ff"}] and picked is None
    assert outputs[4].split("·")[3:5] != first[4].split("·")[3:5]  # new inference times: the models ran
    boosted = handlers.rerender(str(path), 256, 1.5, 5.0, 0.2, False, True, False, False, hints)
    assert boosted[4].split("·")[3:5] == outputs[4].split("·")[3:5]  # the sliders: no new network run
    after = np.asarray(Image.open(outputs[1][1]).convert("RGB"))
    before = np.asarray(Image.open(first[1][1]).convert("RGB"))
    assert ab_distance(after, x, y, BLUE) < ab_distance(before, x, y, BLUE) - 5
    cleared = events.clear(str(path), *controls)
    assert cleared[8] == [] and cleared[4].split("·")[2:5] == first[4].split("·")[2:5]  # the first predictions
