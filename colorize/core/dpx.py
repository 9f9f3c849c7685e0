"""DPX (SMPTE 268M), what film scanners write: read and written through FFmpeg (PyAV).

FFmpeg decodes every common DPX layout (8, 10, 12 and 16 bits, luma-only, RGB and RGBA,
either byte order) and encodes 8- and 16-bit RGB(A). The header is read here as well, for
the size (checked before decoding) and for what the codes mean: the transfer
characteristic of the first image element. The output gets the source's transfer and
colorimetric codes, since its luminance codes are the source's own (log stays log).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

MAGIC = {b"SDPX": ">", b"XPDS": "<"}
# transfer characteristic codes (SMPTE 268M table 5) whose codes are not display values
LOG_TRANSFERS = {1: "printing density", 3: "logarithmic"}
LINEAR_TRANSFERS = {2: "linear", 11: "Z (depth) linear"}


@dataclass(frozen=True)
class DpxHeader:
    width: int
    height: int
    descriptor: int  # 6 luma, 50 RGB, 51 RGBA, ...
    transfer: int
    colorimetric: int
    bits: int

    @property
    def note(self) -> str | None:
        """What a reader should be told about how the codes were taken."""
        kind = LOG_TRANSFERS.get(self.transfer) or LINEAR_TRANSFERS.get(self.transfer)
        if kind is None:
            return None
        return (f"a {kind} DPX: its codes were taken as display (sRGB-like) values, so the "
                f"model saw a {'flat' if self.transfer in LOG_TRANSFERS else 'dark'} picture; "
                "for better colour, convert it to Rec.709 or sRGB first")


def read_header(data: bytes) -> DpxHeader:
    """The generic and image headers' fields used here; ValueError if not a DPX file."""
    if len(data) < 804 or data[:4] not in MAGIC:
        raise ValueError("not a DPX file (no SDPX/XPDS magic)")
    order = MAGIC[data[:4]]
    width, height = struct.unpack(order + "II", data[772:780])
    descriptor, transfer, colorimetric, bits = data[800:804]
    return DpxHeader(width, height, descriptor, transfer, colorimetric, bits)


def decode(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """The first image of a DPX file -> (gray (H, W) or RGB (H, W, 3), alpha or None), uint8
    for 8-bit files and uint16 (codes spread over 0-65535) for deeper ones."""
    import av

    with av.open(io.BytesIO(data), format="dpx_pipe") as container:
        frame = next(container.decode(video=0), None)
    if frame is None:
        raise ValueError("no image decoded")
    name = frame.format.name
    deep = any(c.bits > 8 for c in frame.format.components)
    if len(frame.format.components) <= 2 and not name.startswith(("gbr", "rgb", "bgr")):
        arr = frame.to_ndarray(format="gray16le" if deep else "gray")
        return arr, None
    if any(c.is_alpha for c in frame.format.components):
        rgba = frame.to_ndarray(format="rgba64le" if deep else "rgba")
        return rgba[..., :3], rgba[..., 3]
    return frame.to_ndarray(format="rgb48le" if deep else "rgb24"), None


def encode(rgb: np.ndarray, alpha: np.ndarray | None = None,
           like: tuple[int, int] | None = None) -> bytes:
    """RGB (H, W, 3) uint8 or uint16 (+ alpha of the same dtype) -> DPX bytes, 8 or 16 bits
    per channel. ``like``: the (transfer, colorimetric) codes to write in place of FFmpeg's
    "unspecified video"."""
    import av

    deep = rgb.dtype == np.uint16
    if alpha is not None:
        arr, fmt = np.dstack([rgb, alpha.astype(rgb.dtype)]), "rgba64le" if deep else "rgba"
    else:
        arr, fmt = rgb, "rgb48le" if deep else "rgb24"
    ctx = av.CodecContext.create("dpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = arr.shape[1], arr.shape[0], fmt
    ctx.time_base = Fraction(1, 1)
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format=fmt)
    data = bytearray(b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)]))
    if like is not None and bytes(data[:4]) in MAGIC:
        data[801], data[802] = like
    return bytes(data)


def read_file_header(path: Path) -> DpxHeader:
    with open(path, "rb") as f:
        return read_header(f.read(1024))
