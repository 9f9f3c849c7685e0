"""DPX film scans: read through FFmpeg (10-bit luma, either byte order), written as DPX."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from colorize.cli.app import app
from colorize.core import dpx
from colorize.core.color import gray_to_l, rgb_to_lab
from colorize.core.imageio import read_image
from tests.helpers import color_image, dpx_luma10

runner = CliRunner()


def film_frame(h: int = 36, w: int = 48, shift: int = 0) -> np.ndarray:
    """10-bit codes of a smooth scene with a brighter square (w a multiple of 3)."""
    y, x = np.mgrid[0:h, 0:w]
    codes = 200 + 6 * x + 4 * y
    codes[8:20, 10 + shift:24 + shift] += 250
    return np.clip(codes, 0, 1023).astype(np.uint16)


@pytest.mark.parametrize("big_endian", [True, False])
def test_a_10_bit_luma_scan_is_read_at_full_precision(tmp_path, big_endian):
    codes = np.random.default_rng(0).integers(0, 1024, (20, 33)).astype(np.uint16)
    path = tmp_path / "f.dpx"
    dpx_luma10(path, codes, transfer=1, big_endian=big_endian)
    pic = read_image(path)
    assert pic.depth == 16 and pic.pixels.shape == (20, 33) and pic.alpha is None
    np.testing.assert_allclose(pic.pixels * 1023, codes, atol=0.05)
    assert (pic.meta.dpx.transfer, pic.meta.dpx.colorimetric) == (1, 1)
    assert "printing density DPX" in pic.note and "convert it to Rec.709" in pic.note
    dpx_luma10(path, codes, transfer=6)  # Rec. 709 codes are display values: nothing to say
    assert read_image(path).note is None


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_rgb_dpx_round_trips_exactly_with_the_source_transfer(dtype, with_alpha):
    top = np.iinfo(dtype).max
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, top + 1, (16, 30, 3)).astype(dtype)
    alpha = rng.integers(0, top + 1, (16, 30)).astype(dtype) if with_alpha else None
    data = dpx.encode(rgb, alpha, like=dpx.DpxHeader(30, 16, 50, 3, 1, 16))
    head = dpx.read_header(data)
    assert (head.width, head.height, head.bits) == (30, 16, np.dtype(dtype).itemsize * 8)
    assert (head.descriptor, head.transfer, head.colorimetric) == (51 if with_alpha else 50,
                                                                   3, 1)
    back, back_alpha = dpx.decode(data)
    assert back.dtype == dtype and np.array_equal(back, rgb)
    assert (back_alpha is None) == (alpha is None)
    if alpha is not None:
        assert np.array_equal(back_alpha, alpha)


def test_a_folder_of_film_scans_comes_out_as_dpx_with_its_luminance(tmp_path, tiny_model):
    src = tmp_path / "scan"
    src.mkdir()
    codes = film_frame()
    dpx_luma10(src / "reel1_000100.dpx", codes, transfer=1)
    dst = tmp_path / "out"
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)])
    assert r.exit_code == 0, r.output
    assert "printing density DPX" in " ".join(r.output.split())
    out = dst / "reel1_000100.dpx"
    head = dpx.read_file_header(out)
    # RGB at the scan's own 10 bits and byte order, labelled as the source was
    assert (head.descriptor, head.bits, head.transfer, head.colorimetric) == (50, 10, 1, 1)
    assert head.big_endian
    assert out.stat().st_size == 2048 + 36 * 48 * 4  # three 10-bit codes to a 32-bit word
    rgb, alpha = dpx.decode(out.read_bytes())
    assert rgb.dtype == np.uint16 and rgb.shape == (36, 48, 3) and alpha is None
    lab = rgb_to_lab(rgb.astype(np.float32) / 65535)
    diff = np.abs(lab[..., 0] - gray_to_l(codes / 1023))
    assert diff.mean() < 0.1 and diff.max() < 0.5  # as a 16-bit PNG of the same codes gives
    assert np.hypot(lab[..., 1], lab[..., 2]).mean() > 1  # colorized


def test_format_dpx_keeps_the_source_depth(tmp_path, tiny_model):
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "a8.png"), cv2.cvtColor(color_image(30, 42, seed=1),
                                                  cv2.COLOR_RGB2GRAY))
    cv2.imwrite(str(src / "b16.png"), np.linspace(0, 65535, 30 * 42).reshape(30, 42)
                .astype(np.uint16))
    dst = tmp_path / "out"
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model),
                            "--format", "dpx"])
    assert r.exit_code == 0, r.output
    assert dpx.read_file_header(dst / "a8.dpx").bits == 8
    assert dpx.read_file_header(dst / "b16.dpx").bits == 16


def test_a_damaged_dpx_is_one_line_and_nothing_written(tmp_path, tiny_model):
    good = tmp_path / "good.dpx"
    dpx_luma10(good, film_frame())
    bad = tmp_path / "bad.dpx"
    bad.write_bytes(good.read_bytes()[:3000])  # the header and a little of the picture
    r = runner.invoke(app, ["image", str(bad), "-o", str(tmp_path / "out.dpx"), "--model",
                            str(tiny_model)])
    assert r.exit_code == 1 and "cannot decode" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "out.dpx").exists()
    bad.write_bytes(b"SDPX" + bytes(100))  # a header cut short
    r = runner.invoke(app, ["image", str(bad), "-o", str(tmp_path / "out.dpx"), "--model",
                            str(tiny_model)])
    assert r.exit_code == 1 and "cannot decode" in r.output


def test_a_dpx_sequence_through_frames_says_its_note_once(tmp_path, tiny_model):
    seq = tmp_path / "seq"
    seq.mkdir()
    for i in range(3):
        dpx_luma10(seq / f"shot_{i:06d}.dpx", film_frame(shift=2 * i), transfer=3)
    dst = tmp_path / "out"
    r = runner.invoke(app, ["frames", str(seq), "-o", str(dst), "--model", str(tiny_model)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in dst.iterdir()) == [f"shot_{i:06d}.dpx" for i in range(3)]
    assert " ".join(r.output.split()).count("a logarithmic DPX") == 1


@pytest.mark.parametrize("big_endian", [True, False])
def test_the_scans_timecode_edge_code_and_copyright_are_kept(tmp_path, tiny_model, big_endian):
    import struct

    src = tmp_path / "scan"
    src.mkdir()
    dpx_luma10(src / "r1_086400.dpx", film_frame(), transfer=6, big_endian=big_endian,
               timecode=0x01000012, frame_rate=24.0, edge=b"KZ3318" + b"0042",
               copyright=b"(c) 1962 Family archive")
    head = dpx.read_file_header(src / "r1_086400.dpx")
    assert dpx.timecode(head) == "01:00:00:12"
    dst = tmp_path / "out"
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)])
    assert r.exit_code == 0, r.output
    out = dst / "r1_086400.dpx"
    data = out.read_bytes()
    got = dpx.read_header(data)
    order = ">" if got.big_endian else "<"
    assert dpx.timecode(got) == "01:00:00:12"
    assert struct.unpack_from(order + "f", data, 1940)[0] == 24.0  # television frame rate
    assert struct.unpack_from(order + "f", data, 1724)[0] == 24.0  # film frame rate
    assert data[1670:1680] == b"KZ33180042"
    assert data[460:483] == b"(c) 1962 Family archive"
    # the picture moved behind the industry headers, and every offset with it
    assert struct.unpack_from(order + "III", data, 24)[:2] == (1664, 384)
    assert struct.unpack_from(order + "I", data, 4)[0] == 2048 == struct.unpack_from(
        order + "I", data, 808)[0]
    assert struct.unpack_from(order + "I", data, 16)[0] == len(data)
    rgb, _ = dpx.decode(data)
    lab = rgb_to_lab(rgb.astype(np.float32) / 65535)
    assert np.abs(lab[..., 0] - gray_to_l(film_frame() / 1023)).mean() < 0.1


def test_a_scan_without_industry_headers_gets_none():
    data = dpx.encode(np.zeros((4, 6, 3), np.uint16), like=dpx.DpxHeader(6, 4, 50, 6, 6, 16))
    head = dpx.read_header(data)
    assert head.industry is None and dpx.timecode(head) is None and len(data) == 1664 + 144
