from __future__ import annotations

import numpy as np

from colorize.core.color import gray_to_l, l_to_gray, lab_to_rgb, rgb_to_lab
from colorize.core.pipeline import fit_gamut, out_of_gamut
from colorize.core.video import ChromaMaker


def test_gray_l_roundtrip_and_matches_opencv():
    g = np.linspace(0, 1, 101, dtype=np.float32)
    light = gray_to_l(g)
    np.testing.assert_allclose(l_to_gray(light), g, atol=1e-4)
    rgb = np.repeat(g[None, :, None], 3, axis=2)
    # OpenCV's float conversion approximates the sRGB curve to ~0.15 L
    np.testing.assert_allclose(rgb_to_lab(rgb)[0, :, 0], light, atol=0.25)


def test_lab_to_rgb_clips_ab_range():
    lab = np.array([[[50.0, 300.0, -300.0]]], np.float32)
    rgb = lab_to_rgb(lab)
    assert rgb.min() >= 0 and rgb.max() <= 1


def test_fit_gamut_keeps_hue_and_makes_every_pixel_displayable():
    rng = np.random.default_rng(0)
    light = rng.uniform(0, 100, (16, 16)).astype(np.float32)
    ab = rng.uniform(-120, 120, (16, 16, 2)).astype(np.float32)
    fitted = fit_gamut(light, ab)
    lab = np.dstack([light, fitted])
    assert out_of_gamut(lab).mean() < 0.01
    # only the chroma shrinks: the direction in the ab plane is unchanged
    dots = (fitted * ab).sum(-1) / (np.linalg.norm(fitted, axis=-1) * np.linalg.norm(ab, axis=-1)
                                    + 1e-9)
    big = np.linalg.norm(fitted, axis=-1) > 1
    assert np.all(dots[big] > 0.999)
    back = rgb_to_lab(lab_to_rgb(lab))[..., 0]
    assert np.abs(back - light).mean() < 0.5


def test_chroma_planes_neutral_for_zero_ab():
    maker = ChromaMaker(0.2126, 0.0722, full_range=False)
    light = np.full((8, 8), 60, np.float32)
    u, v = maker.planes(light, np.zeros((8, 8, 2), np.float32), (4, 4))
    assert u.shape == (4, 4) and np.all(u == 128) and np.all(v == 128)
    u, v = maker.planes(light, np.dstack([np.full((8, 8), 40.0), np.zeros((8, 8))]).astype(
        np.float32), (4, 4))
    assert v.mean() > 128  # +a (red) raises Cr
