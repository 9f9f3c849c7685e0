"""A bad-input corpus built in tmp_path: every file gets one clear line, the batch goes on."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from colorize.cli.app import app
from colorize.core.errors import ImageReadError
from colorize.core.imageio import read_image
from tests.helpers import color_image, gradient_gray

runner = CliRunner()


def png_header_only(path, width, height):
    """A PNG that claims width x height (a decompression bomb) with almost no data."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))


def test_bomb_refused_before_allocation(tmp_path):
    bomb = tmp_path / "bomb.png"
    png_header_only(bomb, 30000, 30000)
    with pytest.raises(ImageReadError, match="pixel limit"):
        read_image(bomb)


@pytest.fixture
def corpus(tmp_path):
    src = tmp_path / "archive"
    src.mkdir()
    (src / "zero.jpg").write_bytes(b"")
    Image.fromarray(color_image(64, 64)).save(src / "trunc.jpg")
    (src / "trunc.jpg").write_bytes((src / "trunc.jpg").read_bytes()[:200])
    Image.fromarray(gradient_gray(64, 64)).save(src / "trunc.png")
    (src / "trunc.png").write_bytes((src / "trunc.png").read_bytes()[:100])
    (src / "text.jpg").write_text("hello")
    png_header_only(src / "bomb.png", 30000, 30000)
    Image.fromarray(np.array([[128]], np.uint8)).save(src / "one.png")
    Image.fromarray(color_image(20, 20)).convert("CMYK").save(src / "cmyk.jpg")
    Image.fromarray(gradient_gray(20, 24, depth=16)).save(src / "g16.png")
    Image.fromarray(gradient_gray(20, 24, depth=16)).save(src / "g16.tif")
    pal = Image.fromarray(color_image(16, 16)).convert("P")
    pal.save(src / "pal.png", transparency=3)
    Image.fromarray(np.dstack([color_image(16, 16), np.full((16, 16), 9, np.uint8)]),
                    "RGBA").save(src / "rgba.png")
    (src / "names with spaces ü").mkdir()
    Image.fromarray(gradient_gray(16, 16)).save(src / "names with spaces ü" / "ñ ok.png")
    os.symlink(src, src / "loop")
    return src


GOOD = {"one.png", "cmyk.jpg", "g16.png", "g16.tif", "pal.png", "rgba.png",
        "names with spaces ü/ñ ok.png"}
BAD = {"zero.jpg", "trunc.jpg", "trunc.png", "text.jpg", "bomb.png"}


def test_corpus_batch_goes_on(corpus, tmp_path, tiny_model):
    dst = tmp_path / "out"
    r = runner.invoke(app, ["folder", str(corpus), "-o", str(dst), "--model", str(tiny_model)])
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    written = {p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()}
    assert written == GOOD
    for name in BAD:
        lines = [ln for ln in r.output.splitlines() if name in ln]
        assert lines, name
    with Image.open(dst / "pal.png") as im:
        assert im.mode == "RGBA"
    import cv2

    assert cv2.imread(str(dst / "g16.tif"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    # the second run loses nothing and writes nothing new
    before = {p: p.stat().st_mtime_ns for p in dst.rglob("*") if p.is_file()}
    r2 = runner.invoke(app, ["folder", str(corpus), "-o", str(dst), "--model", str(tiny_model)])
    assert r2.exit_code == 1
    assert before == {p: p.stat().st_mtime_ns for p in dst.rglob("*") if p.is_file()}


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_output_folder(tmp_path, tiny_model):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(gradient_gray(16, 16)).save(src / "a.png")
    dst = tmp_path / "ro"
    dst.mkdir()
    dst.chmod(0o500)
    try:
        r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)])
    finally:
        dst.chmod(0o700)
    assert r.exit_code == 1 and "cannot write" in r.output


def test_unwritable_output_reported(tmp_path, tiny_model, monkeypatch):
    """Writes made to fail (disk full): one clear line, no corrupt file, exit 1."""
    import tempfile

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(gradient_gray(16, 16)).save(src / "a.png")

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", full)
    dst = tmp_path / "out"
    r = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model)])
    assert r.exit_code == 1 and "No space left on device" in r.output
    assert not (dst / "a.png").exists()


@pytest.mark.parametrize("code, stops", [(28, True), (30, True), (5, False)],
                         ids=["disk full", "read-only", "I/O error"])
def test_a_full_disk_stops_the_batch_at_the_first_image(tmp_path, tiny_model, monkeypatch,
                                                       code, stops):
    """Disk full or a read-only file system: every later write would fail too, so the batch
    stops there instead of colorizing the rest for nothing; another write error is one
    image's failure and the batch goes on."""
    import os
    import tempfile

    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        Image.fromarray(gradient_gray(16, 16)).save(src / f"p{i}.png")
    tries = []

    def refuse(*a, **k):
        tries.append(1)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    r = runner.invoke(app, ["folder", str(src), "-o", str(tmp_path / "out"), "--model",
                            str(tiny_model), "--workers", "1"], env={"COLUMNS": "300"})
    assert r.exit_code == 1, r.output
    if stops:
        assert len(tries) == 1 and "stopped:" in r.output and os.strerror(code) in r.output
        assert "make room and re-run to continue" in r.output
    else:
        assert len(tries) == 6 and "stopped:" not in r.output


def test_folder_sigint_leaves_no_partial_and_resumes(tmp_path, tiny_model):
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "in"
    src.mkdir()
    for i in range(300):
        Image.fromarray(gradient_gray(600, 800)).save(src / f"p{i:03d}.png")
    dst = tmp_path / "out"
    cmd = [sys.executable, "-m", "colorize", "folder", str(src), "-o", str(dst), "--model",
           str(tiny_model)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(dst.glob("*.png")):
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    done = list(dst.glob("*.png"))
    assert 0 < len(done) < 300
    assert not [p for p in dst.iterdir() if p.name.startswith(".")]
    for p in done:  # every finished file is complete
        with Image.open(p) as im:
            im.load()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(list(dst.glob("*.png"))) == 300


def test_library_noise_stays_off_the_terminal(tmp_path, tiny_model):
    # OpenCV logs its own decoder errors to stderr (OpenCV 5 fails on a tiled TIFF page with
    # an Orientation tag, which Pillow then reads) and Pillow warns about a damaged EXIF
    # block: the user should see colorize's own lines only
    import subprocess
    import sys

    import cv2
    import tifffile

    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "tiled.tif", color_image(64, 64), photometric="rgb", tile=(16, 16),
                     extratags=[(274, "H", 1, 6, True)])
    ok, data = cv2.imencode(".tif", gradient_gray(300, 300, depth=16))
    (src / "cut.tif").write_bytes(data.tobytes()[:5000])
    r = subprocess.run([sys.executable, "-m", "colorize", "folder", str(src), "-o",
                        str(tmp_path / "out"), "--model", str(tiny_model)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr  # cut.tif fails, tiled.tif is done
    text = r.stdout + r.stderr
    assert (tmp_path / "out" / "tiled.tif").is_file()
    assert "cut.tif" in text
    for noise in ("[ERROR", "WARN:", "Warning", "grfmt_tiff"):
        assert noise not in text, text


def test_a_bug_is_one_line_and_exit_3_unless_the_traceback_is_asked_for(
        tmp_path, tiny_model, monkeypatch, capsys):
    import sys

    import colorize.core.video
    from colorize.cli.app import main
    from tests.helpers import make_clip

    def broken(*args, **kwargs):
        raise ValueError("something colorize did not expect\nsecond line")

    monkeypatch.setattr(colorize.core.video, "colorize_video", broken)
    src = tmp_path / "in.mp4"
    make_clip(src, frames=4, audio=None)
    argv = ["colorize", "video", str(src), "-o", str(tmp_path / "out.mp4"), "--model",
            str(tiny_model)]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.delenv("COLORIZE_TRACEBACK", raising=False)
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 3
    err = capsys.readouterr().err
    assert "unexpected ValueError: something colorize did not expect (a bug" in err
    assert "second line" not in err and "Traceback" not in err
    monkeypatch.setenv("COLORIZE_TRACEBACK", "1")
    with pytest.raises(ValueError):
        main()
