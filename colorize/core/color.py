"""sRGB <-> CIELAB (D65) via OpenCV, plus the normalisation shared by training and inference."""

from __future__ import annotations

import functools

import cv2
import numpy as np

# Normalisation used by every model: L in [0, 100] -> [-1, 1]; ab / AB_SCALE -> [-1, 1].
L_CENTER = 50.0
L_SCALE = 50.0
AB_SCALE = 110.0
AB_MIN, AB_MAX = -128.0, 127.0
_LAB_LOW = (-1e30, AB_MIN, AB_MIN, 0.0)
_LAB_HIGH = (1e30, AB_MAX, AB_MAX, 0.0)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """float32 sRGB in [0, 1] (H, W, 3) -> float32 Lab (L in [0, 100], ab in CIELAB units)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2Lab)


def join_lab(light: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """L (...) and ab (..., 2) -> float32 Lab (..., 3), without np.concatenate's slow path."""
    if light.ndim == 2 and ab.ndim == 3 and light.dtype == ab.dtype == np.float32:
        return cv2.merge((light, ab))  # ~6x faster than filling strided channel views
    lab = np.empty((*light.shape, 3), np.float32)
    lab[..., 0] = light
    lab[..., 1:] = ab
    return lab


def lab_to_rgb(lab: np.ndarray, inplace: bool = False) -> np.ndarray:
    """float32 Lab -> float32 sRGB clipped to [0, 1]. ab is clipped to the valid range first.

    inplace: convert in the given array (a contiguous float32 (H, W, 3) that the caller no
    longer needs), which saves two full-size copies on a large scan."""
    shape = np.shape(lab)
    if inplace and lab.ndim == 3 and lab.dtype == np.float32 and lab.flags.c_contiguous:
        cv2.max(lab, _LAB_LOW, dst=lab)
        cv2.min(lab, _LAB_HIGH, dst=lab)
        cv2.cvtColor(lab, cv2.COLOR_Lab2RGB, dst=lab)
        return np.clip(lab, 0.0, 1.0, out=lab)
    lab = np.ascontiguousarray(lab, dtype=np.float32)
    if lab.ndim != 3:
        lab = lab.reshape(-1, 1, 3)  # OpenCV sees (H, W, 3) as three channels
    if lab.size > 12:
        # per-channel bounds as OpenCV scalars: ~10x faster than np.clip on the strided ab
        # view (OpenCV would take an array of 4 numbers or fewer for a scalar itself)
        lab = cv2.max(lab, _LAB_LOW)  # a copy: the caller's array is left alone
        cv2.min(lab, _LAB_HIGH, dst=lab)
    else:
        lab = lab.copy()
        np.clip(lab[..., 1:], AB_MIN, AB_MAX, out=lab[..., 1:])
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    return np.clip(rgb, 0.0, 1.0, out=rgb).reshape(shape)


def gray_to_l(gray: np.ndarray, levels: int | None = None) -> np.ndarray:
    """float32 gray in [0, 1] -> CIELAB L in [0, 100] (exact for neutral colours).

    levels: 255 or 65535 when the values came from 8- or 16-bit data (k / levels): the
    result is then looked up in a table of the same formula, ~5x faster on a large scan and
    bitwise the same; values that are not all k / levels take the formula."""
    g = gray.astype(np.float32, copy=False)
    if levels in (255, 65535) and g.size >= 4096:
        fast = _gray_to_l_by_table(g, levels)
        if fast is not None:
            return fast
    return _gray_to_l(g)


def _gray_to_l(g: np.ndarray) -> np.ndarray:
    g = np.clip(g, 0.0, 1.0)
    lin = np.where(g <= 0.04045, g / 12.92, ((g + 0.055) / 1.055) ** 2.4)
    f = np.where(lin > 0.008856, np.cbrt(lin), 7.787 * lin + 16.0 / 116.0)
    return (116.0 * f - 16.0).astype(np.float32)


@functools.lru_cache(maxsize=2)
def _level_tables(levels: int) -> tuple[np.ndarray, np.ndarray]:
    values = np.arange(levels + 1, dtype=np.float32) / np.float32(levels)
    return values, _gray_to_l(values)


def _gray_to_l_by_table(g: np.ndarray, levels: int) -> np.ndarray | None:
    values, table = _level_tables(levels)
    if levels == 255:
        code = cv2.convertScaleAbs(g, alpha=255.0)  # rounded and saturated to uint8
        if not np.array_equal(cv2.LUT(code, values), g):
            return None
        return cv2.LUT(code, table)
    code = np.rint(np.clip(g, 0.0, 1.0) * np.float32(levels)).astype(np.uint16)
    if not np.array_equal(values[code], g):
        return None
    return table[code]


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear light (clipped to [0, 1]) -> sRGB-encoded values in [0, 1]."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear,
                    1.055 * np.power(linear, 1 / 2.4) - 0.055)


def l_to_gray(light: np.ndarray) -> np.ndarray:
    """Inverse of gray_to_l: L in [0, 100] -> sRGB gray in [0, 1]."""
    fy = (light.astype(np.float32) + 16.0) / 116.0
    lin = np.where(fy > 0.206893, fy**3, (fy - 16.0 / 116.0) / 7.787)
    return srgb_encode(lin).astype(np.float32)


def normalize_l(light: np.ndarray) -> np.ndarray:
    return (light - L_CENTER) / L_SCALE


def luminance(rgb: np.ndarray) -> np.ndarray:
    """L channel of an sRGB float image: colour scans (sepia, tinted) become neutral gray."""
    return rgb_to_lab(rgb)[..., 0]
