"""Test fixtures built in memory: tiny ONNX models and images (no files from outside)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np


def tiny_metadata(name: str = "tiny", working_size: int = 32, **extra) -> str:
    meta = {
        "format": 1, "name": name, "colorize_version": "test", "working_size": working_size,
        "size_multiple": 8,
        "input": {"name": "L", "normalization": {"l_center": 50.0, "l_scale": 50.0}},
        "output": {"name": "ab", "units": "cielab_ab"},
    }
    meta.update(extra)
    return json.dumps(meta)


def make_tiny_onnx(path: Path, metadata: str | None = None, seed: int = 0,
                   gain: float = 60.0) -> Path:
    """A 3x3 conv + tanh model: L (N,1,H,W) -> ab (N,2,H,W), with colorize metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weight = rng.normal(0, 0.5, (2, 1, 3, 3)).astype(np.float32)
    bias = np.array([0.3, -0.2], np.float32)
    nodes = [
        helper.make_node("Conv", ["L", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Tanh", ["c"], ["t"]),
        helper.make_node("Mul", ["t", "gain"], ["ab"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("L", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("ab", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        initializer=[numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "B"),
                     numpy_helper.from_array(np.array(gain, np.float32), "gain")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = "colorize", metadata
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def gradient_gray(h: int, w: int, depth: int = 8) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = (np.sin(x / 5.0) * 0.3 + y / max(h, 1) * 0.6 + 0.2).clip(0, 1)
    peak = 65535 if depth == 16 else 255
    return np.rint(img * peak).astype(np.uint16 if depth == 16 else np.uint8)


def color_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (4, 4, 3)).astype(np.float32)
    import cv2

    return np.clip(cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255).astype(
        np.uint8)


def _restamp(packet, pts_as_dts: bool):
    if pts_as_dts:
        packet.pts = packet.dts
    return packet


def make_clip(path: Path, frames: int = 24, width: int = 64, height: int = 48,
              audio: str | None = "aac", vfr: bool = False, rotation: int = 0,
              cut_at: int | None = None, pix_fmt: str = "yuv420p",
              codec: str = "libx264", subtitle: bool = False,
              pts_as_dts: bool = False, tags: dict | None = None,
              turned: bool = False) -> dict:
    """A synthetic colour clip: a moving square over a gradient, optional hard cut and audio.

    pts_as_dts: encode with B-frames and write every packet's pts equal to its dts, as some
    real files do, so that the decoder hands frames out with scrambled pts.
    tags: codec-context colour tags (colorspace, color_primaries, color_trc, color_range).
    turned: store each picture turned against the display rotation, as a phone does, so the
    clip displays as the same clip made without a rotation."""
    import av

    turns = round(rotation / 90) if turned else 0
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=24)
    stream.width, stream.height = (height, width) if turns % 2 else (width, height)
    stream.pix_fmt = pix_fmt
    # AVI stores a frame count, not times: its clips tick at the frame rate
    avi = Path(path).suffix.lower() == ".avi"
    stream.time_base = __import__("fractions").Fraction(1, 24 if avi else 1000)
    stream.codec_context.time_base = stream.time_base
    if codec == "libx264":
        stream.options = ({"crf": "10", "x264-params": "bframes=3:b-adapt=0"} if pts_as_dts
                          else {"qp": "0", "preset": "ultrafast"})
    for tag, value in (tags or {}).items():
        setattr(stream.codec_context, tag, value)
    if rotation:
        stream.set_display_rotation(rotation)
    astream = None
    if audio:
        astream = container.add_stream(audio, rate=16000)
        astream.layout = "mono"
    if subtitle:
        container.add_stream("ass")
    pts_list = []
    t = 0
    for i in range(frames):
        y, x = np.mgrid[0:height, 0:width]
        img = np.zeros((height, width, 3), np.uint8)
        img[..., 0] = (x * 255 // max(width - 1, 1)).astype(np.uint8)
        img[..., 1] = 90
        img[..., 2] = (y * 255 // max(height - 1, 1)).astype(np.uint8)
        if cut_at is not None and i >= cut_at:
            img = 255 - img
            img[..., 1] = 30
        sx = 4 + i % (max(width - 20, 1))
        img[10:26, sx:sx + 16] = (230, 200, 40)
        if turns:
            img = np.ascontiguousarray(np.rot90(img, -turns))
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
        frame.pts = i if avi else t
        pts_list.append(frame.pts)
        t += 41 if not vfr else (30 if i % 3 else 80)
        for packet in stream.encode(frame):
            container.mux(_restamp(packet, pts_as_dts))
    for packet in stream.encode(None):
        container.mux(_restamp(packet, pts_as_dts))
    apackets = 0
    if astream is not None:
        duration_s = t / 1000
        n = int(16000 * duration_s)
        samples = (np.sin(np.arange(n) * 2 * np.pi * 440 / 16000) * 0.3).astype(np.float32)
        fmt = "fltp" if audio in ("aac", "libmp3lame") else "s16"
        data = samples if fmt == "fltp" else (samples * 32767).astype(np.int16)
        aframe = av.AudioFrame.from_ndarray(data[None], format=fmt, layout="mono")
        aframe.sample_rate = 16000
        aframe.pts = 0
        for packet in astream.encode(aframe):
            container.mux(packet)
            apackets += 1
        for packet in astream.encode(None):
            container.mux(packet)
            apackets += 1
    container.close()
    return {"pts": pts_list}


def add_subtitles(src: Path, dst: Path, cues: list[tuple[float, float, str]],
                  chapters: list[tuple[float, float, str]] = ()) -> None:
    """src's streams remuxed into dst with an SRT subtitle stream (cues: start s, end s,
    text; read through FFmpeg's own SRT demuxer) and chapters (start s, end s, title)."""
    from fractions import Fraction

    import av

    def stamp(t: float) -> str:
        ms = int(round(t * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    srt = dst.with_suffix(".srt")
    srt.write_text("".join(f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n\n"
                           for i, (a, b, text) in enumerate(cues, 1)), encoding="utf-8")
    with av.open(str(src)) as a, av.open(str(srt)) as b, av.open(str(dst), "w") as out:
        mapping = {s: out.add_stream_from_template(s) for s in (*a.streams, *b.streams)}
        ms = Fraction(1, 1000)
        out.set_chapters([{"id": i, "start": int(x * 1000), "end": int(y * 1000),
                           "time_base": ms, "metadata": {"title": title}}
                          for i, (x, y, title) in enumerate(chapters, 1)])
        for container in (a, b):
            for packet in container.demux():
                if packet.dts is None and packet.pts is None:
                    continue
                packet.stream = mapping[packet.stream]
                out.mux(packet)
    srt.unlink()


def subtitles_of(path: Path) -> list[tuple[float, str]]:
    """(start s, text) of every subtitle packet in a file."""
    import av

    with av.open(str(path)) as c:
        return [(round(float(p.pts * p.time_base), 3), bytes(p).decode("utf-8"))
                for s in c.streams.subtitles for p in c.demux(s) if p.size]


def dpx_luma10(path: Path, codes: np.ndarray, transfer: int = 1, big_endian: bool = True,
               timecode: int | None = None, frame_rate: float = 0.0, edge: bytes = b"",
               copyright: bytes = b"") -> None:
    """A luma-only 10-bit DPX as film scanners write it, built by hand (FFmpeg writes no such
    file): codes (H, W) in 0-1023, three to a 32-bit word (packing method A, two padding
    bits at the bottom; the first datum in the lowest bits, the order FFmpeg's decoder
    reads luma-only words in), transfer characteristic ``transfer`` (1 printing density,
    3 logarithmic, 6 Rec. 709, ...). Industry headers as a scanner fills them: the television
    header's SMPTE ``timecode`` (BCD, 0x01000000 for 01:00:00:00), the film header's
    ``frame_rate`` and ``edge`` code (prefix and count, 10 characters), and the file header's
    ``copyright``."""
    import struct

    h, w = codes.shape
    assert w % 3 == 0, "three samples to a word, rows of whole words"
    order = ">" if big_endian else "<"
    offset = 2048
    flat = codes.astype(np.uint32).reshape(-1, 3)
    words = (flat[:, 2] << 22) | (flat[:, 1] << 12) | (flat[:, 0] << 2)
    data = words.astype(order + "u4").tobytes()
    head = bytearray(offset)
    head[0:4] = b"SDPX" if big_endian else b"XPDS"
    struct.pack_into(order + "I", head, 4, offset)
    head[8:12] = b"V2.0"
    struct.pack_into(order + "I", head, 16, offset + len(data))
    struct.pack_into(order + "III", head, 24, 1664, 384, 0)  # generic, industry, user
    struct.pack_into(order + "HHII", head, 768, 0, 1, w, h)  # orientation, elements, size
    struct.pack_into(order + "I", head, 780, 0)  # unsigned
    struct.pack_into(order + "IfIf", head, 784, 0, 0.0, 1023, 2.048)
    head[800:804] = bytes([6, transfer, transfer, 10])  # luma, transfer, colorimetric, bits
    struct.pack_into(order + "HHI", head, 804, 1, 0, offset)  # method A, no RLE, data offset
    head[460:460 + len(copyright)] = copyright
    head[1670:1670 + len(edge)] = edge  # prefix (6) and count (4)
    struct.pack_into(order + "f", head, 1724, frame_rate)
    struct.pack_into(order + "I", head, 1920, 0xFFFFFFFF if timecode is None else timecode)
    struct.pack_into(order + "f", head, 1940, frame_rate)
    path.write_bytes(bytes(head) + data)


def _luma(frame) -> np.ndarray:
    from colorize.core.video import _plane_array

    if frame.format.name.endswith("p10le"):
        return _plane_array(frame.planes[0], np.uint16).copy()
    if frame.format.name not in ("yuv420p", "yuv444p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")
    return _plane_array(frame.planes[0]).copy()


def probe(path: Path) -> dict:
    """Frame pts, rotation, audio packet count and size of a video file."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        info = {"pts": [f.pts for f in frames], "time_base": v.time_base,
                "width": v.codec_context.width, "height": v.codec_context.height,
                "rotation": frames[0].rotation if frames else 0,
                "luma": [_luma(f) for f in frames],
                "frames": frames}
    with av.open(str(path)) as c:
        info["audio_packets"] = sum(1 for s in c.streams.audio for p in c.demux(s)
                                    if p.dts is not None)
        info["audio_codecs"] = [s.codec_context.codec.canonical_name for s in c.streams.audio]
        info["subtitles"] = len(c.streams.subtitles)
    return info


def icc_profile(space: str, curves: list[bytes], colorants: list[tuple] | None = None,
                name: str = "test profile") -> bytes:
    """A minimal ICC v2 display profile: 'GRAY' with one tone curve, or 'RGB ' with three
    and the D50 colorants. Curves from icc_gamma / icc_table."""

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(x) + s15(y) + s15(z)

    text = name.encode("ascii") + b"\0"
    desc = (b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 12
            + b"\0" * 67)
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
            (b"cprt", b"text\0\0\0\0no copyright\0")]
    if space == "GRAY":
        tags.append((b"kTRC", curves[0]))
    else:
        for sig, curve in zip((b"rTRC", b"gTRC", b"bTRC"), curves, strict=True):
            tags.append((sig, curve))
        for sig, c in zip((b"rXYZ", b"gXYZ", b"bXYZ"), colorants, strict=True):
            tags.append((sig, xyz(*c)))
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += struct.pack(">4sII", sig, offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntr"
              + space.encode("ascii").ljust(4) + b"XYZ " + b"\0" * 12 + b"acsp"
              + b"\0" * 24 + struct.pack(">I", 0) + s15(0.9642) + s15(1.0) + s15(0.8249)
              + b"\0" * 4)
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


def icc_gamma(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256))


def icc_table(values) -> bytes:
    """A sampled tone curve: values in [0, 1] at evenly spaced device values."""
    codes = np.rint(np.asarray(values, np.float64) * 65535).astype(">u2")
    return b"curv\0\0\0\0" + struct.pack(">I", codes.size) + codes.tobytes()


# Adobe RGB (1998)'s colorants adapted to D50, as its profile holds them
ADOBE_RGB_COLORANTS = [(0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609),
                       (0.1492, 0.0632, 0.7446)]
