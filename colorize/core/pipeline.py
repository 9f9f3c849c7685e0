"""One image through the model: full-res L -> working size -> ab -> full res -> merged RGB."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from colorize.core.color import (
    AB_MAX,
    AB_MIN,
    gray_to_l,
    join_lab,
    lab_to_rgb,
    rgb_to_lab,
)
from colorize.core.imageio import Picture
from colorize.core.session import Colorizer

GAMUT_STEPS = 6


@dataclass
class Settings:
    size: int | None = None  # working size (long side); None = the model's own
    saturation: float = 1.0
    z: np.ndarray | None = None  # latent sample for models with a z input


def luminance_of(picture: Picture) -> np.ndarray:
    """Full-resolution CIELAB L: colour inputs (sepia, tinted scans) are reduced to luminance."""
    if picture.pixels.ndim == 2:
        return gray_to_l(picture.pixels, levels=255 if picture.depth == 8 else 65535)
    return rgb_to_lab(picture.pixels)[..., 0].copy()


def resize_plane(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = plane.shape[:2]
    if (w, h) == (width, height):
        return plane
    interp = cv2.INTER_AREA if width * height < w * h else cv2.INTER_LINEAR
    return cv2.resize(plane, (width, height), interpolation=interp)


# XYZ (D65, white point folded in) -> linear sRGB
_XYZ_TO_RGB = (np.array([[3.2404542, -1.5371385, -0.4985314],
                         [-0.9692660, 1.8760108, 0.0415560],
                         [0.0556434, -0.2040259, 1.0572252]])
               * np.array([0.95047, 1.0, 1.08883])).astype(np.float32)


def _linear_rgb(lab: np.ndarray) -> np.ndarray:
    """Unclipped Lab (D65) -> linear sRGB, for gamut tests. Any shape (..., 3)."""
    shape = lab.shape
    lab = lab.reshape(-1, 1, 3).astype(np.float32, copy=False)
    f = np.empty_like(lab)
    f[..., 1] = (lab[..., 0] + np.float32(16.0)) * np.float32(1 / 116.0)
    f[..., 0] = f[..., 1] + lab[..., 1] * np.float32(1 / 500.0)
    f[..., 2] = f[..., 1] - lab[..., 2] * np.float32(1 / 200.0)
    lin = np.where(f > np.float32(6.0 / 29.0), f * f * f,
                   np.float32(3 * (6.0 / 29.0) ** 2) * (f - np.float32(4.0 / 29.0)))
    # cv2.transform: the 3x3 matrix over every pixel, several times faster than numpy
    return cv2.transform(lin.astype(np.float32, copy=False), _XYZ_TO_RGB).reshape(shape)


def _inside(rgb: np.ndarray) -> np.ndarray:
    # elementwise min/max of the three planes: much faster than np.all over the last axis
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    low = np.minimum(np.minimum(r, g), b)
    high = np.maximum(np.maximum(r, g), b)
    return (low >= -1e-3) & (high <= 1 + 1e-3)



def fit_gamut(light: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Shrink each pixel's chroma (hue kept) until (L, ab) is a displayable sRGB colour.

    Done at working resolution: clipping RGB instead would change the luminance. Only the
    pixels found outside the gamut are bisected.
    """
    ab = np.clip(ab, AB_MIN, AB_MAX).astype(np.float32)
    bad = _outside(light, ab)
    if not bad.any():
        return ab
    lb, abb = light[bad], ab[bad]
    lo = np.zeros(lb.shape, np.float32)
    hi = np.ones(lb.shape, np.float32)
    for _ in range(GAMUT_STEPS):
        mid = (lo + hi) / 2
        inside = _inside(_linear_rgb(join_lab(lb, abb * mid[:, None])))
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    ab[bad] = abb * lo[:, None]
    return ab


# fit_gamut by table (the video path): the largest displayable chroma for each (L, hue) on a
# grid of L_STEP x HUE_STEP, found once by bisection and interpolated per pixel. A bilinear
# estimate can overshoot the true limit where the gamut's boundary bends (the yellow cusp),
# hence the margin: on uniformly random (L, ab) it leaves 0.03 % of the pixels outside the
# gamut (3 % next to the yellow cusp, L 95-99 and hue 90-120, where the estimate overshoots
# the limit's chroma by up to ~60 % while the boundary runs almost along the chroma axis),
# by at most 0.009 in linear RGB; fit_gamut's 6 bisection steps leave none but give up to
# 1/64 of the chroma needlessly
LIMIT_L_STEP = 0.25
LIMIT_HUE_STEP = 0.5  # degrees
LIMIT_MARGIN = 0.995


@functools.lru_cache(maxsize=1)
def chroma_limits() -> np.ndarray:
    """Table (L, hue) -> the largest chroma C with (L, C cos h, C sin h) inside sRGB."""
    light = np.arange(0, 100 + 1e-6, LIMIT_L_STEP, dtype=np.float32)
    hue = np.deg2rad(np.arange(0, 360 + 1e-6, LIMIT_HUE_STEP, dtype=np.float32))
    ll, hh = np.meshgrid(light, hue, indexing="ij")
    cos, sin = np.cos(hh), np.sin(hh)
    lo = np.zeros(ll.shape, np.float32)
    hi = np.full(ll.shape, 200.0, np.float32)  # beyond any sRGB colour's chroma (~134)
    for _ in range(16):
        mid = (lo + hi) / 2
        inside = _inside(_linear_rgb(np.stack([ll, mid * cos, mid * sin], axis=-1)))
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    return lo * np.float32(LIMIT_MARGIN)


def _lookup(table: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Bilinear lookup of a 2-D table at float (col, row) positions of any shape: cv2.remap,
    which takes maps under 32767 a side, on blocks of 4096-wide rows where needed."""
    col = col.astype(np.float32, copy=False)
    row = row.astype(np.float32, copy=False)
    if col.ndim == 2 and max(col.shape) < 32767:
        return cv2.remap(table, col, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    n, width = col.size, 4096
    rows = -(-n // width)
    cols = np.zeros(rows * width, np.float32)
    cols[:n] = col.reshape(-1)
    where = np.zeros(rows * width, np.float32)
    where[:n] = row.reshape(-1)
    cols, where = cols.reshape(rows, width), where.reshape(rows, width)
    out = np.empty((rows, width), np.float32)
    for r in range(0, rows, 16384):
        out[r:r + 16384] = cv2.remap(table, cols[r:r + 16384], where[r:r + 16384],
                                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1)[:n].reshape(col.shape)


def _at_hue_and_l(table: np.ndarray, hue: np.ndarray, light: np.ndarray) -> np.ndarray:
    """A (L, hue) grid table (chroma_limits' steps) read at each pixel's hue (degrees) and L."""
    return _lookup(table, hue * np.float32(1 / LIMIT_HUE_STEP),
                   light * np.float32(1 / LIMIT_L_STEP))


def _polar(ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 2) ab -> chroma and hue in degrees, each (...)."""
    ab = ab.astype(np.float32, copy=False)
    return cv2.cartToPolar(np.ascontiguousarray(ab[..., 0]), np.ascontiguousarray(ab[..., 1]),
                           angleInDegrees=True)


def limit_chroma(light: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """fit_gamut's job by table lookup: (h, w) L and (h, w, 2) ab -> ab with each pixel's
    chroma cut to the limit for its L and hue (hue kept). 2.5-3.5x faster than fit_gamut."""
    ab = np.ascontiguousarray(ab, dtype=np.float32)
    chroma, hue = _polar(ab)
    limit = _at_hue_and_l(chroma_limits(), hue, light)
    scale = np.minimum(limit / np.maximum(chroma, np.float32(1e-6)), np.float32(1))
    if ab.size <= 8:  # OpenCV would read an array of 4 numbers or fewer as a scalar
        return ab * scale[..., None]
    # the same product in OpenCV: a third faster per video frame than numpy's broadcast
    # (bitwise the same)
    return cv2.multiply(ab, cv2.merge((scale, scale)))


def _outside(light: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Exact gamut test: (n,) L and (n, 2) ab -> (n,) True where no sRGB colour has them."""
    return ~_inside(_linear_rgb(join_lab(light, ab)))


def out_of_gamut(lab: np.ndarray, rows: int = 512) -> np.ndarray:
    """Mask of the pixels whose (L, a, b) has no sRGB colour, computed in strips."""
    mask = np.zeros(lab.shape[:2], bool)
    for y in range(0, lab.shape[0], rows):
        mask[y:y + rows] = ~_inside(_linear_rgb(lab[y:y + rows]))
    return mask


@functools.lru_cache(maxsize=1)
def _clear_limits() -> np.ndarray:
    """Chroma below which a pixel is surely inside the gamut, per (L, hue) cell of the
    chroma_limits grid: the smallest limit among the cell and its neighbours, less 10 % and
    0.5. The bilinear estimate alone overshoots the true limit by up to ~60 % next to the
    yellow cusp (L ~97, hue ~104); this bound left no out-of-gamut colour uncleared among
    60 M random (L, a, b), the cusp and the dark and light ends sampled densely, nor among
    7.2 M colours just outside the boundary on a 0.05 L x 0.1 degree grid."""
    neighbours = cv2.erode(chroma_limits(), np.ones((3, 3), np.uint8),
                           borderType=cv2.BORDER_REPLICATE)
    return np.maximum(neighbours * np.float32(0.9) - np.float32(0.5), np.float32(0))


def gamut_suspects(light: np.ndarray, ab: np.ndarray, rows: int = 256) -> np.ndarray:
    """(h, w) L and (h, w, 2) ab -> flat indices of the pixels that may lie outside the
    gamut (a superset of those that do), by table lookup: ~4x cheaper than the exact test.
    In strips of rows, so that its temporaries stay small on a large scan."""
    width = light.shape[1]
    found = []
    for y in range(0, light.shape[0], rows):
        chroma, hue = _polar(ab[y:y + rows])
        clear = _at_hue_and_l(_clear_limits(), hue, light[y:y + rows])
        found.append(np.flatnonzero(chroma > clear) + y * width)
    return np.concatenate(found)


def fit_pixels(light: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """(n,) L and (n, 2) ab, all outside the gamut -> ab brought inside, hue kept: the table's
    chroma limit first (one lookup for any number of pixels), then fit_gamut's bisection for
    the few it leaves outside (next to the yellow cusp)."""
    fixed = limit_chroma(light[:, None], ab[:, None, :])[:, 0]
    still = _outside(light, fixed)
    if still.any():
        fixed[still] = fit_gamut(light[still][:, None], fixed[still][:, None, :])[:, 0]
    return fixed


def working_light(light: np.ndarray, colorizer: Colorizer, settings: Settings) -> np.ndarray:
    h, w = colorizer.working_shape(*light.shape[:2], settings.size)
    return resize_plane(light, w, h)


def merge(light: np.ndarray, ab_small: np.ndarray, saturation: float) -> np.ndarray:
    """Full-res L + working-size ab (h, w, 2) -> full-res float RGB in [0, 1]."""
    height, width = light.shape
    small_l = resize_plane(light, ab_small.shape[1], ab_small.shape[0])
    ab_small = fit_gamut(small_l, ab_small * saturation)
    ab = np.ascontiguousarray(resize_plane(ab_small, width, height))
    # upsampling can leave a few pixels (near black or white, at edges) outside the gamut
    # again: the exact test and the fit run on the pixels a table lookup cannot clear
    # (film grain in near-white or near-black areas can put many pixels there)
    suspects = gamut_suspects(light, ab)
    if suspects.size:
        flat_l, flat_ab = light.reshape(-1), ab.reshape(-1, 2)
        bad = suspects[_outside(flat_l[suspects], flat_ab[suspects])]
        if bad.size:
            flat_ab[bad] = fit_pixels(flat_l[bad], flat_ab[bad])
    lab = join_lab(light.astype(np.float32, copy=False), ab)
    del ab
    return lab_to_rgb(lab, inplace=True)


def colorize_picture(picture: Picture, colorizer: Colorizer, settings: Settings) -> np.ndarray:
    """Colorize one decoded picture; returns float RGB at full resolution."""
    light = luminance_of(picture)
    small = working_light(light, colorizer, settings)
    ab = colorizer.predict(small[None, None], settings.z)[0].transpose(1, 2, 0)
    return merge(light, ab, settings.saturation)
