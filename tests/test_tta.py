"""Test-time augmentation (--tta): what the averaging does, and the commands that take it."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from colorize.cli.app import app
from colorize.core.session import Colorizer
from colorize.core.tta import Augmented, augment
from tests.helpers import color_image, make_clip

runner = CliRunner()


@pytest.fixture
def tiny(tiny_model):
    return Colorizer(tiny_model, device="cpu")


def test_off_is_the_colorizer_itself_and_bad_modes_are_refused(tiny):
    assert augment(tiny, "off") is tiny
    assert augment(tiny, "FLIP").passes == 2
    assert augment(tiny, "full").passes == 6
    with pytest.raises(ValueError, match="--tta must be one of"):
        augment(tiny, "mirror")


def test_flip_averages_the_mirrored_pass_and_keeps_its_chroma(tiny):
    # a model that sees which side is brighter: brighter left -> pure +a, else pure +b,
    # both at chroma 30; the mirrored pass sees the other side brighter
    def predict(light, z=None):
        left_brighter = light[:, 0, :, 0].mean() > light[:, 0, :, -1].mean()
        ab = np.zeros((light.shape[0], 2, *light.shape[2:]), np.float32)
        ab[:, 0 if left_brighter else 1] = 30.0
        return ab

    tiny.predict = predict
    light = np.tile(np.linspace(90, 10, 24, dtype=np.float32), (16, 1))[None, None]
    out = Augmented(tiny, "flip").predict(light)
    assert out.shape == (1, 2, 16, 24)
    # plain averaging would give (15, 15), chroma 21.2; the hue is halfway and chroma stays 30
    np.testing.assert_allclose(out[:, 0], 30 / np.sqrt(2), rtol=1e-5)
    np.testing.assert_allclose(out[:, 1], 30 / np.sqrt(2), rtol=1e-5)


def test_a_mirror_symmetric_pointwise_model_is_unchanged_by_flip(tiny):
    tiny.predict = lambda light, z=None: np.concatenate(
        [(light - 50) * 0.4, (light - 50) * -0.3], axis=1)
    rng = np.random.default_rng(0)
    light = rng.uniform(0, 100, (2, 1, 16, 24)).astype(np.float32)
    np.testing.assert_allclose(Augmented(tiny, "flip").predict(light), tiny.predict(light),
                               atol=1e-4)


def test_full_runs_six_passes_at_three_sizes_and_returns_the_input_size(tiny):
    shapes = []
    base = tiny.predict

    def predict(light, z=None):
        shapes.append(light.shape)
        return base(light, z)

    tiny.predict = predict
    light = np.random.default_rng(1).uniform(0, 100, (3, 1, 48, 64)).astype(np.float32)
    out = Augmented(tiny, "full").predict(light)
    assert out.shape == (3, 2, 48, 64) and out.dtype == np.float32
    assert len(shapes) == 6
    sizes = sorted({s[2:] for s in shapes})
    assert len(sizes) == 3 and (48, 64) in sizes
    small, _, large = sizes
    assert max(small) < 64 < max(large)
    m = tiny.meta.size_multiple
    assert all(h % m == 0 and w % m == 0 for h, w in sizes)
    assert all(s[0] == 3 for s in shapes)


def test_folder_with_tta_on_the_bundled_model(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    gray = cv2.cvtColor(color_image(120, 160, seed=3), cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(src / "a.png"), gray)
    outs = {}
    for mode in ("off", "flip"):
        r = runner.invoke(app, ["folder", str(src), "-o", str(tmp_path / mode), "--tta", mode])
        assert r.exit_code == 0, r.output
        outs[mode] = cv2.cvtColor(cv2.imread(str(tmp_path / mode / "a.png")), cv2.COLOR_BGR2LAB)
    # same luminance, colour that differs from the single pass without being unrelated to it
    diff_l = np.abs(outs["off"][..., 0].astype(int) - outs["flip"][..., 0]).mean()
    diff_ab = np.abs(outs["off"][..., 1:].astype(int) - outs["flip"][..., 1:])
    assert diff_l < 1.0
    assert 0 < diff_ab.mean() < 8


def test_defaults_flip_for_folder_and_image_off_for_video(tmp_path, tiny_model):
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), cv2.cvtColor(color_image(40, 56, seed=5), cv2.COLOR_RGB2GRAY))
    pixels = {}
    for label, extra in (("default", []), ("flip", ["--tta", "flip"]), ("off", ["--tta", "off"])):
        r = runner.invoke(app, ["folder", str(src), "-o", str(tmp_path / label), "--model",
                                str(tiny_model), *extra])
        assert r.exit_code == 0, r.output
        pixels[label] = cv2.imread(str(tmp_path / label / "a.png"))
    assert np.array_equal(pixels["default"], pixels["flip"])
    assert not np.array_equal(pixels["default"], pixels["off"])
    r = runner.invoke(app, ["image", str(src / "a.png"), "-o", str(tmp_path / "one.png"),
                            "--model", str(tiny_model)])
    assert r.exit_code == 0 and np.array_equal(cv2.imread(str(tmp_path / "one.png")),
                                               pixels["flip"])

    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=6, audio=None)
    frames = {}
    for label, extra in (("default", []), ("off", ["--tta", "off"]), ("flip", ["--tta", "flip"])):
        out = tmp_path / f"{label}.mp4"
        r = runner.invoke(app, ["video", str(clip), "-o", str(out), "--model", str(tiny_model),
                                "--smooth", "none", *extra])
        assert r.exit_code == 0, r.output
        frames[label] = _decoded(out)
    # compared decoded, within a few code values, not byte for byte: what is tested here is
    # the choice of passes, not the encoder's repeatability (test_video tests that)
    same = np.abs(frames["default"] - frames["off"])
    other = np.abs(frames["default"] - frames["flip"])
    assert same.max() <= 4 and other.max() >= 20


def _decoded(path):
    with av.open(str(path)) as c:
        return np.stack([np.concatenate([np.frombuffer(p, np.uint8)[: p.width * p.height]
                                         for p in f.planes]).astype(np.int16)
                         for f in c.decode(video=0)])


def test_eval_scores_the_tta_it_was_given(tmp_path, tiny_model):
    pytest.importorskip("skimage")
    import json

    data = tmp_path / "photos"
    data.mkdir()
    for i in range(3):
        cv2.imwrite(str(data / f"p{i}.png"), color_image(40, 56, seed=i))
    pooled = {}
    for mode in ("off", "flip"):
        out = tmp_path / f"{mode}.json"
        r = runner.invoke(app, ["eval", "--model", str(tiny_model), "--data", str(data),
                                "--tta", mode, "--json", str(out)])
        assert r.exit_code == 0, r.output
        result = json.loads(out.read_text())
        assert result["tta"] == mode
        pooled[mode] = result["pooled"]
    assert pooled["off"]["de76"] != pooled["flip"]["de76"]


def test_bad_tta_is_a_one_line_error(tmp_path, tiny_model):
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), np.full((32, 32), 128, np.uint8))
    r = runner.invoke(app, ["folder", str(src), "-o", str(tmp_path / "o"), "--model",
                            str(tiny_model), "--tta", "mirror"])
    assert r.exit_code == 2
    assert "--tta must be one of off, flip, full" in r.output
    assert not (tmp_path / "o").exists()


def test_video_with_tta(tmp_path, tiny_model):
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=12, audio=None)
    out = tmp_path / "out.mp4"
    r = runner.invoke(app, ["video", str(clip), "-o", str(out), "--model", str(tiny_model),
                            "--tta", "full"])
    assert r.exit_code == 0, r.output
    assert "12 frames" in r.output and out.stat().st_size > 0
