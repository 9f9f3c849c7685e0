from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from colorize.cli.app import app
from colorize.core.color import gray_to_l, rgb_to_lab
from tests.helpers import color_image, gradient_gray

runner = CliRunner()


def out_l(path):
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB")).astype(np.float32) / 255.0
    return rgb_to_lab(arr)[..., 0]


@pytest.fixture
def scans(tmp_path):
    src = tmp_path / "scans"
    (src / "sub dir").mkdir(parents=True)
    Image.fromarray(gradient_gray(60, 80)).save(src / "a.png")
    Image.fromarray(gradient_gray(50, 40)).save(src / "sub dir" / "b é.jpg", quality=98)
    Image.fromarray(gradient_gray(40, 40, depth=16)).save(src / "c16.png")
    (src / "notes.txt").write_text("not an image")
    return src


def test_folder_colorizes_and_keeps_luminance(scans, tmp_path, tiny_model):
    dst = tmp_path / "out"
    result = runner.invoke(app, ["folder", str(scans), "-o", str(dst), "--model", str(tiny_model)])
    assert result.exit_code == 0, result.output
    outs = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())
    assert outs == ["a.png", "c16.png", "sub dir/b é.jpg"]
    for rel in ("a.png",):
        src_l = gray_to_l(np.asarray(Image.open(scans / rel)).astype(np.float32) / 255.0)
        got = out_l(dst / rel)
        assert got.shape == src_l.shape
        assert np.abs(got - src_l).mean() < 0.5
        with Image.open(dst / rel) as im:
            assert im.mode == "RGB"
            rgb = np.asarray(im).astype(int)
        assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 1  # it has colour
    import cv2

    c16 = cv2.imread(str(dst / "c16.png"), cv2.IMREAD_UNCHANGED)
    assert c16.dtype == np.uint16 and c16.shape == (40, 40, 3)


def test_bad_file_reported_and_exit_1(scans, tmp_path, tiny_model):
    (scans / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    dst = tmp_path / "out"
    result = runner.invoke(app, ["folder", str(scans), "-o", str(dst), "--model", str(tiny_model)])
    assert result.exit_code == 1
    assert "corrupt.jpg" in result.output
    assert (dst / "a.png").exists() and not (dst / "corrupt.jpg").exists()


def test_second_run_skips_and_overwrite_rewrites(scans, tmp_path, tiny_model):
    dst = tmp_path / "out"
    args = ["folder", str(scans), "-o", str(dst), "--model", str(tiny_model)]
    assert runner.invoke(app, args).exit_code == 0
    (dst / "a.png").write_bytes(b"sentinel")
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "3" in again.output
    assert (dst / "a.png").read_bytes() == b"sentinel"
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    assert (dst / "a.png").read_bytes() != b"sentinel"


def test_alpha_and_exif_rotation(tmp_path, tiny_model):
    src = tmp_path / "in"
    src.mkdir()
    rgba = np.dstack([color_image(20, 30), np.full((20, 30), 77, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(src / "alpha.png")
    im = Image.fromarray(gradient_gray(20, 30))
    exif = im.getexif()
    exif[0x0112] = 8
    im.save(src / "rot.jpg", exif=exif.tobytes())
    dst = tmp_path / "out"
    assert runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model",
                               str(tiny_model)]).exit_code == 0
    with Image.open(dst / "alpha.png") as out:
        assert out.mode == "RGBA" and out.size == (30, 20)
        assert (np.asarray(out)[..., 3] == 77).all()
    with Image.open(dst / "rot.jpg") as out:
        assert out.size == (20, 30)


def test_output_inside_input_is_not_reprocessed(scans, tiny_model):
    dst = scans / "colored"
    args = ["folder", str(scans), "-o", str(dst), "--model", str(tiny_model)]
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, args).exit_code == 0
    assert not (dst / "colored").exists()


def test_no_partial_file_after_failure_mid_write(scans, tmp_path, tiny_model, monkeypatch):
    import os

    real_replace = os.replace
    calls = {"n": 0}

    def flaky(a, b):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real_replace(a, b)

    monkeypatch.setattr(os, "replace", flaky)
    dst = tmp_path / "out"
    result = runner.invoke(app, ["folder", str(scans), "-o", str(dst), "--model", str(tiny_model)])
    assert result.exit_code == 1 and "No space left" in result.output
    leftovers = [p.name for p in dst.rglob("*") if p.name.startswith(".")]
    assert leftovers == []
    assert len([p for p in dst.rglob("*") if p.is_file()]) == 2


def test_image_command_and_format(tmp_path, tiny_model):
    src = tmp_path / "g.png"
    Image.fromarray(gradient_gray(30, 30)).save(src)
    out = tmp_path / "o.png"
    r = runner.invoke(app, ["image", str(src), "-o", str(out), "--model", str(tiny_model),
                            "--format", "jpg"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o.jpg").exists()
    r2 = runner.invoke(app, ["image", str(src), "-o", str(out), "--model", str(tiny_model),
                             "--format", "jpg"])
    assert r2.exit_code == 1 and "overwrite" in r2.output


def test_saturation_zero_gives_gray(tmp_path, tiny_model):
    src = tmp_path / "g.png"
    Image.fromarray(gradient_gray(30, 30)).save(src)
    out = tmp_path / "o.png"
    r = runner.invoke(app, ["image", str(src), "-o", str(out), "--model", str(tiny_model),
                            "--saturation", "0"])
    assert r.exit_code == 0
    rgb = np.asarray(Image.open(out)).astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 1]).max() <= 1


def test_missing_input_and_bad_model_are_one_line_errors(tmp_path, tiny_model):
    r = runner.invoke(app, ["folder", str(tmp_path / "nope"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "not found" in r.output
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(gradient_gray(10, 10)).save(src / "a.png")
    r = runner.invoke(app, ["folder", str(src), "-o", str(tmp_path / "o"), "--model", "nosuch"])
    assert r.exit_code == 2 and "unknown model" in r.output


def test_version_and_models():
    from colorize import __version__

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and __version__ in r.output
    r = runner.invoke(app, ["models"])
    assert r.exit_code == 0
    for name in ("gae", "lite", "eccv16", "unet-vae"):
        assert name in r.output


@pytest.mark.parametrize("name", ["o.xyz", "o"])
def test_image_with_an_unwritable_extension_is_a_one_line_error(tmp_path, tiny_model, name):
    work = tmp_path / "work"
    work.mkdir()
    src = work / "g.png"
    Image.fromarray(gradient_gray(30, 30)).save(src)
    r = runner.invoke(app, ["image", str(src), "-o", str(work / name), "--model", str(tiny_model)])
    assert r.exit_code == 2 and "must end in one of" in r.output, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert list(work.iterdir()) == [src]


def test_two_inputs_with_one_output_name_are_refused_before_any_work(tmp_path, tiny_model):
    """a.jpg and a.png both become a.png under --format png: one would silently replace the
    other, so the command refuses up front, and without --format both are written."""
    src, dst = tmp_path / "in", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    rgb = color_image(24, 32, seed=3)
    Image.fromarray(rgb).save(src / "sub" / "a.jpg")
    Image.fromarray(rgb).save(src / "sub" / "a.png")
    Image.fromarray(rgb).save(src / "b.jpg")
    args = ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)]
    r = runner.invoke(app, [*args, "--format", "png"])
    assert r.exit_code == 1
    assert "a.jpg" in r.output and "a.png" in r.output and "--glob" in r.output
    assert not dst.exists() or not any(dst.rglob("*.png"))
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*")
                  if p.is_file()) == ["b.jpg", "sub/a.jpg", "sub/a.png"]


def test_command_list_gives_each_command_one_line():
    r = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert r.exit_code == 0
    rows = [line.strip("│ ").rstrip() for line in r.output.splitlines()
            if line.startswith("│ ") and not line.startswith("│   ")]
    commands = [row for row in rows if row.split(" ")[0] in
                ("folder", "image", "video", "frames", "models", "export", "train", "tune",
                 "eval")]
    assert len(commands) == 9 and all(row.endswith(".") for row in commands), rows


def test_rate_column_reports_work_done_over_time_unless_given_a_rate():
    from rich.progress import Progress

    from colorize.cli.progress import RateColumn

    clock = [0.0]
    progress = Progress(RateColumn("img"), get_time=lambda: clock[0], disable=True)
    counted = progress.add_task("a", total=20)
    given = progress.add_task("b", total=20, rate=7.0)
    progress.update(counted, advance=10)
    clock[0] = 4.0
    column = RateColumn("img")
    assert column.render(progress.tasks[counted]).plain == "2.5 img/s"
    assert column.render(progress.tasks[given]).plain == "7.0 img/s"


def test_jpeg2000_scans_are_read_at_16_bits_and_written_as_png(tmp_path, tiny_model):
    import cv2

    src = tmp_path / "archive"
    src.mkdir()
    gray = gradient_gray(48, 64, depth=16)
    assert cv2.imwrite(str(src / "page.jp2"), gray)
    decoded = cv2.imread(str(src / "page.jp2"), cv2.IMREAD_UNCHANGED)
    assert decoded.dtype == np.uint16
    dst = tmp_path / "out"
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)])
    assert r.exit_code == 0, r.output
    assert [p.name for p in dst.iterdir()] == ["page.png"]
    out = cv2.imread(str(dst / "page.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (48, 64, 3)
    # the luminance is the scan's own (within what the gamut fit moves, well under an 8-bit
    # step: 0.4 L at mid-gray), and it has colour
    rgb = out[..., ::-1].astype(np.float32) / 65535.0
    want = gray_to_l(decoded.astype(np.float32) / 65535.0)
    assert np.abs(rgb_to_lab(rgb)[..., 0] - want).max() < 0.25
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 0.004


def test_a_multi_page_tiff_is_colorized_with_a_note_on_the_pages_left(tmp_path, tiny_model):
    src = tmp_path / "pages"
    src.mkdir()
    first, second = (Image.fromarray(gradient_gray(40, 48)),
                     Image.fromarray(255 - gradient_gray(40, 48)))
    first.save(src / "book.tif", save_all=True, append_images=[second])
    dst = tmp_path / "out"
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "book.tif: 2 pages; only the first was colorized" in r.output
    with Image.open(dst / "book.tif") as im:
        assert getattr(im, "n_frames", 1) == 1 and im.size == (48, 40)
    r = runner.invoke(app, ["image", str(src / "book.tif"), "-o", str(tmp_path / "one.png"),
                            "--model", str(tiny_model)], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "2 pages; only the first was colorized" in r.output
