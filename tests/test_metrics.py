from __future__ import annotations

import numpy as np
import pytest

from colorize.core.metrics import colorfulness, delta_e76, lab_of, psnr, score
from tests.helpers import color_image

pytest.importorskip("skimage")


def test_identical_images():
    img = color_image(32, 32)
    s = score(img, img)
    assert s.de76 == 0 and s.de2000 == 0 and s.psnr == float("inf")
    assert s.ssim == pytest.approx(1.0)


def test_psnr_known_value():
    a = np.zeros((8, 8, 3), np.uint8)
    b = np.full((8, 8, 3), 10, np.uint8)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 100))


def test_gray_colorfulness_is_zero_and_colour_is_not():
    gray = np.repeat(np.arange(64, dtype=np.uint8).reshape(8, 8)[..., None], 3, axis=2)
    assert colorfulness(gray) == 0
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200
    # rg = 200, yb = 100 everywhere: σ = 0, μ term = 0.3 * sqrt(200² + 100²)
    assert colorfulness(red) == pytest.approx(0.3 * np.sqrt(200**2 + 100**2))


def test_delta_e76_is_euclidean_lab():
    a = np.array([[[50.0, 10.0, 0.0]]])
    b = np.array([[[50.0, 13.0, 4.0]]])
    assert delta_e76(a, b)[0, 0] == pytest.approx(5.0)
    img = color_image(4, 4)
    assert lab_of(img).shape == (4, 4, 3)


def test_cdc_and_warp_error_zero_for_static_clip():
    from colorize.core.temporal import cdc, warp_error

    frame = color_image(32, 32)
    gray = frame.mean(-1).astype(np.uint8)
    ab = lab_of(frame)[..., 1:]
    assert cdc([frame] * 6) == 0
    raw, norm = warp_error([ab] * 3, [gray] * 3)
    assert raw == pytest.approx(0, abs=1e-6)


def test_spread_and_held_out_never_overlap():
    from pathlib import Path

    from colorize.core.evaluate import held_out, spread

    files = [Path(f"{i:04d}.jpg") for i in range(1000)]
    evaluated = spread(files, 400)
    assert len(set(evaluated)) == 400 and evaluated[0] == files[0]
    assert evaluated[-1] != files[-1]  # spaced over the whole list, not the first 400
    tuned = held_out(files, 150, exclude=400)
    assert len(set(tuned)) == 150 and not set(tuned) & set(evaluated)
    assert held_out(files, 150, exclude=0) == spread(files, 150)
