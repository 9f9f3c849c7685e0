"""Read pixels through their embedded ICC profile into sRGB, for the profile kinds that scans
and photos carry: a gray tone curve (Photoshop's "Dot Gain 20%", "Gray Gamma 1.8/2.2") and
RGB matrix/TRC spaces (Adobe RGB, ProPhoto, Display P3 from phones).

The pipeline works in sRGB: the luminance it keeps and the colours it adds are sRGB's. A
scan whose profile says its gray values mean other tones (a dot-gain curve puts mid-gray
near L 41, where sRGB reads L 54) would otherwise come out lighter or darker than it
looks, and a profile with wider primaries attached to sRGB pixels would show them
over-saturated. So such pixels are converted at read time, ICC relative colorimetric:
device values -> tone curves -> (RGB: 3x3 matrix to the D50 connection space, then the
inverse of sRGB's) -> sRGB encoding, and the output is sRGB (the profile is not kept).

Pillow's littleCMS binding is the library for colour management, but it transforms 8-bit
pixels only (no 16-bit RGB mode, no float output), and archival scans are 16-bit: the two
tag kinds needed here ('curv'/'para' curves, 'XYZ ' colorants) are read by hand below, and
the tests check the result against littleCMS on 8-bit pixels. Profiles built on lookup
tables (A2B0 without curves and colorants) are left alone: the pixels are read as sRGB.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

import cv2
import numpy as np

from colorize.core.color import rgb_to_lab, srgb_encode

# sRGB's colorants in the D50 connection space (littleCMS's built-in sRGB profile)
_SRGB_TO_XYZ = np.array([[0.43604125, 0.38511291, 0.14304584],
                         [0.22248454, 0.71690508, 0.06061038],
                         [0.01392019, 0.09706724, 0.71391257]])
_XYZ_TO_SRGB = np.linalg.inv(_SRGB_TO_XYZ)
CHUNK_ROWS = 512  # rows converted at a time: bounds the float temporaries of a large scan


class ProfileError(ValueError):
    """A profile that is malformed or of a kind read as sRGB."""


def _tags(data: bytes) -> dict[bytes, bytes]:
    if len(data) < 132 or data[36:40] != b"acsp":
        raise ProfileError("not an ICC profile")
    (count,) = struct.unpack(">I", data[128:132])
    tags = {}
    for i in range(min(count, 256)):
        sig, offset, size = struct.unpack(">4sII", data[132 + 12 * i:144 + 12 * i])
        if offset + size > len(data):
            raise ProfileError(f"tag {sig!r} runs past the end")
        tags[sig] = data[offset:offset + size]
    return tags


def _s15(raw: bytes) -> float:
    return struct.unpack(">i", raw)[0] / 65536.0


def _curve(tag: bytes, x: np.ndarray) -> np.ndarray:
    """A 'curv' or 'para' tag evaluated at x in [0, 1] (float64)."""
    kind = tag[:4]
    if kind == b"curv":
        (n,) = struct.unpack(">I", tag[8:12])
        if n == 0:
            return x
        if n == 1:
            return x ** (struct.unpack(">H", tag[12:14])[0] / 256.0)
        table = np.frombuffer(tag[12:12 + 2 * n], dtype=">u2").astype(np.float64) / 65535.0
        if table.size != n:
            raise ProfileError("short curve table")
        return np.interp(x, np.linspace(0.0, 1.0, n), table)
    if kind == b"para":
        (fn,) = struct.unpack(">H", tag[8:10])
        counts = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}
        if fn not in counts or len(tag) < 12 + 4 * counts[fn]:
            raise ProfileError(f"parametric curve type {fn}")
        p = [_s15(tag[12 + 4 * i:16 + 4 * i]) for i in range(counts[fn])]
        g, a, b, c, d, e, f = p + [0.0] * (7 - len(p))
        if fn == 0:
            return x ** g
        on = np.maximum(a * x + b, 0.0) ** g
        if fn in (1, 2):
            start = -b / a if a else 0.0
            return np.where(x >= start, on, 0.0) + (c if fn == 2 else 0.0)
        if fn == 3:
            return np.where(x >= d, on, c * x)
        return np.where(x >= d, on + e, c * x + f)
    raise ProfileError(f"curve of type {kind!r}")


def _xyz(tag: bytes) -> np.ndarray:
    if tag[:4] != b"XYZ " or len(tag) < 20:
        raise ProfileError("colorant is not an XYZ tag")
    return np.array([_s15(tag[8 + 4 * i:12 + 4 * i]) for i in range(3)])


def _description(tags: dict[bytes, bytes]) -> str:
    tag = tags.get(b"desc", b"")
    try:
        if tag[:4] == b"desc":  # v2: ASCII
            (n,) = struct.unpack(">I", tag[8:12])
            return tag[12:12 + n].split(b"\0")[0].decode("latin-1").strip()
        if tag[:4] == b"mluc":  # v4: first record, UTF-16BE
            size, offset = struct.unpack(">II", tag[20:28])
            return tag[offset:offset + size].decode("utf-16-be").strip("\0 ")
    except (struct.error, UnicodeDecodeError):
        pass
    return "unnamed"


@dataclass
class Profile:
    """What a gray-TRC or RGB matrix/TRC profile says: its tone curves (the raw tags) and,
    for RGB, the device-linear -> linear sRGB matrix (white kept white)."""

    name: str
    curves: list[bytes]  # one (gray) or three (R, G, B) 'curv' / 'para' tags
    matrix: np.ndarray | None = None  # 3x3, RGB only

    def linear(self, channel: int, x: np.ndarray) -> np.ndarray:
        """Device values x in [0, 1] -> linear light, media-relative (the white is 1)."""
        white = float(_curve(self.curves[channel], np.array([1.0]))[0])
        if not white > 0:
            raise ProfileError(f"{self.name}: tone curve ends at {white}")
        return _curve(self.curves[channel], x.astype(np.float64)) / white

    def convert(self, values: np.ndarray) -> np.ndarray:
        """Float device values in [0, 1] (gray (..., ) or RGB (..., 3)) -> float32 sRGB."""
        if self.matrix is None:
            return srgb_encode(self.linear(0, values)).astype(np.float32)
        lin = np.stack([self.linear(c, values[..., c]) for c in range(3)], -1)
        return srgb_encode(lin @ self.matrix.T).astype(np.float32)

    def is_srgb(self, tolerance: float = 0.5) -> bool:
        """Whether reading the pixels as sRGB is already right: within ``tolerance`` ΔE76
        on a grid of device values (9 gray levels, or 9³ RGB colours)."""
        grid = np.linspace(0.0, 1.0, 9, dtype=np.float32)
        if self.matrix is None:
            device = np.repeat(grid[None, :, None], 3, axis=2)  # gray as R = G = B
            ours = np.repeat(self.convert(grid)[None, :, None], 3, axis=2)
        else:
            device = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(1, -1, 3)
            ours = self.convert(device)
        ours, plain = rgb_to_lab(ours), rgb_to_lab(device)
        return bool(np.sqrt(((ours - plain) ** 2).sum(-1)).max() <= tolerance)

    def to_srgb(self, codes: np.ndarray) -> np.ndarray:
        """uint8 / uint16 pixels (gray (H, W) or RGB (H, W, 3)) -> float32 sRGB in [0, 1]:
        a table over the codes per channel, then (RGB) the matrix and the sRGB encoding a
        band of rows at a time."""
        codes_x = np.linspace(0.0, 1.0, 256 if codes.dtype == np.uint8 else 65536)
        if self.matrix is None:
            return srgb_encode(self.linear(0, codes_x)).astype(np.float32)[codes]
        tables = [self.linear(c, codes_x).astype(np.float32) for c in range(3)]
        matrix = self.matrix.astype(np.float32)
        out = np.empty(codes.shape, np.float32)
        for top in range(0, codes.shape[0], CHUNK_ROWS):
            rows = codes[top:top + CHUNK_ROWS]
            lin = np.empty(rows.shape, np.float32)
            for c in range(3):
                lin[..., c] = tables[c][rows[..., c]]
            out[top:top + CHUNK_ROWS] = srgb_encode(cv2.transform(lin, matrix))
        return out


def parse_profile(data: bytes) -> Profile:
    """A gray-TRC or RGB matrix/TRC profile; ProfileError for anything else."""
    tags = _tags(data)
    space = data[16:20]
    name = _description(tags)
    if space == b"GRAY":
        if b"kTRC" not in tags:
            raise ProfileError(f"{name}: gray profile without a tone curve")
        profile = Profile(name, [tags[b"kTRC"]])
        profile.linear(0, np.array([0.5]))
        return profile
    if space == b"RGB ":
        need = (b"rTRC", b"gTRC", b"bTRC", b"rXYZ", b"gXYZ", b"bXYZ")
        if not all(t in tags for t in need):
            raise ProfileError(f"{name}: RGB profile built on lookup tables")
        if data[20:24] != b"XYZ ":
            raise ProfileError(f"{name}: connection space is not XYZ")
        to_xyz = np.stack([_xyz(tags[t]) for t in (b"rXYZ", b"gXYZ", b"bXYZ")], axis=1)
        matrix = _XYZ_TO_SRGB @ to_xyz
        matrix /= matrix.sum(axis=1, keepdims=True)  # device white -> sRGB white exactly
        profile = Profile(name, [tags[t] for t in (b"rTRC", b"gTRC", b"bTRC")], matrix)
        for c in range(3):
            profile.linear(c, np.array([0.5]))  # a curve of a kind not read here fails now
        return profile
    raise ProfileError(f"{name}: colour space {space.decode('latin-1').strip()!r}")


def srgb_of(codes: np.ndarray, profile_bytes: bytes | None
            ) -> tuple[np.ndarray | None, str | None]:
    """(float32 sRGB pixels, the profile's name) when the profile changes how the pixels
    read; (None, None) when there is none, it is sRGB already, it does not fit the pixels
    (a gray profile on RGB pixels), or it is of a kind not read here."""
    if not profile_bytes or codes.dtype not in (np.uint8, np.uint16):
        return None, None
    profile = _not_srgb(bytes(profile_bytes))
    channels = 1 if codes.ndim == 2 else codes.shape[2]
    if profile is None or channels != len(profile.curves):
        return None, None
    return profile.to_srgb(codes), profile.name


@functools.lru_cache(maxsize=16)
def _not_srgb(profile_bytes: bytes) -> Profile | None:
    """The parsed profile, or None where it reads as sRGB or is not read here (a folder's
    photos mostly share one profile: parsed and checked once)."""
    try:
        profile = parse_profile(profile_bytes)
        return None if profile.is_srgb() else profile
    except (ProfileError, struct.error, ValueError, ZeroDivisionError):
        return None
