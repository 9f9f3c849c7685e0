"""Property-based: any size, mode and depth keeps size, alpha, depth and luminance."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from colorize.core.color import rgb_to_lab
from colorize.core.imageio import encode_image, read_image
from colorize.core.pipeline import Settings, colorize_picture, luminance_of
from colorize.core.session import Colorizer
from tests.helpers import make_tiny_onnx, tiny_metadata

_MODEL = {}


def colorizer(tmp_path_factory):
    if "c" not in _MODEL:
        path = tmp_path_factory.mktemp("model") / "tiny.onnx"
        _MODEL["c"] = Colorizer(make_tiny_onnx(path, tiny_metadata(), gain=90.0))
    return _MODEL["c"]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h=st.integers(1, 70), w=st.integers(1, 70),
       mode=st.sampled_from(["L", "RGB", "RGBA", "LA", "L16", "RGB16"]),
       suffix=st.sampled_from([".png", ".tif"]), seed=st.integers(0, 1000))
def test_size_alpha_depth_and_luminance_kept(tmp_path_factory, h, w, mode, suffix, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path_factory.mktemp("p") / f"in{suffix}"
    import cv2

    if mode == "L16":
        cv2.imwrite(str(path), rng.integers(0, 65536, (h, w), dtype=np.uint16))
    elif mode == "RGB16":
        cv2.imwrite(str(path), rng.integers(0, 65536, (h, w, 3), dtype=np.uint16))
    else:
        chans = {"L": 1, "RGB": 3, "RGBA": 4, "LA": 2}[mode]
        arr = rng.integers(0, 256, (h, w, chans), dtype=np.uint8)
        Image.fromarray(arr[..., 0] if chans == 1 else arr, mode).save(path)
    pic = read_image(path)
    rgb = colorize_picture(pic, colorizer(tmp_path_factory), Settings(saturation=1.0))
    assert rgb.shape == (h, w, 3)
    data = encode_image(rgb, pic.alpha, pic.depth, suffix)
    out = tmp_path_factory.mktemp("o") / f"out{suffix}"
    out.write_bytes(data)
    back = read_image(out)
    assert back.depth == pic.depth == (16 if mode.endswith("16") else 8)
    assert back.size == (w, h)
    assert (back.alpha is None) == (pic.alpha is None)
    if pic.alpha is not None:
        np.testing.assert_array_equal(back.alpha, pic.alpha)
    lin = luminance_of(pic)
    lout = rgb_to_lab(back.pixels)[..., 0]
    tol = 0.5 if pic.depth == 8 else 0.2  # 8-bit rounding is ~0.4 L units
    assert np.abs(lout - lin).mean() < tol
