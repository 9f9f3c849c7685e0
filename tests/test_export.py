from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from colorize.core.session import Colorizer  # noqa: E402
from colorize.export.onnx_export import export_model  # noqa: E402
from colorize.registry import list_models  # noqa: E402
from tests.test_models import tiny  # noqa: E402


def ckpt_for(model, name):
    return {"model_name": name, "model_args": model.model_args, "step": 7,
            "metrics": {"val_loss": 0.5}, "data_summary": {"train_images": 3}}


@pytest.mark.parametrize("name", list_models())
def test_every_model_exports_and_matches_torch_at_two_sizes(tmp_path, name):
    model = tiny(name).eval()
    out = tmp_path / f"{name}.onnx"
    # two sizes, both multiples of 32 (the size_multiple every exported graph declares)
    report = export_model(model, ckpt_for(model, name), out, working_size=64,
                          verify_sizes=((64, 64), (96, 160)))
    assert out.exists() and max(report.max_abs_error.values()) <= 1e-3
    col = Colorizer(out, device="cpu")
    assert col.meta.name == name and col.meta.working_size == 64
    assert col.meta.raw["architecture"]["args"]["width"] == 0.125
    assert col.meta.raw["metrics"] == {"val_loss": 0.5}
    light = np.random.default_rng(0).uniform(0, 100, (2, 1, 32, 64)).astype(np.float32)
    ab = col.predict(light)
    assert ab.shape == (2, 2, 32, 64)
    with torch.no_grad():
        ref = model.colorize(torch.from_numpy((light - 50) / 50)).numpy()
    np.testing.assert_allclose(ab, ref, atol=1e-3)


@pytest.mark.parametrize("name", ["lite", "unet", "unet-vae"])
def test_decoder_upsampling_exports_as_a_constant_scale(tmp_path, name):
    # a Resize with a constant scale (not sizes computed from Shape nodes at run time) is
    # what ONNX Runtime can run in its blocked NCHWc layout; torch still matches at two sizes
    import onnx
    from onnx import numpy_helper

    model = tiny(name).eval()
    out = export_model(model, ckpt_for(model, name), tmp_path / "m.onnx",
                       verify_sizes=((64, 64), (32, 96))).path
    graph = onnx.load(str(out)).graph
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consts.update({n.output[0]: numpy_helper.to_array(n.attribute[0].t)
                   for n in graph.node if n.op_type == "Constant"})
    resizes = [n for n in graph.node if n.op_type == "Resize"]
    assert resizes
    for node in resizes:
        assert len(node.input) == 3 and node.input[2] in consts, node.input
        scale = consts[node.input[2]]
        assert list(scale[:2]) == [1, 1] and scale[2] == scale[3] and scale[2] in (2, 4)


def test_unet_vae_z_input_changes_colours(tmp_path):
    model = tiny("unet-vae").eval()
    out = export_model(model, ckpt_for(model, "unet-vae"), tmp_path / "v.onnx",
                       verify_sizes=((32, 32), (32, 64))).path
    col = Colorizer(out, device="cpu")
    assert "z" in col.extra_inputs
    light = np.random.default_rng(1).uniform(0, 100, (1, 1, 32, 32)).astype(np.float32)
    mean = col.predict(light)
    np.testing.assert_allclose(mean, col.predict(light, np.zeros((1, 8), np.float32)))
    other = col.predict(light, np.full((1, 8), 2.0, np.float32))
    assert np.abs(other - mean).max() > 1e-4


def test_failed_verification_leaves_no_file(tmp_path, monkeypatch):
    from colorize.export import onnx_export

    model = tiny("gae").eval()

    def broken(*a, **k):
        raise onnx_export.ExportError("forced")

    monkeypatch.setattr(onnx_export, "verify", broken)
    with pytest.raises(onnx_export.ExportError):
        export_model(model, ckpt_for(model, "gae"), tmp_path / "g.onnx")
    assert list(tmp_path.iterdir()) == []


def test_int8_and_fp16_variants_run_close_to_fp32(tmp_path):
    from PIL import Image

    from colorize.export.variants import compare, to_fp16, to_int8
    from tests.helpers import color_image

    model = tiny("gae").eval()
    fp32 = export_model(model, ckpt_for(model, "gae"), tmp_path / "g.onnx", working_size=64,
                        verify_sizes=((64, 64), (32, 64))).path
    photos = []
    for i in range(6):
        path = tmp_path / f"p{i}.png"
        Image.fromarray(color_image(48, 64, seed=i)).save(path)
        photos.append(path)
    to_int8(fp32, tmp_path / "g8.onnx", photos[:4], size=64)
    to_fp16(fp32, tmp_path / "g16.onnx")
    for variant in ("g8.onnx", "g16.onnx"):
        col = Colorizer(tmp_path / variant, device="cpu")
        assert col.meta.raw["precision"] in ("int8", "fp16")
        cmp = compare(fp32, tmp_path / variant, photos[4:], size=64, repeats=1)
        assert cmp.delta_e76 < 5.0, (variant, cmp)


def test_int8_of_a_unet_at_a_working_size_off_the_multiple(tmp_path):
    # calibration and the speed check run at the working size rounded to the graph's size
    # multiple: a U-Net export takes only multiples of 32 (its upsampling is a constant 2x)
    from PIL import Image

    from colorize.export.variants import compare, to_int8
    from tests.helpers import color_image

    model = tiny("lite").eval()
    fp32 = export_model(model, ckpt_for(model, "lite"), tmp_path / "l.onnx", working_size=100,
                        verify_sizes=((64, 64),)).path
    photos = []
    for i in range(3):
        Image.fromarray(color_image(60, 80, seed=i)).save(tmp_path / f"p{i}.png")
        photos.append(tmp_path / f"p{i}.png")
    to_int8(fp32, tmp_path / "l8.onnx", photos[:2], size=100)
    cmp = compare(fp32, tmp_path / "l8.onnx", photos[2:], size=100, repeats=1)
    assert cmp.ms_variant > 0 and np.isfinite(cmp.delta_e76)


def test_export_cli_needs_weights(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from colorize.cli.app import app

    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["export", "--model", "unet", "-o", "u.onnx"])
    assert r.exit_code == 2 and "colorize train --model unet" in r.output


def test_image_samples_for_latent_model(tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from colorize.cli.app import app
    from tests.helpers import gradient_gray

    model = tiny("unet-vae").eval()
    with torch.no_grad():  # make z matter visibly in an untrained tiny net
        model.bottleneck[0].weight.mul_(20)
    onnx_path = export_model(model, ckpt_for(model, "unet-vae"), tmp_path / "v.onnx",
                             verify_sizes=((32, 32), (32, 64)), tol=1e-2).path
    src = tmp_path / "g.png"
    Image.fromarray(gradient_gray(32, 32)).save(src)
    runner = CliRunner()
    r = runner.invoke(app, ["image", str(src), "-o", str(tmp_path / "o.png"), "--model",
                            str(onnx_path), "--samples", "2", "--seed", "3"])
    assert r.exit_code == 0, r.output
    a = np.asarray(Image.open(tmp_path / "o_1.png")).astype(int)
    b = np.asarray(Image.open(tmp_path / "o_2.png")).astype(int)
    assert np.abs(a - b).max() > 0
    from tests.helpers import make_tiny_onnx, tiny_metadata

    plain = make_tiny_onnx(tmp_path / "plain.onnx", tiny_metadata())
    r = runner.invoke(app, ["image", str(src), "-o", str(tmp_path / "x.png"), "--model",
                            str(plain), "--samples", "2"])
    assert r.exit_code == 2 and "latent" in r.output


def test_lite_with_mix_zero_exports_without_the_bin_head(tmp_path):
    """mix 0 gives the bins weight 0: the graph drops them and still computes the same ab."""
    import onnx
    import torch.nn.functional as F

    model = tiny("lite").eval()
    light = torch.rand(1, 1, 64, 64) * 2 - 1
    ops = {}
    for mix in (0.6, 0.0):
        model.mix.fill_(mix)
        with torch.no_grad():
            long_way = F.interpolate(model.decode(model(light)), size=(64, 64),
                                     mode="bilinear", align_corners=False)
            np.testing.assert_allclose(model.colorize(light).numpy(), long_way.numpy(),
                                       atol=1e-5)
        out = export_model(model, ckpt_for(model, "lite"), tmp_path / f"m{mix}.onnx",
                           working_size=64, verify_sizes=((64, 64),)).path
        ops[mix] = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert "Softmax" in ops[0.6] and "LogSoftmax" in ops[0.6]
    assert "Softmax" not in ops[0.0] and "LogSoftmax" not in ops[0.0]


def test_export_decoding_override_is_baked_in_and_recorded(tmp_path):
    from typer.testing import CliRunner

    from colorize.cli.app import app
    from colorize.training.checkpoint import save_checkpoint

    runner = CliRunner()

    model = tiny("lite").eval()
    ckpt = {**ckpt_for(model, "lite"), "model": model.state_dict(),
            "decoding": {"mix": 0.5, "temperature": 0.5, "conf_power": 1.0,
                         "candidates": [{"mix": 0.0}]}}
    src = tmp_path / "lite.pt"
    save_checkpoint(src, ckpt)
    outs = {}
    for name, extra in (("tuned", []), ("override", ["--decoding", "1.0,0.4,0.5"])):
        outs[name] = tmp_path / f"{name}.onnx"
        r = runner.invoke(app, ["export", "--checkpoint", str(src), "-o", str(outs[name]),
                                "--size", "64", *extra])
        assert r.exit_code == 0, r.output
    tuned, over = Colorizer(outs["tuned"], device="cpu"), Colorizer(outs["override"], device="cpu")
    assert tuned.meta.raw["output"]["mixing"] == {"mix": 0.5, "temperature": 0.5,
                                                  "conf_power": 1.0}
    mixing = over.meta.raw["output"]["mixing"]
    assert (mixing["mix"], mixing["temperature"], mixing["conf_power"]) == (1.0, 0.4, 0.5)
    assert mixing["tuned"]["mix"] == 0.5 and "candidates" not in mixing["tuned"]
    assert over.meta.raw["architecture"]["args"]["conf_power"] == 0.5
    light = np.random.default_rng(2).uniform(0, 100, (1, 1, 64, 64)).astype(np.float32)
    model.mix.fill_(1.0)
    model.temperature.fill_(0.4)
    model.conf_power = 0.5
    with torch.no_grad():
        ref = model.colorize(torch.from_numpy((light - 50) / 50)).numpy()
    np.testing.assert_allclose(over.predict(light), ref, atol=1e-3)
    assert np.abs(over.predict(light) - tuned.predict(light)).max() > 1e-3
    def exported(name: str, decoding: str) -> Colorizer:
        path = tmp_path / f"{name}.onnx"
        r = runner.invoke(app, ["export", "--checkpoint", str(src), "-o", str(path), "--size",
                                "64", "--decoding", decoding])
        assert r.exit_code == 0, r.output
        return Colorizer(path, device="cpu")

    # a fourth number is the chroma gain, applied in the graph
    gained = exported("gain", "1.0,0.4,0.5,1.25")
    assert gained.meta.raw["output"]["mixing"]["gain"] == 1.25
    np.testing.assert_allclose(gained.predict(light), 1.25 * over.predict(light), atol=1e-3)
    # a fifth is the chroma knee: ab x C² / (C² + knee²) before the gain, in the graph
    kneed = exported("knee", "1.0,0.4,0.5,1.25,6")
    assert kneed.meta.raw["output"]["mixing"]["knee"] == 6.0
    assert kneed.meta.raw["architecture"]["args"]["knee"] == 6.0
    model.gain, model.knee = 1.25, 6.0
    with torch.no_grad():
        ref = model.colorize(torch.from_numpy((light - 50) / 50)).numpy()
    np.testing.assert_allclose(kneed.predict(light), ref, atol=1e-3)
    assert np.abs(kneed.predict(light) - gained.predict(light)).max() > 1e-2
    for bad in ("1.0,0.4", "2,0.5,1", "a,b,c", "1,0.5,1,0", "1,0.5,1,1,-1", "1,0.5,1,1,1,1"):
        r = runner.invoke(app, ["export", "--checkpoint", str(src), "-o",
                                str(tmp_path / "bad.onnx"), "--decoding", bad])
        assert r.exit_code != 0 and "--decoding" in r.output
        assert not (tmp_path / "bad.onnx").exists()
