"""DPX (SMPTE 268M), what film scanners write: read and written through FFmpeg (PyAV).

FFmpeg decodes every common DPX layout (8, 10, 12 and 16 bits, luma-only, RGB and RGBA,
either byte order) and encodes 8- and 16-bit RGB(A) with a generic header only. The header
is read here as well, for the size (checked before decoding), for what the codes mean (the
transfer characteristic of the first image element), and for what a film pipeline needs
carried over. The output gets the source's transfer and colorimetric codes, since its
luminance codes are the source's own (log stays log), its project name and copyright, and
its industry headers: the film header (edge code, frame position, frame rate, slate) and the
television header (SMPTE timecode and user bits), by which colorized frames are conformed
back to the edit. Their numeric fields are byte-swapped where the output's byte order
differs from the source's.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

MAGIC = {b"SDPX": ">", b"XPDS": "<"}
GENERIC_SIZE = 1664  # file, image and orientation headers
INDUSTRY_SIZE = 384  # film (256 bytes) and television (128 bytes) headers
# the industry headers' 4-byte numbers (U32 and R32), by offset in the file; the rest of
# them is text or single bytes, copied as it is
_INDUSTRY_WORDS = (1712, 1716, 1720, 1724, 1728, 1920, 1924, *range(1932, 1972, 4))
_TEXT_FIELDS = ((260, 200), (460, 200))  # project name, copyright
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
    big_endian: bool = True
    industry: bytes | None = None  # the film and television headers, as in the source
    text: tuple[bytes, ...] = ()  # the project name and copyright fields, as in the source

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
    generic, industry = struct.unpack(order + "II", data[24:32])
    has_industry = (generic == GENERIC_SIZE and industry >= INDUSTRY_SIZE
                    and len(data) >= GENERIC_SIZE + INDUSTRY_SIZE
                    and any(data[GENERIC_SIZE:GENERIC_SIZE + INDUSTRY_SIZE]))
    return DpxHeader(width, height, descriptor, transfer, colorimetric, bits,
                     big_endian=order == ">",
                     industry=(bytes(data[GENERIC_SIZE:GENERIC_SIZE + INDUSTRY_SIZE])
                               if has_industry else None),
                     text=tuple(bytes(data[o:o + n]) for o, n in _TEXT_FIELDS))


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
           like: DpxHeader | None = None) -> bytes:
    """RGB (H, W, 3) uint8 or uint16 (+ alpha of the same dtype) -> DPX bytes. ``like``: the
    source's header. The output keeps its bit depth where FFmpeg writes it (10- and 12-bit
    RGB, packed as scanners write them, instead of 16; alpha only at 8 or 16 bits), its byte
    order beyond 8 bits, its transfer and colorimetric codes (in place of FFmpeg's
    "unspecified video"), project name, copyright and industry headers."""
    import av

    deep = rgb.dtype == np.uint16
    end = "be" if like is not None and like.big_endian else "le"
    bits = like.bits if like is not None and deep and alpha is None else 16
    if bits in (10, 12):
        # the 16-bit codes rounded to the scan's own depth, as planes G, B, R
        fmt = f"gbrp{bits}{end}"
        top = np.float32((1 << bits) - 1)
        frame = av.VideoFrame(rgb.shape[1], rgb.shape[0], fmt)
        for plane, channel in zip(frame.planes, (1, 2, 0), strict=True):
            codes = np.rint(rgb[..., channel] * (top / np.float32(65535))).astype(np.uint16)
            view = np.frombuffer(memoryview(plane), np.dtype(np.uint16).newbyteorder(
                ">" if end == "be" else "<")).reshape(plane.height, plane.line_size // 2)
            view[:, :plane.width] = codes
    else:
        if alpha is not None:
            arr, fmt = np.dstack([rgb, alpha.astype(rgb.dtype)]), (f"rgba64{end}" if deep
                                                                  else "rgba")
        else:
            arr, fmt = rgb, f"rgb48{end}" if deep else "rgb24"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format=fmt)
    ctx = av.CodecContext.create("dpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = rgb.shape[1], rgb.shape[0], fmt
    ctx.time_base = Fraction(1, 1)
    data = bytearray(b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)]))
    if like is None or bytes(data[:4]) not in MAGIC:
        return bytes(data)
    data[801], data[802] = like.transfer, like.colorimetric
    for (offset, size), text in zip(_TEXT_FIELDS, like.text, strict=False):
        data[offset:offset + size] = text
    order = MAGIC[bytes(data[:4])]
    (generic,) = struct.unpack(order + "I", data[24:28])
    if like.industry is None or generic != GENERIC_SIZE:
        return bytes(data)
    industry = bytearray(like.industry)
    if (order == ">") != like.big_endian:
        for at in _INDUSTRY_WORDS:
            i = at - GENERIC_SIZE
            industry[i:i + 4] = industry[i:i + 4][::-1]
    # the industry headers go between the generic header and the picture: every offset to
    # the picture and the file's size move by their length
    out = data[:GENERIC_SIZE] + industry + data[GENERIC_SIZE:]
    for at in (4, 16, 808):  # image data offset, file size, element 1's data offset
        (value,) = struct.unpack_from(order + "I", out, at)
        struct.pack_into(order + "I", out, at, value + INDUSTRY_SIZE)
    struct.pack_into(order + "I", out, 28, INDUSTRY_SIZE)
    return bytes(out)


def timecode(header: DpxHeader) -> str | None:
    """The television header's SMPTE timecode as HH:MM:SS:FF, None where there is none
    (absent, or all ones: the standard's "undefined")."""
    if header.industry is None:
        return None
    i = 1920 - GENERIC_SIZE
    (code,) = struct.unpack((">" if header.big_endian else "<") + "I",
                            header.industry[i:i + 4])
    if code == 0xFFFFFFFF:
        return None
    digits = f"{code:08x}"
    return f"{digits[0:2]}:{digits[2:4]}:{digits[4:6]}:{digits[6:8]}"


def read_file_header(path: Path) -> DpxHeader:
    with open(path, "rb") as f:
        return read_header(f.read(GENERIC_SIZE + INDUSTRY_SIZE))
