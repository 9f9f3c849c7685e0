from __future__ import annotations

import cv2
import numpy as np
import pytest

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
    np.testing.assert_array_equal(lab_to_rgb(lab.copy(), inplace=True), rgb)
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


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (1,), (3, 1), (64, 1), (16, 24)])
def test_limit_chroma_of_any_shape_is_its_pixels_limited_one_by_one(shape):
    # a single pixel included: OpenCV reads an array of 4 numbers or fewer as a scalar
    from colorize.core.pipeline import limit_chroma

    rng = np.random.default_rng(3)
    light = rng.uniform(5, 95, shape).astype(np.float32)
    ab = rng.uniform(-120, 120, (*shape, 2)).astype(np.float32)
    out = limit_chroma(light, ab)
    assert out.shape == ab.shape and out.dtype == np.float32
    one_by_one = np.stack([limit_chroma(np.full((8, 8), lv, np.float32),
                                        np.broadcast_to(abv, (8, 8, 2)).copy())[0, 0]
                           for lv, abv in zip(light.reshape(-1), ab.reshape(-1, 2),
                                              strict=True)])
    np.testing.assert_allclose(out.reshape(-1, 2), one_by_one, rtol=1e-6, atol=1e-5)


def test_limit_chroma_by_table_matches_the_bisection():
    from colorize.core.pipeline import _linear_rgb, limit_chroma

    rng = np.random.default_rng(2)
    light = rng.uniform(0, 100, (128, 128)).astype(np.float32)
    ab = rng.uniform(-120, 120, (128, 128, 2)).astype(np.float32)
    fast, ref = limit_chroma(light, ab), fit_gamut(light, ab)
    rgb = _linear_rgb(join_lab(light, fast))
    assert out_of_gamut(join_lab(light, fast)).mean() < 0.005
    # and then only just outside: up to 0.009 in linear RGB over a million random colours
    assert max(-rgb.min(), rgb.max() - 1) < 0.01
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


def test_gray_to_l_by_table_is_the_formula_bit_for_bit():
    from colorize.core.color import _gray_to_l

    rng = np.random.default_rng(3)
    g8 = rng.integers(0, 256, (120, 130)).astype(np.float32) / 255.0
    g16 = rng.integers(0, 65536, (120, 130)).astype(np.float32) / 65535.0
    noisy = rng.random((120, 130), dtype=np.float32)  # not k / levels: the formula
    for g in (g8, g16, noisy):
        for levels in (255, 65535, None):
            np.testing.assert_array_equal(gray_to_l(g, levels), _gray_to_l(g))


def test_gamut_suspects_include_every_pixel_outside_the_gamut():
    from colorize.core.pipeline import gamut_suspects

    rng = np.random.default_rng(4)
    # uniform colours, plus the hard places: the yellow cusp (L ~97, hue ~104) and both ends
    light = np.concatenate([rng.uniform(0, 100, 300_000), rng.uniform(90, 100, 300_000),
                            rng.uniform(0, 2, 100_000), rng.uniform(98, 100, 100_000)])
    hue = np.radians(np.concatenate([rng.uniform(0, 360, 300_000), rng.uniform(80, 130, 300_000),
                                     rng.uniform(0, 360, 200_000)]))
    chroma = rng.uniform(0, 140, light.size) * rng.choice([1.0, 0.5, 0.2], light.size)
    light = light.astype(np.float32).reshape(800, 1000)
    ab = np.stack([chroma * np.cos(hue), chroma * np.sin(hue)], -1).astype(np.float32)
    ab = ab.reshape(800, 1000, 2)
    outside = np.flatnonzero(out_of_gamut(join_lab(light, ab)))
    suspects = gamut_suspects(light, ab)
    assert outside.size > 100_000
    assert np.isin(outside, suspects).all()
    assert suspects.size < 1.2 * outside.size  # and it does clear most of the rest


def test_table_lookup_takes_maps_longer_than_opencv_allows():
    from colorize.core.pipeline import _lookup, chroma_limits

    rng = np.random.default_rng(5)
    col = rng.uniform(0, 720, (40_000, 1)).astype(np.float32)
    row = rng.uniform(0, 400, (40_000, 1)).astype(np.float32)
    long = _lookup(chroma_limits(), col, row)  # cv2.remap alone refuses 40000 rows
    square = _lookup(chroma_limits(), col.reshape(200, 200), row.reshape(200, 200))
    assert long.shape == (40_000, 1)
    np.testing.assert_array_equal(long.reshape(200, 200), square)


def test_merge_keeps_luminance_and_gamut_where_grain_pushes_many_pixels_out():
    from colorize.core.pipeline import merge

    rng = np.random.default_rng(6)
    # a near-white area with grain under a vivid prediction: most full-resolution pixels
    # leave the gamut once the working-size colour is upsampled onto them
    light = np.clip(96 + rng.normal(0, 2.5, (300, 40_000)), 0, 100).astype(np.float32)
    ab_small = np.zeros((8, 1024, 2), np.float32)
    ab_small[..., 1] = 80  # yellow
    lab = rgb_to_lab(merge(light, ab_small, 1.0))
    # a colour left outside the gamut is clipped in RGB, which moves its L: without the
    # full-resolution fit this image's L moves by up to 1.05 (mean 0.27); what is left here
    # is OpenCV's float Lab round trip
    error = np.abs(lab[..., 0] - light)
    assert error.max() < 0.3 and error.mean() < 0.12
    assert np.median(lab[..., 2]) > 10  # colour kept where the gamut allows it
