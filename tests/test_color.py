from __future__ import annotations

import cv2
import numpy as np

from colorize.core.color import gray_to_l, join_lab, l_to_gray, lab_to_rgb, rgb_to_lab
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


def test_lab_to_rgb_any_shape_leaves_input_alone_and_join_lab_paths_agree():
    rng = np.random.default_rng(1)
    light = rng.uniform(0, 100, (5, 7)).astype(np.float32)
    ab = rng.uniform(-200, 200, (5, 7, 2)).astype(np.float32)
    lab = join_lab(light, ab)  # the OpenCV merge path
    flat = join_lab(light.ravel(), ab.reshape(-1, 2))  # the numpy path
    np.testing.assert_array_equal(lab.reshape(-1, 3), flat)
    kept = lab.copy()
    rgb = lab_to_rgb(lab)
    np.testing.assert_array_equal(lab, kept)  # ab clipped in a copy, not in place
    assert rgb.shape == (5, 7, 3) and rgb.min() >= 0 and rgb.max() <= 1
    np.testing.assert_array_equal(lab_to_rgb(flat), rgb.reshape(-1, 3))
    np.testing.assert_array_equal(lab_to_rgb(lab[:1, :1]), rgb[:1, :1])  # 3 numbers
    clipped = lab.copy()
    clipped[..., 1:] = np.clip(clipped[..., 1:], -128, 127)
    np.testing.assert_allclose(rgb, np.clip(cv2.cvtColor(clipped, cv2.COLOR_Lab2RGB), 0, 1))


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


def test_limit_chroma_by_table_matches_the_bisection():
    from colorize.core.pipeline import _linear_rgb, limit_chroma

    rng = np.random.default_rng(2)
    light = rng.uniform(0, 100, (128, 128)).astype(np.float32)
    ab = rng.uniform(-120, 120, (128, 128, 2)).astype(np.float32)
    fast, ref = limit_chroma(light, ab), fit_gamut(light, ab)
    rgb = _linear_rgb(join_lab(light, fast))
    assert out_of_gamut(join_lab(light, fast)).mean() < 0.005
    assert max(-rgb.min(), rgb.max() - 1) < 0.005  # and then only just outside
    # hue kept
    c_in, c_fast = np.linalg.norm(ab, axis=-1), np.linalg.norm(fast, axis=-1)
    dots = (fast * ab).sum(-1) / (c_fast * c_in + 1e-9)
    assert np.all(dots[c_fast > 1] > 0.999)
    # the same chroma as fit_gamut's 6 bisection steps, to their resolution (1/64)
    c_ref = np.linalg.norm(ref, axis=-1)
    assert np.median(np.abs(c_fast - c_ref)) < 1.0
    assert np.mean(c_fast >= 0.97 * c_ref) > 0.99
    # colours well inside the gamut are left exactly as they are (bar a few where the
    # bilinear table cuts a corner of the boundary, as at the yellow cusp)
    inside = ref * 0.9
    assert np.all(limit_chroma(light, inside) == inside, axis=-1).mean() > 0.999
