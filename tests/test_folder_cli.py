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


def test_macos_resource_forks_are_passed_over(tmp_path, tiny_model):
    # a folder zipped or copied on a Mac holds "._name.jpg" resource forks and __MACOSX/:
    # not pictures, so neither images that failed nor outputs
    src = tmp_path / "in"
    (src / "__MACOSX").mkdir(parents=True)
    Image.fromarray(gradient_gray(40, 60)).save(src / "a.jpg")
    fork = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "
    (src / "._a.jpg").write_bytes(fork)
    (src / "__MACOSX" / "._a.jpg").write_bytes(fork)
    dst = tmp_path / "out"
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)])
    assert r.exit_code == 0, r.output
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*")) == ["a.jpg"]
    assert "._a" not in r.output


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


def test_image_into_an_existing_folder_keeps_the_name(tmp_path, tiny_model):
    import cv2

    src = tmp_path / "scan.pgm"
    assert cv2.imwrite(str(src), gradient_gray(30, 40))
    folder = tmp_path / "colored"
    folder.mkdir()
    r = runner.invoke(app, ["image", str(src), "-o", str(folder), "--model", str(tiny_model)])
    assert r.exit_code == 0, r.output
    assert [p.name for p in folder.iterdir()] == ["scan.png"]  # PGM is written as PNG
    r = runner.invoke(app, ["image", str(src), "-o", str(folder), "--model", str(tiny_model)])
    assert r.exit_code == 1 and "scan.png exists; pass --overwrite" in r.output
    r = runner.invoke(app, ["image", str(tmp_path), "-o", str(folder), "--model",
                            str(tiny_model)])
    assert r.exit_code == 2 and "is a folder (use `colorize folder`)" in r.output


def test_an_output_that_is_the_input_is_refused_even_with_overwrite(tmp_path, tiny_model):
    src = tmp_path / "scans"
    src.mkdir()
    Image.fromarray(gradient_gray(30, 30)).save(src / "a.png")
    before = (src / "a.png").read_bytes()
    for args in (["folder", str(src), "-o", str(tmp_path / "scans" / ".." / "scans")],
                 ["image", str(src / "a.png"), "-o", str(src / "a.png")],
                 ["image", str(src / "a.png"), "-o", str(src)]):
        r = runner.invoke(app, [*args, "--model", str(tiny_model), "--overwrite"])
        assert r.exit_code == 2 and "is the input" in r.output, (args, r.output)
    assert (src / "a.png").read_bytes() == before and len(list(src.iterdir())) == 1


def test_samples_refuse_to_replace_an_existing_sample(tmp_path, tiny_model):
    src = tmp_path / "g.png"
    Image.fromarray(gradient_gray(30, 30)).save(src)
    (tmp_path / "o_2.png").write_bytes(b"keep me")
    r = runner.invoke(app, ["image", str(src), "-o", str(tmp_path / "o.png"), "--model",
                            str(tiny_model), "--samples", "2"])
    # checked before the model loads (the tiny model has no latent input, which would be the
    # next error): nothing is written and the old sample is untouched
    assert r.exit_code == 1 and "o_2.png exists" in r.output, r.output
    assert (tmp_path / "o_2.png").read_bytes() == b"keep me"
    assert not (tmp_path / "o_1.png").exists()


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


def test_models_descriptions_are_whole_in_a_wide_terminal():
    """Descriptions are not squeezed into a narrow table column: each fits on its line."""
    from colorize.registry import get_spec, list_models

    r = runner.invoke(app, ["models"], env={"COLUMNS": "120"})
    assert r.exit_code == 0
    for name in list_models():
        assert get_spec(name).description in r.output, name


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


def test_every_page_of_a_multi_page_tiff_is_colorized_into_a_multi_page_tiff(tmp_path,
                                                                             tiny_model):
    import tifffile

    src = tmp_path / "pages"
    src.mkdir()
    first, second = gradient_gray(40, 48), gradient_gray(30, 20, depth=16)[::-1].copy()
    third = np.dstack([gradient_gray(24, 24), np.full((24, 24), 200, np.uint8)])
    with tifffile.TiffWriter(src / "book.tif") as writer:  # pages of their own size and depth
        writer.write(first, photometric="minisblack", resolution=(300, 300),
                     resolutionunit="INCH")
        writer.write(second, photometric="minisblack", resolution=(600, 600),
                     resolutionunit="INCH")
        writer.write(third, photometric="minisblack", extrasamples=("unassalpha",))
    dst = tmp_path / "out"
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "only the first" not in r.output
    with tifffile.TiffFile(dst / "book.tif") as tif:
        pages = [(p.asarray(), p.tags.get("XResolution")) for p in tif.pages]
    assert [(a.shape, a.dtype) for a, _ in pages] == [
        ((40, 48, 3), np.uint8), ((30, 20, 3), np.uint16), ((24, 24, 4), np.uint8)]
    assert [pages[i][1].value for i in (0, 1)] == [(300, 1), (600, 1)]
    assert pages[2][1] is None or pages[2][1].value == (1, 1)  # none: not page 1's 300
    assert (pages[2][0][..., 3] == 200).all()  # the page's alpha kept
    for (out, _), gray, peak in ((pages[0], first, 255), (pages[1], second, 65535)):
        rgb = out.astype(np.float32) / peak
        want = gray_to_l(gray.astype(np.float32) / peak)
        assert np.abs(rgb_to_lab(rgb)[..., 0] - want).max() < 0.5  # each page's own tones
    # another output format holds one page: the first, with a note saying how to keep all
    r = runner.invoke(app, ["image", str(src / "book.tif"), "-o", str(tmp_path / "one.png"),
                            "--model", str(tiny_model)], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "3 pages; only the first was colorized" in r.output
    assert "--format tif" in r.output


def test_a_multi_page_tiff_with_an_unreadable_page_leaves_no_output(tmp_path, tiny_model,
                                                                     monkeypatch):
    import os

    import colorize.core.batch as batch
    from colorize.core.errors import ImageReadError

    src = tmp_path / "pages"
    src.mkdir()
    Image.fromarray(gradient_gray(40, 48)).save(
        src / "book.tif", save_all=True, append_images=[Image.fromarray(gradient_gray(40, 48))])
    real = batch.read_image

    def second_page_fails(path, max_pixels=0, page=0):
        if page == 1:
            raise ImageReadError(path, "cannot decode (page 2 damaged)")
        return real(path, max_pixels, page=page)

    monkeypatch.setattr(batch, "read_image", second_page_fails)
    r = runner.invoke(app, ["image", str(src / "book.tif"), "-o", str(tmp_path / "o.tif"),
                            "--model", str(tiny_model)], env={"COLUMNS": "200"})
    assert r.exit_code == 1 and "page 2 damaged" in r.output
    assert [n for n in os.listdir(tmp_path) if "o.tif" in n] == []  # nor its partial

def test_scanner_pnm_gif_and_jfif_inputs_are_read_and_written_as_png_or_jpeg(tmp_path,
                                                                             tiny_model):
    import cv2

    src = tmp_path / "scanner"
    src.mkdir()
    deep = gradient_gray(40, 56, depth=16)
    assert cv2.imwrite(str(src / "deep.pgm"), deep)  # 16-bit PGM (maxval 65535)
    Image.fromarray(gradient_gray(40, 56)).convert("1").save(src / "line.pbm")
    frames = [Image.fromarray(gradient_gray(40, 56)), Image.fromarray(255 - gradient_gray(40, 56))]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(gradient_gray(40, 56)).save(src / "old.jfif", format="JPEG")
    from PIL import features

    avif = features.check("avif")
    if avif:
        Image.fromarray(gradient_gray(40, 56)).convert("RGB").save(src / "phone.avif")
    dst = tmp_path / "out"
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in dst.iterdir()) == ["anim.png", "deep.png", "line.png",
                                                     "old.jpg"] + (["phone.png"] if avif else [])
    out = cv2.imread(str(dst / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (40, 56, 3)
    rgb = out[..., ::-1].astype(np.float32) / 65535.0
    want = gray_to_l(deep.astype(np.float32) / 65535.0)
    assert np.abs(rgb_to_lab(rgb)[..., 0] - want).max() < 0.25  # the 16-bit levels kept
    assert "anim.gif: 2 frames (an animation); only the first was colorized" in r.output


def test_files_that_are_not_images_are_named_in_a_note_not_dropped_silently(tmp_path,
                                                                            tiny_model):
    src = tmp_path / "mixed"
    src.mkdir()
    Image.fromarray(gradient_gray(32, 32)).save(src / "a.png")
    for name in ("layers.psd", "raw1.dng", "raw2.DNG", "notes.txt", "README.md", ".DS_Store"):
        (src / name).write_bytes(b"x")
    dst = tmp_path / "out"
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)],
                      env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    # pictures in other formats are named; notes and system files beside them are not
    assert "3 files left alone: not an image format read here (.dng 2, .psd 1;" in r.output
    # a --glob that leaves them out is the user's choice: no note
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model),
                            "--glob", "*.png", "--overwrite"], env={"COLUMNS": "300"})
    assert r.exit_code == 0 and "left alone" not in r.output, r.output
    # nothing to do: the error says what was there
    (src / "a.png").unlink()
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)],
                      env={"COLUMNS": "300"})
    assert r.exit_code == 1 and "no images found" in r.output and ".psd 1" in r.output
    assert ".txt" not in r.output.split("read:")[0]


def test_off_a_terminal_long_runs_log_plain_progress_lines(tmp_path, tiny_model, monkeypatch):
    import colorize.cli.progress as progress

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(gradient_gray(24, 32)).save(src / f"p{i}.png")
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)  # a line at every update
    r = runner.invoke(app, ["folder", str(src), "-o", str(tmp_path / "out"), "--model",
                            str(tiny_model), "--workers", "1"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("colorize ") and " img, " in ln]
    assert [ln.split()[1] for ln in lines] == ["1/3", "2/3", "3/3"], r.output
    assert all("img/s, elapsed" in ln for ln in lines)
    monkeypatch.setattr(progress, "LOG_EVERY_S", 3600.0)  # the default: none in a short run
    r = runner.invoke(app, ["folder", str(src), "-o", str(tmp_path / "out2"), "--model",
                            str(tiny_model)])
    assert r.exit_code == 0 and " img, " not in r.output


def test_heic_photos_are_read_through_pillow_heif_and_written_as_jpeg(tmp_path, tiny_model):
    pytest.importorskip("pillow_heif")  # the [heic] extra, in [dev]
    import pillow_heif

    pillow_heif.register_heif_opener()
    src = tmp_path / "phone"
    src.mkdir()
    exif = Image.Exif()
    exif[0x010E] = "Grandparents, 1952"
    Image.fromarray(gradient_gray(40, 56)).convert("RGB").save(src / "IMG_0001.HEIC", exif=exif)
    dst = tmp_path / "out"
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)])
    assert r.exit_code == 0, r.output
    with Image.open(dst / "IMG_0001.jpg") as im:
        assert im.size == (56, 40) and im.getexif()[0x010E] == "Grandparents, 1952"
        assert np.abs(np.asarray(im, np.float32)[..., 0] - np.asarray(im, np.float32)[..., 2]
                      ).mean() > 1  # colorized


def test_without_pillow_heif_heic_files_are_named_with_the_extra_to_install(monkeypatch):
    from pathlib import Path

    from colorize.core import batch

    monkeypatch.setattr(batch, "INPUT_SUFFIXES", {".png"})
    text = batch.describe_ignored([Path("a.heic"), Path("b.dng")])
    assert "HEIC needs pip install 'colorize[heic]'" in text
    assert "HEIC" not in batch.describe_ignored([Path("b.dng")])


def test_a_note_shared_by_many_images_is_one_line_with_a_count(tmp_path, tiny_model):
    src = tmp_path / "book"
    src.mkdir()
    pages = [Image.fromarray(gradient_gray(24, 32)), Image.fromarray(gradient_gray(24, 32))]
    for i in range(5):  # five two-page TIFFs written as PNG: five times the same note
        pages[0].save(src / f"b{i}.tif", save_all=True, append_images=pages[1:])
    pages[0].save(src / "single.tif", save_all=True, append_images=pages[1:3] * 2)
    r = runner.invoke(app, ["folder", str(src), "-o", str(tmp_path / "out"), "--model",
                            str(tiny_model), "--format", "png"], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    many = [ln for ln in r.output.splitlines() if "2 pages; only the first" in ln]
    assert len(many) == 1 and many[0].startswith("note 5 images (") and "b0.tif" in many[0]
    few = [ln for ln in r.output.splitlines() if "3 pages; only the first" in ln]
    assert len(few) == 1 and "single.tif: 3 pages" in few[0]


def test_what_the_output_format_cannot_hold_is_named(tmp_path, tiny_model):
    import cv2

    src = tmp_path / "in"
    src.mkdir()
    assert cv2.imwrite(str(src / "deep.png"), gradient_gray(24, 32, depth=16))
    rgba = np.dstack([np.stack([gradient_gray(24, 32)] * 3, -1), np.full((24, 32), 128,
                                                                          np.uint8)])
    Image.fromarray(rgba, "RGBA").save(src / "cut.png")
    r = runner.invoke(app, ["folder", str(src), "-o", str(tmp_path / "out"), "--model",
                            str(tiny_model), "--format", "jpg"], env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    assert "deep.png: 16 bits per channel written as 8 into .jpg" in r.output
    assert "cut.png: its transparency could not be written into .jpg" in r.output
    r = runner.invoke(app, ["folder", str(src), "-o", str(tmp_path / "same"), "--model",
                            str(tiny_model)], env={"COLUMNS": "300"})
    assert r.exit_code == 0 and "note" not in r.output  # PNG keeps both


def test_dry_run_says_what_would_be_done_and_touches_nothing(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.png", "c.png"):
        Image.fromarray(gradient_gray(16, 16)).save(src / name)
    (src / "scan.dng").write_bytes(b"raw")
    dst = tmp_path / "out"
    dst.mkdir()
    (dst / "c.png").write_bytes(b"done before")
    # no --model: the bundled one is not even loaded
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--dry-run"],
                      env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    assert "dry run: 2 images to colorize; 1 outputs already there would be skipped" in r.output
    assert f"{src / 'sub' / 'b.png'} -> {dst / 'sub' / 'b.png'}" in r.output
    assert "1 file left alone" in r.output and ".dng 1" in r.output
    assert "model" not in r.output  # nothing loaded
    assert sorted(p.name for p in dst.rglob("*")) == ["c.png"]
    assert (dst / "c.png").read_bytes() == b"done before"
