from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from colorize.core.errors import ImageReadError
from colorize.core.imageio import encode_image, read_image, write_atomic
from tests.helpers import color_image, gradient_gray


def test_gray_8bit_png(tmp_path):
    arr = gradient_gray(20, 30)
    Image.fromarray(arr).save(tmp_path / "g.png")
    pic = read_image(tmp_path / "g.png")
    assert pic.depth == 8 and pic.alpha is None and pic.pixels.shape == (20, 30)
    np.testing.assert_allclose(pic.pixels, arr / 255.0, atol=1e-6)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_gray_16bit_kept(tmp_path, suffix):
    arr = gradient_gray(16, 24, depth=16)
    Image.fromarray(arr).save(tmp_path / f"g{suffix}")
    pic = read_image(tmp_path / f"g{suffix}")
    assert pic.depth == 16
    np.testing.assert_allclose(pic.pixels, arr / 65535.0, atol=1e-6)


def test_rgb_16bit_png_via_opencv(tmp_path):
    import cv2

    arr = (color_image(12, 10).astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "c.png"), arr[..., ::-1])
    pic = read_image(tmp_path / "c.png")
    assert pic.depth == 16 and pic.pixels.shape == (12, 10, 3)
    np.testing.assert_allclose(pic.pixels, arr / 65535.0, atol=1e-6)


def test_rgba_alpha_kept(tmp_path):
    rgba = np.dstack([color_image(10, 12), np.arange(120, dtype=np.uint8).reshape(10, 12)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    pic = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(pic.alpha, rgba[..., 3])
    np.testing.assert_allclose(pic.pixels, rgba[..., :3] / 255.0, atol=1e-6)


def test_palette_with_transparency(tmp_path):
    im = Image.fromarray(color_image(8, 8)).convert("P")
    im.info["transparency"] = 0
    im.save(tmp_path / "p.png", transparency=0)
    pic = read_image(tmp_path / "p.png")
    assert pic.alpha is not None and pic.pixels.shape == (8, 8, 3)


def test_cmyk_jpeg(tmp_path):
    Image.fromarray(color_image(16, 16)).convert("CMYK").save(tmp_path / "c.jpg")
    pic = read_image(tmp_path / "c.jpg")
    assert pic.pixels.shape == (16, 16, 3) and pic.depth == 8


def test_exif_orientation_applied(tmp_path):
    arr = np.zeros((10, 20), np.uint8)
    arr[:, :5] = 255  # bright stripe on the left
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    im.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=100)
    pic = read_image(tmp_path / "r.jpg")
    assert pic.pixels.shape == (20, 10)
    assert pic.pixels[:5].mean() > 0.8 and pic.pixels[-5:].mean() < 0.2  # left -> top


# how a picture stored with an EXIF / TIFF orientation is shown (the EXIF specification's
# table, as Pillow's exif_transpose applies it)
SHOWN_BY = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


@pytest.mark.parametrize("suffix", [".tif", ".png"])
@pytest.mark.parametrize("mode", ["L", "I;16", "RGB"])
def test_every_orientation_is_applied_once(tmp_path, suffix, mode):
    # OpenCV 5 turns a TIFF page by its Orientation tag itself, where it leaves a PNG's EXIF
    # alone (and fails on some gray TIFFs, which Pillow then reads): every orientation must
    # come out turned once, as a viewer shows it
    rng = np.random.default_rng(3)
    if mode == "RGB":
        im = Image.fromarray(rng.integers(0, 256, (6, 10, 3), dtype=np.uint8))
    elif mode == "L":
        im = Image.fromarray(rng.integers(0, 256, (6, 10), dtype=np.uint8))
    else:
        im = Image.fromarray(rng.integers(0, 65536, (6, 10), dtype=np.uint16))
    peak = 65535 if mode == "I;16" else 255
    for orientation in range(1, 9):
        path = tmp_path / f"o{orientation}{suffix}"
        exif = Image.Exif()
        exif[0x0112] = orientation
        im.save(path, exif=exif)
        turn = SHOWN_BY.get(orientation)
        shown = np.asarray(im.transpose(turn) if turn is not None else im)
        shown = shown.astype(np.float64) / peak
        pic = read_image(path)
        assert pic.pixels.shape == shown.shape, orientation
        np.testing.assert_allclose(pic.pixels, shown, atol=1e-6, err_msg=str(orientation))


@pytest.mark.parametrize("content", [b"", b"hello, not an image", b"\x89PNG\r\n\x1a\n\x00"])
def test_bad_files_raise_one_line(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert "bad.png" in str(info.value) and "\n" not in str(info.value)


def test_truncated_jpeg(tmp_path):
    Image.fromarray(color_image(64, 64)).save(tmp_path / "t.jpg")
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageReadError):
        read_image(tmp_path / "t.jpg")


def test_pixel_limit_refuses_before_decoding(tmp_path):
    Image.fromarray(gradient_gray(100, 100)).save(tmp_path / "big.png")
    with pytest.raises(ImageReadError, match="pixel limit"):
        read_image(tmp_path / "big.png", max_pixels=5000)


def test_write_atomic_leaves_nothing_on_failure(tmp_path, monkeypatch):
    import os

    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def boom(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(Exception, match="No space"):
        write_atomic(target, encode_image(np.zeros((4, 4, 3), np.float32), None, 8, ".png"))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_encode_image_refuses_an_unknown_extension():
    with pytest.raises(ValueError, match="must end in one of"):
        encode_image(np.zeros((4, 4, 3), np.float32), None, 8, ".xyz")


def test_encode_image_8_bit_rounds_as_numpy_does():
    import cv2

    rng = np.random.default_rng(7)
    rgb = rng.random((64, 80, 3), dtype=np.float32)
    rgb[0, :256 // 4, 0] = ((np.arange(0, 256, 4) + 0.5) / 255).astype(np.float32)  # halves
    rgb[1, :3] = [[0, 0, 0], [1, 1, 1], [0.5, 0.25, 0.75]]
    decoded = cv2.imdecode(np.frombuffer(encode_image(rgb, None, 8, ".png"), np.uint8),
                           cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(decoded[..., ::-1], np.rint(rgb * 255.0).astype(np.uint8))


@pytest.mark.parametrize("depth", [8, 16])
def test_min_is_white_gray_tiffs_read_the_right_way_round(tmp_path, depth):
    """Photometric 0 stores white as code 0. OpenCV and Pillow invert 8-bit pages but not
    16-bit ones, which came out as negatives."""
    import tifffile

    codes = gradient_gray(20, 30, depth=depth)
    tifffile.imwrite(tmp_path / "mw.tif", codes, photometric="miniswhite")
    tifffile.imwrite(tmp_path / "mb.tif", np.iinfo(codes.dtype).max - codes,
                     photometric="minisblack")
    white_is_zero, black_is_zero = read_image(tmp_path / "mw.tif"), read_image(tmp_path / "mb.tif")
    assert white_is_zero.depth == depth
    np.testing.assert_array_equal(white_is_zero.pixels, black_is_zero.pixels)


def test_a_pgm_or_ppm_whose_maxval_is_not_the_top_is_spread_over_the_full_range(tmp_path):
    """12-bit scanner data in a PGM declares maxval 4095; OpenCV returns the codes as
    stored, which read as an image at 6 % brightness."""
    twelve = np.array([[0, 2048, 4095]], dtype=">u2")
    (tmp_path / "a.pgm").write_bytes(b"P5\n# scanner\n3 1\n4095\n" + twelve.tobytes())
    pic = read_image(tmp_path / "a.pgm")
    assert pic.depth == 16
    np.testing.assert_allclose(pic.pixels, [[0, 2048 / 4095, 1]], atol=1 / 65535)
    rgb = np.array([[[0, 50, 100], [100, 100, 100]]], dtype=np.uint8)
    (tmp_path / "b.ppm").write_bytes(b"P6 2 1 100\n" + rgb.tobytes())
    pic = read_image(tmp_path / "b.ppm")
    np.testing.assert_allclose(pic.pixels, rgb / 100.0, atol=0.5 / 255)
