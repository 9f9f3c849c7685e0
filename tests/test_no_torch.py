"""The inference path must work where torch cannot be imported."""

from __future__ import annotations

import subprocess
import sys

from PIL import Image

from tests.helpers import gradient_gray, make_clip

BLOCK_TORCH = (
    "import sys; sys.modules['torch'] = None; sys.modules['torchvision'] = None; "
    "sys.modules['timm'] = None; sys.modules['onnx'] = None; "
    "from colorize.cli.app import main; sys.argv = ['colorize'] + sys.argv[1:]; main()"
)


def run_blocked(*args):
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH, *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_torch_really_blocked():
    r = subprocess.run([sys.executable, "-c", "import sys; sys.modules['torch'] = None; "
                        "import torch"], capture_output=True, text=True)
    assert r.returncode != 0 and "import of torch halted" in r.stderr


def test_folder_image_video_without_torch(tmp_path, tiny_model):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(gradient_gray(20, 30)).save(src / "a.png")
    r = run_blocked("folder", src, "-o", tmp_path / "out", "--model", tiny_model)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "a.png").exists()
    r = run_blocked("image", src / "a.png", "-o", tmp_path / "b.png", "--model", tiny_model)
    assert r.returncode == 0, r.stderr
    clip = tmp_path / "c.mp4"
    make_clip(clip, frames=6)
    r = run_blocked("video", clip, "-o", tmp_path / "o.mp4", "--model", tiny_model)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o.mp4").exists()
    r = run_blocked("models")
    assert r.returncode == 0 and "lite" in r.stdout


def test_training_commands_say_what_to_install(tmp_path):
    r = run_blocked("train", "--model", "gae", "--data", tmp_path)
    assert r.returncode != 0 and "colorize[train]" in r.stderr
