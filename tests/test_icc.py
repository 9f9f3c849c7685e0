"""Pixels read through their embedded ICC profile, checked against littleCMS (Pillow's
ImageCms) on 8-bit pixels, and through the CLI."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms
from typer.testing import CliRunner

from colorize.cli.app import app
from colorize.core.color import gray_to_l, rgb_to_lab
from colorize.core.icc import ProfileError, parse_profile, srgb_of
from colorize.core.imageio import read_image
from tests.helpers import ADOBE_RGB_COLORANTS, icc_gamma, icc_profile, icc_table

SRGB = ImageCms.createProfile("sRGB")
# a dot-gain-like curve (mid-gray reflects 30 % of the light, not sRGB's 21 %), sampled
DOT_GAIN = icc_profile("GRAY", [icc_table([v * (0.2 + 0.8 * v) for v in np.linspace(0, 1, 256)])],
                       name="Dot-gain-like")
GAMMA_18 = icc_profile("GRAY", [icc_gamma(1.8)], name="Gray Gamma 1.8")
ADOBE = icc_profile("RGB ", [icc_gamma(563 / 256)] * 3, ADOBE_RGB_COLORANTS,
                    name="Adobe RGB-like")


def littlecms(profile: bytes, pixels: np.ndarray) -> np.ndarray:
    """littleCMS's relative colorimetric conversion of 8-bit pixels into sRGB."""
    mode = "L" if pixels.ndim == 2 else "RGB"
    transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(profile)), SRGB,
                                        mode, "RGB", ImageCms.Intent.RELATIVE_COLORIMETRIC)
    return np.asarray(ImageCms.applyTransform(Image.fromarray(pixels), transform))


@pytest.mark.parametrize("profile", [GAMMA_18, DOT_GAIN], ids=["gamma 1.8", "table"])
def test_gray_profiles_read_as_littlecms_reads_them(profile):
    ramp = np.arange(256, dtype=np.uint8)[None, :]
    ours, name = srgb_of(ramp, profile)
    assert name in ("Gray Gamma 1.8", "Dot-gain-like")
    want = littlecms(profile, ramp)[..., 0].astype(int)
    assert np.abs(np.rint(ours * 255).astype(int) - want).max() <= 1
    # and it matters: read as sRGB, mid-gray would be several L off
    mid_l = gray_to_l(ours[:, 128:129])[0, 0]
    assert abs(mid_l - gray_to_l(np.float32([[128 / 255]]))[0, 0]) > 4


def test_rgb_matrix_profile_reads_as_littlecms_reads_it():
    colours = np.random.default_rng(0).integers(0, 256, (48, 64, 3)).astype(np.uint8)
    ours, name = srgb_of(colours, ADOBE)
    assert name == "Adobe RGB-like" and ours.dtype == np.float32
    diff = np.abs(np.rint(ours * 255).astype(int) - littlecms(ADOBE, colours).astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.1


def test_srgb_profiles_and_profiles_that_do_not_fit_are_left_alone():
    srgb_bytes = ImageCms.ImageCmsProfile(SRGB).tobytes()
    colours = np.random.default_rng(1).integers(0, 256, (8, 8, 3)).astype(np.uint8)
    assert srgb_of(colours, srgb_bytes) == (None, None)  # littleCMS's own sRGB ('para' curves)
    profile = parse_profile(srgb_bytes)
    assert np.allclose(profile.matrix, np.eye(3), atol=1e-4)
    # the common v2 "sRGB IEC61966-2.1" profile: a 1,024-entry table and rounded colorants
    v = np.linspace(0, 1, 1024)
    table = icc_table(np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4))
    hp = icc_profile("RGB ", [table] * 3, [(0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971),
                                           (0.1431, 0.0606, 0.7141)], name="sRGB IEC61966-2.1")
    assert srgb_of(colours, hp) == (None, None)
    assert srgb_of(colours[..., 0], ADOBE) == (None, None)  # an RGB profile on gray pixels
    assert srgb_of(colours, GAMMA_18) == (None, None)  # a gray profile on RGB pixels
    assert srgb_of(colours, b"garbage" * 40) == (None, None)
    with pytest.raises(ProfileError):
        parse_profile(ADOBE[:200])  # tags past the end


def test_parametric_curves_follow_their_formulas():
    import struct

    from colorize.core.icc import _curve

    def para(fn, *params):
        return (b"para\0\0\0\0" + struct.pack(">HH", fn, 0)
                + b"".join(struct.pack(">i", round(p * 65536)) for p in params))

    x = np.linspace(0, 1, 11)
    g, a, b, c, d, e, f = 2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045, 0.01, 0.002
    assert np.allclose(_curve(para(0, g), x), x ** g, atol=1e-4)
    want3 = np.where(x >= d, (a * x + b) ** g, c * x)
    assert np.allclose(_curve(para(3, g, a, b, c, d), x), want3, atol=1e-4)
    want4 = np.where(x >= d, (a * x + b) ** g + e, c * x + f)
    assert np.allclose(_curve(para(4, g, a, b, c, d, e, f), x), want4, atol=1e-4)


def test_a_16_bit_gray_scan_is_read_through_its_profile(tmp_path):
    codes = np.linspace(0, 65535, 64 * 48).astype(np.uint16).reshape(48, 64)
    Image.fromarray(codes).save(tmp_path / "scan.png", icc_profile=DOT_GAIN)
    pic = read_image(tmp_path / "scan.png")
    assert pic.depth == 16 and pic.profile == "Dot-gain-like"
    assert pic.meta.icc is None  # the output is sRGB; the gray profile does not travel
    y = (codes / 65535.0) * (0.2 + 0.8 * codes / 65535.0)  # the curve, exactly
    want = np.where(y <= 0.0031308, 12.92 * y, 1.055 * y ** (1 / 2.4) - 0.055)
    # the profile's table holds 256 samples at 16 bits: well under an 8-bit step
    assert np.abs(pic.pixels - want).max() < 0.5 / 255


def test_cli_keeps_the_tones_the_profile_gives_and_says_so(tmp_path, tiny_model):
    gray = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (32, 1))
    src = tmp_path / "scan.tif"
    Image.fromarray(gray).save(src, icc_profile=DOT_GAIN)
    rgb = (np.random.default_rng(2).integers(40, 216, (32, 64, 3))).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "tinted.png", icc_profile=ADOBE)
    for name in ("scan.tif", "tinted.png"):
        out = tmp_path / f"out_{name}"
        r = CliRunner().invoke(app, ["image", str(tmp_path / name), "-o", str(out), "--model",
                                     str(tiny_model)], env={"COLUMNS": "300"})
        assert r.exit_code == 0, r.output
        assert "read through its colour profile" in r.output and "written as sRGB" in r.output
        with Image.open(out) as im:
            assert not im.info.get("icc_profile")
            result = np.asarray(im.convert("RGB"))
        light = rgb_to_lab(result.astype(np.float32) / 255)[..., 0]
        source = gray if name == "scan.tif" else rgb
        want = rgb_to_lab(np.atleast_3d(littlecms(DOT_GAIN if name == "scan.tif" else ADOBE,
                                                  source)).astype(np.float32) / 255)[..., 0]
        assert np.abs(light - want).mean() < 0.6  # the profile's tones (8-bit rounding)
        if name == "scan.tif":
            plain = gray_to_l(gray.astype(np.float32) / 255)
            assert np.abs(light - plain).mean() > 3  # not the codes read as sRGB
    # an sRGB-tagged colour photo keeps its profile, as before
    srgb_bytes = ImageCms.ImageCmsProfile(SRGB).tobytes()
    Image.fromarray(rgb).save(tmp_path / "photo.png", icc_profile=srgb_bytes)
    r = CliRunner().invoke(app, ["image", str(tmp_path / "photo.png"), "-o",
                                 str(tmp_path / "out.png"), "--model", str(tiny_model)])
    assert r.exit_code == 0 and "colour profile" not in r.output
    assert cv2.imread(str(tmp_path / "out.png")) is not None
    with Image.open(tmp_path / "out.png") as im:
        assert im.info.get("icc_profile") == srgb_bytes


def test_a_16_bit_rgb_scan_is_converted_channel_for_channel(tmp_path):
    """OpenCV's BGR decode, the per-channel tables and the matrix: a 16-bit Adobe RGB TIFF
    reads as littleCMS reads its 8-bit version, and keeps 16-bit precision."""
    import tifffile

    rng = np.random.default_rng(3)
    codes = (rng.integers(0, 256, (16, 24, 3)) * 257).astype(np.uint16)  # exact in 8 bits
    codes[0, 0] = (65535, 0, 0)  # pure red: channel order shows at once
    tifffile.imwrite(tmp_path / "scan.tif", codes, photometric="rgb", iccprofile=ADOBE)
    pic = read_image(tmp_path / "scan.tif")
    assert pic.depth == 16 and pic.profile == "Adobe RGB-like"
    want = littlecms(ADOBE, (codes // 257).astype(np.uint8)).astype(float) / 255
    assert np.abs(pic.pixels - want).max() <= 1.5 / 255
    red = pic.pixels[0, 0]
    assert red[0] > 0.99 and red[1] < 0.01 and red[2] < 0.01  # Adobe red, clipped to sRGB's
