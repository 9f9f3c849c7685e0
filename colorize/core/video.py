"""Video colorization with PyAV: luma copied exactly, chroma made at low resolution.

decode thread -> (batched inference + temporal smoothing + chroma planes) -> encode thread.
Audio packets are copied (or transcoded to AAC, Opus for WebM, when the container cannot
hold them); every frame keeps its pts and time base; nothing is written under the final
name until the whole file is complete.
"""

from __future__ import annotations

import heapq
import os
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from colorize.core.color import gray_to_l, join_lab, lab_to_rgb
from colorize.core.errors import VideoError
from colorize.core.pipeline import limit_chroma
from colorize.core.session import Colorizer
from colorize.core.smoothing import Smoother, SmootherConfig
from colorize.core.streams import copy_tags, holds, repeatable, segment_chapters

# audio codecs each output container accepts as a packet copy
AUDIO_COPY = {
    "mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le", "pcm_s16be",
            "pcm_f32le"},
    "matroska": None,  # anything
    "webm": {"opus", "vorbis"},
    "avi": {"aac", "mp3", "ac3", "pcm_s16le"},  # AAC copied, not re-encoded to AAC
}
# what audio that cannot be copied is transcoded to: AAC, or Opus where the container
# holds no AAC (WebM); Opus runs at 48 kHz (PyAV's encoder resamples to it)
AUDIO_TRANSCODE = {"webm": ("libopus", "Opus", 48000)}
AUDIO_TRANSCODE_DEFAULT = ("aac", "AAC", None)
# a channel count whose order the source leaves unnamed ("2 channels": PCM in AVI, as DV
# captures hold it) gets the usual layout for that count, which the encoders take
NAMED_LAYOUT = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


def encodable_layout(layout: av.AudioLayout) -> av.AudioLayout | str:
    """The layout to encode a transcoded stream in: the source's, named where it is not."""
    if re.fullmatch(r"\d+ channels?", layout.name):
        return NAMED_LAYOUT.get(layout.nb_channels, layout)
    return layout


FORMAT_FOR_SUFFIX = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
                     ".webm": "webm", ".avi": "avi"}
# the video encoder when none is named: WebM holds only VP8/VP9/AV1
DEFAULT_CODEC = {"webm": "libvpx-vp9"}
SENTINEL = object()


@dataclass
class VideoOptions:
    codec: str | None = None  # None: libx264, or libvpx-vp9 for .webm (DEFAULT_CODEC)
    crf: int = 18
    preset: str = "medium"
    # frames per inference call. 8 rather than 4: 720p at veryfast on 2 cores (AMD EPYC),
    # 10 runs each, interleaved: e2e 16.04 s against 16.58 (faster in 8 of the 10), with
    # the model alone no faster at 8, so fewer, longer inference calls interrupted by the
    # encoder less often; 16 measured no better than 8
    batch: int = 8
    size: int | None = None
    saturation: float = 1.0
    smoothing: SmootherConfig = field(default_factory=SmootherConfig)
    start: float | None = None
    end: float | None = None
    lossless: bool = False  # qp 0, for tests that compare luma exactly
    eight_bit: bool = False  # 8-bit output even from a deeper source (plays on more devices)
    queue_size: int = 16
    # OpenCV's own thread pool while the video runs (process-wide; restored after). The
    # pipeline's threads already keep the cores busy, and at working size OpenCV's split
    # of an operation over 2 threads costs more than it saves (DIS flow at 256x128: 1.2 ms
    # on one thread, 1.6 on two). None leaves OpenCV's setting alone
    cv_threads: int | None = 1
    # show the model each frame the way it is displayed: a phone clip stored sideways with a
    # display rotation is turned upright for inference (sky on top, as in the training
    # photos) and its colour turned back; False feeds the stored pixels as they are
    upright: bool = True


@dataclass
class VideoReport:
    frames: int = 0
    audio_packets: int = 0
    subtitle_packets: int = 0
    chapters: int = 0
    cuts: int = 0
    notes: list[str] = field(default_factory=list)
    stage_s: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def upright_turns(rotation: float) -> int:
    """Quarter turns counterclockwise (np.rot90's k) that show a frame stored with this
    display rotation (degrees counterclockwise, as PyAV reads it) upright; 0 for angles that
    are not a multiple of 90."""
    quarter = rotation / 90
    return int(round(quarter)) % 4 if abs(quarter - round(quarter)) < 1e-6 else 0


def stored_working_shape(colorizer, height: int, width: int, size: int | None,
                         turns: int) -> tuple[int, int]:
    """The working shape of the stored frame whose upright view gets the model's working
    shape (the long side and the rounding apply to the picture as displayed)."""
    if turns % 2 == 0:
        return colorizer.working_shape(height, width, size)
    h, w = colorizer.working_shape(width, height, size)
    return w, h


def predict_turned(colorizer, light: np.ndarray, turns: int) -> np.ndarray:
    """ab (N, 2, H, W) for L (N, H, W) in stored orientation, predicted on the frames
    turned upright by `turns` quarter turns and turned back."""
    if not turns:
        return colorizer.predict(light[:, None])
    ab = colorizer.predict(np.rot90(light, turns, axes=(1, 2))[:, None])
    return np.ascontiguousarray(np.rot90(ab, -turns, axes=(2, 3)))


def partial_path(dst: Path) -> Path:
    return dst.with_name(f".{dst.stem}.partial{dst.suffix}")


def _ycbcr_coeffs(colorspace: str, height: int) -> tuple[float, float]:
    """(Kr, Kb) of the stream's matrix; unspecified -> BT.709 for HD, BT.601 for SD."""
    name = str(colorspace).lower()
    if "709" in name or ("unspecified" in name or name in ("", "none")) and height >= 720:
        return 0.2126, 0.0722
    return 0.299, 0.114


def main_video_stream(container, src: Path | str):
    """The video stream to colorize: the one FFmpeg itself would pick (av_find_best_stream),
    never a cover picture. Files can carry more than one video stream (a thumbnail or cover
    as an MJPEG/PNG stream ahead of the film), so the first is not always the film."""
    demuxer = container.format.name
    if demuxer == "image2" or demuxer.endswith("_pipe"):
        # FFmpeg opens a single picture as a one-frame video (png_pipe, image2, ...); an
        # animated GIF has its own demuxer and stays a video
        raise VideoError(f"{src}: a still image, not a video (use `colorize image`, or "
                         f"`colorize frames` for a numbered image sequence)")
    cover = av.stream.Disposition.attached_pic
    streams = [s for s in container.streams.video if not s.disposition & cover]
    if not streams:
        raise VideoError(f"{src}: no video stream")
    best = container.streams.best("video")
    if best in streams:
        return best
    return max(streams, key=lambda s: (s.frames, s.codec_context.width * s.codec_context.height))


def _encoder(name: str | None, fmt: str) -> av.Codec:
    """The video encoder to use for container fmt, checked to exist."""
    name = name or DEFAULT_CODEC.get(fmt, "libx264")
    try:
        return av.Codec(name, "w")
    except av.codec.codec.UnknownCodecError:
        raise VideoError(f"unknown video encoder {name!r} (FFmpeg's encoder names: libx264, "
                         "libx265, libvpx-vp9, mpeg4, ...)") from None


def _frame_formats(in_fmt: str, bits: int, odd: bool, encoder: av.Codec,
                   eight_bit: bool = False) -> tuple[str, str, int]:
    """(format the decoded frames are brought to, format the encoder gets, bit depth).

    8-bit sources stay 8-bit and 10-bit-or-deeper ones become 10-bit where the encoder takes
    it; 4:2:0 where the encoder takes it (4:4:4 at odd sizes, which 4:2:0 cannot hold),
    else 4:2:2, else 4:4:4. yuvj* (full range) frames are not range-converted: the encoder
    gets the yuvj format, or the plain one with the full-range flag."""
    takes = {f.name for f in encoder.video_formats or ()}
    depths = (8,) if eight_bit else (10, 8) if bits > 8 else (8, 10)
    layouts = ("444",) if odd else ("420", "422", "444")
    for depth in depths:
        for layout in layouts:
            plain = f"yuv{layout}p" + ("10le" if depth > 8 else "")
            full = f"yuvj{layout}p" if depth == 8 and in_fmt.startswith("yuvj") else None
            if not takes or (full or plain) in takes:
                return full or plain, full or plain, depth
            if plain in takes:
                return full or plain, plain, depth
    if eight_bit:
        raise VideoError(f"encoder {encoder.name} takes no 8-bit YUV (it takes "
                         f"{', '.join(sorted(takes))}); drop --8-bit or choose another --codec")
    raise VideoError(f"encoder {encoder.name} takes none of 8- or 10-bit YUV 4:2:0, 4:2:2, "
                     f"4:4:4{' (odd size: 4:4:4 only)' if odd else ''} (it takes "
                     f"{', '.join(sorted(takes))}); choose another --codec")


def area_shrink(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average plane (H, W) down to size (w, h), through the largest whole factor k that
    divides both H and W (with H/k >= h, W/k >= w) first: OpenCV's area filter has a fast
    path for whole ratios only, so 1280x720 -> 256x128 takes 0.9 ms instead of 1.8 and
    1920x1080 1.1 ms instead of 4.1. The two stages differ from one area resize by 0.15-0.3
    code values on average (up to ~20 at single-pixel detail, which the model cannot use)."""
    height, width = plane.shape[:2]
    w, h = size
    k = max((d for d in range(2, min(width // w, height // h) + 1)
             if width % d == 0 and height % d == 0), default=1)
    if k > 1 and (width // k, height // k) != (w, h):
        plane = cv2.resize(plane, (width // k, height // k), interpolation=cv2.INTER_AREA)
    return cv2.resize(plane, size, interpolation=cv2.INTER_AREA)


class ChromaMaker:
    """Working-size L + ab -> U and V planes at the codec's chroma resolution, for 8- or
    10-bit video (codes scaled by 2 ** (bits - 8), as in BT.709 / BT.2020)."""

    def __init__(self, kr: float, kb: float, full_range: bool, bits: int = 8):
        self.full, self.bits = full_range, bits
        step = float(1 << (bits - 8))
        self.top = (1 << bits) - 1
        # R'G'B' -> (Cb, Cr) + mid: Cb = (B' - Y') / (2 (1 - Kb)), Cr = (R' - Y') / (2 (1 - Kr))
        kg = 1.0 - kr - kb
        scale = float(self.top) if full_range else 224.0 * step
        cu, cv = 0.5 * scale / (1.0 - kb), 0.5 * scale / (1.0 - kr)
        mid = 128.0 * step
        self._to_cbcr = np.array([[-kr * cu, -kg * cu, (1.0 - kb) * cu, mid],
                                  [(1.0 - kr) * cv, -kg * cv, -kb * cv, mid]], np.float32)
        # every luma code -> CIELAB L, so converting a frame is one table lookup
        self._l_of_code = gray_to_l(self.luma_to_unit(np.arange(self.top + 1)))

    def luma_to_unit(self, y: np.ndarray) -> np.ndarray:
        y = y.astype(np.float32)
        if self.full:
            return y / np.float32(self.top)
        step = np.float32(1 << (self.bits - 8))
        return np.clip((y - 16.0 * step) / (219.0 * step), 0, 1)

    def light(self, y: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """uint8 / uint16 luma plane -> CIELAB L at working size (w, h)."""
        return self._l_of_code[area_shrink(y, size)]

    def planes(self, light: np.ndarray, ab: np.ndarray, size: tuple[int, int]
               ) -> tuple[np.ndarray, np.ndarray]:
        rgb = lab_to_rgb(join_lab(light, ab), inplace=True)  # a fresh array of its own
        # Cb and Cr with their mid-code offset in one 2x4 matrix over the pixels, rounded
        # and saturated to uint8 by convertScaleAbs (they are never negative). Quantised at
        # working size, then upsampled as integers: twice as fast as float at full size and
        # within one code value of it. INTER_LINEAR_EXACT, because OpenCV's plain uint8
        # INTER_LINEAR is biased (-0.12 code values on average)
        cbcr = cv2.transform(rgb, self._to_cbcr)
        if self.bits == 8:
            cbcr = cv2.convertScaleAbs(cbcr)
        else:
            cbcr = np.clip(cbcr + np.float32(0.5), 0, self.top).astype(np.uint16)
        up = cv2.resize(cbcr, size, interpolation=cv2.INTER_LINEAR_EXACT)
        # as two contiguous planes: copying a strided channel view into the frame's plane
        # costs ~5x what the split does
        u, v = cv2.split(up)
        return u, v


def _plane_array(plane, dtype=np.uint8) -> np.ndarray:
    """A frame plane as an (h, w) array: uint8, or uint16 for the 10-bit formats."""
    buf = np.frombuffer(plane, dtype)
    size = np.dtype(dtype).itemsize
    return buf.reshape(plane.height, plane.line_size // size)[:, : plane.width]


def _set_plane(plane, data: np.ndarray) -> None:
    size = data.dtype.itemsize
    arr = np.frombuffer(memoryview(plane), data.dtype).reshape(plane.height,
                                                              plane.line_size // size)
    arr[:, : plane.width] = data


class PtsOrder:
    """Hands frames on in decode order, each stamped with the next smallest pts seen.

    A decoder returns frames in presentation order, so in a well-formed stream their pts
    already increase and nothing changes. Some files stamp packets with pts equal to dts
    although the stream has B-frames (../shared/video/box.mp4 is one): their frames come out
    with scrambled pts, which an encoder refuses. Holding back ``depth`` frames (more than
    H.264's reordering) and giving out the held pts values smallest first puts them back in
    order; the output keeps exactly the input's set of timestamps.
    """

    def __init__(self, depth: int = 16):
        self.depth = depth
        self.frames: deque = deque()
        self.stamps: list[int] = []
        self.last_in: int | None = None
        self.last_out: int | None = None
        self.reordered = 0

    def push(self, frame) -> list:
        if self.last_in is not None and frame.pts < self.last_in:
            self.reordered += 1
        self.last_in = frame.pts
        self.frames.append(frame)
        heapq.heappush(self.stamps, frame.pts)
        return self._take(self.depth)

    def flush(self) -> list:
        return self._take(0)

    def _take(self, keep: int) -> list:
        ready = []
        while len(self.frames) > keep:
            frame, pts = self.frames.popleft(), heapq.heappop(self.stamps)
            if self.last_out is not None and pts <= self.last_out:
                raise VideoError(f"frame timestamps repeat or are out of order beyond "
                                 f"{self.depth} frames (pts {pts} after {self.last_out})")
            frame.pts = self.last_out = pts
            ready.append(frame)
        return ready


class _Reader(threading.Thread):
    """Demux and decode; video frames and the packets copied as they are (audio, subtitles)
    go to the queue in order."""

    def __init__(self, container, vstream, astreams, out_q: queue.Queue, start: float | None,
                 end: float | None, transcode: set[int], substreams=()):
        super().__init__(name="colorize-decode", daemon=True)
        self.container, self.vstream, self.astreams = container, vstream, astreams
        self.substreams = list(substreams)
        self.q, self.start_t, self.end_t = out_q, start, end
        self.transcode = transcode
        self.stop = threading.Event()
        self.decode_s = 0.0
        self.packets = 0  # video packets with data, and frames they decoded to
        self.frames = 0
        self.order = PtsOrder()
        self.stamped = 0  # frames that came without a timestamp
        rate = vstream.average_rate or vstream.guessed_rate or Fraction(25)
        self.frame_step = max(1, round(1 / (rate * vstream.time_base)))  # one frame, in pts

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # handed to the main thread, which raises it
            self._put(("error", exc))
        self._put(("end", None))

    def _in_range(self, t: float | None) -> bool:
        if t is None:
            return True
        if self.start_t is not None and t < self.start_t - 1e-6:
            return False
        return self.end_t is None or t < self.end_t - 1e-6

    def _run(self) -> None:
        streams = [self.vstream, *self.astreams, *self.substreams]
        for packet in self.container.demux(streams):
            if self.stop.is_set():
                return
            if packet.stream.type == "subtitle":
                if packet.size and packet.pts is not None and self._in_range(
                        float(packet.pts * packet.time_base)):
                    self._put(("packet", packet))
                continue
            if packet.stream.type == "audio":
                if packet.dts is None:
                    continue
                t = float(packet.pts * packet.time_base) if packet.pts is not None else None
                if not self._in_range(t):
                    continue
                if packet.stream.index in self.transcode:
                    for frame in packet.decode():
                        self._put(("audio_frame", _AudioFrame(packet.stream.index, frame)))
                else:
                    self._put(("packet", packet))
                continue
            tic = time.perf_counter()
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                raise VideoError(f"cannot decode video frame {self.frames} ({exc}); refusing to "
                                 "write a video with missing frames") from None
            self.decode_s += time.perf_counter() - tic
            self.packets += packet.size > 0
            ready = []
            for frame in frames:
                self.frames += 1
                if frame.pts is None:
                    self._stamp(frame)
                ready.extend(self.order.push(frame))
            if not self._hand_on(ready):
                return
        self._hand_on(self.order.flush())  # the frames held back for reordering

    def _stamp(self, frame) -> None:
        """A frame without a timestamp (raw H.264 / HEVC streams have none) gets the one after
        the last frame's at the stream's frame rate, as FFmpeg's own tools do."""
        last = self.order.last_in
        frame.pts = 0 if last is None else last + self.frame_step
        frame.time_base = self.vstream.time_base
        self.stamped += 1

    def _hand_on(self, frames: list) -> bool:
        """Queue frames inside --start/--end; False once past --end or stopped."""
        for frame in frames:
            t = frame.time
            if self.end_t is not None and t is not None and t >= self.end_t - 1e-6:
                return False
            if self._in_range(t) and not self._put(("video", frame)):
                return False
        return True


class _Writer(threading.Thread):
    """Encode video frames and mux everything, in the order given. ``copy_map`` maps an
    input stream index to its output stream: audio (copied or transcoded) and subtitles."""

    def __init__(self, container, vout, copy_map, transcode: set[int], in_q: queue.Queue):
        super().__init__(name="colorize-encode", daemon=True)
        self.container, self.vout, self.copy_map, self.q = container, vout, copy_map, in_q
        self.transcode = transcode
        self.shift_s = 0.0  # --start: timestamps are moved so the segment starts at 0
        self.error: BaseException | None = None
        self.encode_s = 0.0
        self.audio_packets = 0
        self.audio_samples: dict[int, int] = {}  # per transcoded stream
        self.subtitle_packets = 0
        self.frames = 0

    def run(self) -> None:
        try:
            while (item := self.q.get()) is not SENTINEL:
                kind, obj = item
                if kind == "video":
                    tic = time.perf_counter()
                    for packet in self.vout.encode(obj):
                        self.container.mux(packet)
                    self.encode_s += time.perf_counter() - tic
                    self.frames += 1
                elif kind == "packet":
                    out_stream = self.copy_map[obj.stream.index]
                    audio = obj.stream.type == "audio"
                    if self.shift_s:
                        off = int(round(self.shift_s / obj.time_base))
                        if obj.pts is None or obj.pts - off < 0:
                            continue  # before the segment's first video frame
                        obj.pts -= off
                        obj.dts = obj.dts - off if obj.dts is not None else None
                    obj.stream = out_stream
                    self.container.mux(obj)
                    if audio:
                        self.audio_packets += 1
                    else:
                        self.subtitle_packets += 1
                elif kind == "audio_frame":
                    stream = self.copy_map[obj.index]
                    frame = obj.frame
                    # stamped by its samples from 0, as the stream starts with the video: with
                    # timestamps the encoder's own delay (AAC primes 1024 samples) goes into
                    # the file as an edit to skip, where without them it played as a late
                    # start (64 ms at 16 kHz)
                    done = self.audio_samples.get(obj.index, 0)
                    frame.pts = done
                    frame.time_base = Fraction(1, frame.sample_rate)
                    self.audio_samples[obj.index] = done + frame.samples
                    for packet in stream.encode(frame):
                        self.container.mux(packet)
                        self.audio_packets += 1
            for packet in self.vout.encode(None):
                self.container.mux(packet)
            for index in self.transcode:
                for packet in self.copy_map[index].encode(None):
                    self.container.mux(packet)
                    self.audio_packets += 1
        except BaseException as exc:
            self.error = exc
            while self.q.get() is not SENTINEL:  # drain so the producer never blocks
                pass


class _Finisher(threading.Thread):
    """Runs fn on each queued item in order (smoothing and chroma planes for a batch, or
    forwarding audio), so that this work overlaps the next batch's inference."""

    def __init__(self, fn: Callable[[tuple], None], in_q: queue.Queue):
        super().__init__(name="colorize-finish", daemon=True)
        self.fn, self.q = fn, in_q
        self.error: BaseException | None = None
        self.abort = threading.Event()

    def run(self) -> None:
        try:
            while (item := self.q.get()) is not SENTINEL:
                if not self.abort.is_set():
                    self.fn(item)
        except BaseException as exc:
            self.error = exc
            while self.q.get() is not SENTINEL:  # drain so the producer never blocks
                pass


@dataclass
class _AudioFrame:
    index: int
    frame: av.AudioFrame


def colorize_video(src: Path, dst: Path, colorizer: Colorizer, opts: VideoOptions,
                   on_progress: Callable[[int, int | None], None] | None = None,
                   cancel: threading.Event | None = None) -> VideoReport:
    """Colorize src into dst. Raises VideoError; dst appears only when complete.

    Setting ``cancel`` stops the run at the next batch (VideoError, nothing written)."""
    src, dst = Path(src), Path(dst)
    report = VideoReport()
    started = time.perf_counter()
    try:
        inp = av.open(str(src))
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"{src}: cannot open video ({exc})") from None
    cv_threads = cv2.getNumThreads()
    if opts.cv_threads is not None:
        cv2.setNumThreads(opts.cv_threads)
    tmp = partial_path(dst)
    out = None
    reader = writer = None
    encoder: av.Codec | None = None
    try:
        vin = main_video_stream(inp, src)
        vin.thread_type = "AUTO"
        fmt = FORMAT_FOR_SUFFIX.get(dst.suffix.lower())
        if fmt is None:
            raise VideoError(f"{dst}: unsupported output container {dst.suffix!r} "
                             f"(use {', '.join(sorted(FORMAT_FOR_SUFFIX))})")
        for s in inp.streams:
            if s.type in ("data", "attachment"):
                if not any(k.lower() == "timecode" for k in s.metadata):
                    # a QuickTime timecode track: its timecode also rides on the video
                    # stream's tags, and MOV/MP4 output writes the track again from those
                    report.notes.append(f"dropped {s.type} stream #{s.index}")
            elif s.type == "video" and s is not vin:
                cc = s.codec_context
                report.notes.append(f"dropped video stream #{s.index} ({cc.name} {cc.width}x"
                                    f"{cc.height}); colorized #{vin.index}")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        out = av.open(str(tmp), "w", format=fmt)
        width, height = vin.codec_context.width, vin.codec_context.height
        odd = width % 2 or height % 2
        in_fmt = vin.codec_context.pix_fmt or "yuv420p"
        full_range = in_fmt.startswith("yuvj") or str(vin.codec_context.color_range) in (
            "2", "JPEG", "ColorRange.JPEG")
        fmt_in = vin.codec_context.format
        bits = max((c.bits for c in fmt_in.components), default=8) if fmt_in else 8
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        # FFmpeg's field orders: 1 progressive, 2 top field first, 3 bottom first, 4 top
        # coded first and shown second, 5 the reverse
        field_order = int(vin.codec_context.field_order or 0)
        interlaced, top_first = field_order in (2, 3, 4, 5), field_order in (2, 5)
        kept_interlaced = False
        encoder = _encoder(opts.codec, fmt)
        work_fmt, out_fmt, depth = _frame_formats(in_fmt, bits, odd, encoder, opts.eight_bit)
        if in_fmt.startswith("yuvj") and not work_fmt.startswith("yuvj"):
            full_range = False  # swscale brings yuvj (full range) to the limited range
        if odd:
            report.notes.append(f"odd size {width}x{height}: encoded as {out_fmt} to keep it")
        if bits != depth:
            why = " (--8-bit)" if opts.eight_bit else (
                f": {encoder.name} takes no {min(bits, 10)}-bit format here"
                if bits == 8 or depth == 8 else "")
            report.notes.append(f"{bits}-bit input ({in_fmt}) written as {depth}-bit "
                                f"{out_fmt}{why}")
        try:
            vout = out.add_stream(encoder.name, rate=rate)
        except ValueError:
            raise VideoError(f"{dst}: a {fmt} file cannot hold {encoder.name} video; choose "
                             "another --codec or output suffix") from None
        vout.width, vout.height, vout.pix_fmt = width, height, out_fmt
        # the source's colour tags, so that players decode the output as they did the input
        for tag in ("colorspace", "color_primaries", "color_trc"):
            setattr(vout.codec_context, tag, getattr(vin.codec_context, tag))
        if full_range:
            vout.codec_context.color_range = av.video.reformatter.ColorRange.JPEG.value
        vout.time_base = vin.time_base
        vout.codec_context.time_base = vin.time_base
        vout.codec_context.framerate = rate
        if encoder.name in ("libx264", "libx265"):
            if opts.crf > 51:
                raise VideoError(f"--crf {opts.crf}: {encoder.name} takes 0-51")
            options = ({"qp": "0", "preset": "ultrafast"} if opts.lossless
                       else {"crf": str(opts.crf), "preset": opts.preset})
            if fmt == "avi":
                # AVI stores no presentation times: with B-frames the times a decoder
                # guesses come out scrambled, so the frames go in display order
                options["bf"] = "0"
            if interlaced and encoder.name == "libx264":
                kept_interlaced = True
                # field-coded like the source, so that players deinterlace it as they did
                # the source (progressive coding would show the fields as combing)
                options.update({"flags": "+ilme+ildct",
                                "x264-params": "tff=1" if top_first else "bff=1"})
                report.notes.append(f"interlaced source "
                                    f"({'top' if top_first else 'bottom'} field first) "
                                    "kept interlaced")
            vout.options = repeatable(encoder.name, options)
        elif encoder.name in ("libvpx-vp9", "libvpx"):
            # constant quality (b 0), on VP9's own 0-63 scale
            vout.options = {"lossless": "1"} if opts.lossless else {"crf": str(opts.crf),
                                                                    "b": "0"}
        if interlaced and not kept_interlaced:
            report.notes.append(f"interlaced source: {encoder.name} encodes it progressive "
                                "(libx264 keeps it interlaced)")
        if interlaced:
            vout.codec_context.field_order = vin.codec_context.field_order
        vout.thread_type = "AUTO"
        copy_map: dict[int, av.stream.Stream] = {}
        transcode: set[int] = set()
        allowed = AUDIO_COPY.get(fmt)
        for a in inp.streams.audio:
            name = a.codec_context.codec.canonical_name  # "mp3", not decoder "mp3float"
            if allowed is None or name in allowed:
                copy_map[a.index] = out.add_stream_from_template(a)
            else:
                codec, label, rate_hz = AUDIO_TRANSCODE.get(fmt, AUDIO_TRANSCODE_DEFAULT)
                stream = out.add_stream(codec, rate=rate_hz or a.codec_context.sample_rate)
                stream.layout = encodable_layout(a.codec_context.layout)
                copy_map[a.index] = stream
                transcode.add(a.index)
                report.notes.append(f"audio #{a.index} ({name}) cannot be copied into "
                                    f"{fmt}: transcoded to {label}")
        subs = []
        for t in inp.streams.subtitles:
            name = t.codec_context.name
            if name in out.supported_codecs:
                copy_map[t.index] = out.add_stream_from_template(t)
                subs.append(t)
            else:
                hint = ("; .mkv keeps it" if fmt != "matroska"
                        and name in holds("matroska") else "")
                report.notes.append(f"dropped subtitle stream #{t.index} ({name}): a {fmt} "
                                    f"file cannot hold it{hint}")
        if opts.start:
            inp.seek(int(opts.start / vin.time_base), stream=vin, backward=True)
        total = vin.frames or None
        if total and (opts.start or opts.end):
            total = None
        q_in: queue.Queue = queue.Queue(maxsize=opts.queue_size)
        q_out: queue.Queue = queue.Queue(maxsize=opts.queue_size)
        reader = _Reader(inp, vin, list(inp.streams.audio), q_in, opts.start, opts.end,
                         transcode, subs)
        reader.start()
        smoother = Smoother(opts.smoothing)
        kr, kb = _ycbcr_coeffs(str(vin.codec_context.colorspace), height)
        chroma = ChromaMaker(kr, kb, full_range, depth)
        dtype = np.uint16 if depth > 8 else np.uint8
        stage = {"pre": 0.0, "infer": 0.0, "smooth": 0.0, "post": 0.0}
        batch: list[av.VideoFrame] = []
        resized: dict[str, int] = {}
        state = {"writer": None, "shift": 0, "turns": 0}

        def start_writer(first: av.VideoFrame) -> _Writer:
            rotation = getattr(first, "rotation", 0) or 0
            if rotation:
                vout.set_display_rotation(rotation)
                state["turns"] = upright_turns(rotation) if opts.upright else 0
                how = " (colorized upright)" if state["turns"] else ""
                report.notes.append(f"rotation {rotation}° kept{how}")
            w = _Writer(out, vout, copy_map, transcode, q_out)
            if opts.start:
                state["shift"] = first.pts
                w.shift_s = float(first.pts * first.time_base)
            # the tags of the file and of each stream kept (titles, languages, dates,
            # timecode), set like the chapters before the header is written
            start_s = float(vin.start_time * vin.time_base) if vin.start_time else 0.0
            rate_tc = rate if fmt in ("mp4", "mov") else None
            pairs = [(inp.metadata, out.metadata), (vin.metadata, vout.metadata)]
            pairs += [(inp.streams[i].metadata, o.metadata) for i, o in copy_map.items()]
            for source, target in pairs:
                note = copy_tags(source, target, w.shift_s - start_s, rate, rate_tc)
                if note and note not in report.notes:
                    report.notes.append(note)
            marks = segment_chapters(inp.chapters(), w.shift_s, opts.end)
            if marks:  # before the header is written, with the first packet
                out.set_chapters(marks)
                report.chapters = len(marks)
            w.start()
            return w

        def flush() -> None:
            if not batch:
                return
            if state["writer"] is None:
                state["writer"] = start_writer(batch[0])
            tic = time.perf_counter()
            frames = []
            for f in batch:
                if (f.width, f.height) != (width, height):
                    # the stream changed size mid-way (joined clips): scaled to the size the
                    # output started with, as FFmpeg's own tools do
                    seen = f"{f.width}x{f.height}"
                    resized[seen] = resized.get(seen, 0) + 1
                    f = f.reformat(width=width, height=height, format=work_fmt,
                                   interpolation="BICUBIC")
                frames.append(f if f.format.name == work_fmt else f.reformat(format=work_fmt))
            lumas = [_plane_array(f.planes[0], dtype) for f in frames]
            turns = state["turns"]
            wh, ww = stored_working_shape(colorizer, height, width, opts.size, turns)
            small = [chroma.light(y, (ww, wh)) for y in lumas]
            stage["pre"] += time.perf_counter() - tic
            tic = time.perf_counter()
            ab = predict_turned(colorizer, np.stack(small), turns)
            stage["infer"] += time.perf_counter() - tic
            if finisher.error is not None:
                raise finisher.error
            q_fin.put(("batch", (list(batch), frames, small, ab)))
            batch.clear()

        def finish(item: tuple) -> None:
            kind, obj = item
            if kind != "batch":
                q_out.put(item)  # audio, kept in order with the video around it
                return
            wtr = state["writer"]
            for src_frame, frame, light, ab_i in zip(*obj, strict=True):
                tic = time.perf_counter()
                ab_s = smoother(light, ab_i.transpose(1, 2, 0) * opts.saturation)
                stage["smooth"] += time.perf_counter() - tic
                tic = time.perf_counter()
                ab_s = limit_chroma(light, ab_s)
                cw, ch = frame.planes[1].width, frame.planes[1].height
                u, v = chroma.planes(light, ab_s, (cw, ch))
                new = av.VideoFrame(width, height, out_fmt)
                _set_plane(new.planes[0], _plane_array(frame.planes[0], dtype))
                _set_plane(new.planes[1], u)
                _set_plane(new.planes[2], v)
                new.pts = src_frame.pts - state["shift"]
                new.time_base = src_frame.time_base
                stage["post"] += time.perf_counter() - tic
                if wtr.error is not None:
                    raise wtr.error
                q_out.put(("video", new))
                report.frames += 1
                if on_progress:
                    on_progress(report.frames, total)

        # batches waiting for the finisher: about 8 frames, enough to keep it busy while the
        # next batch is inferred; every frame waiting holds its decoded picture
        q_fin: queue.Queue = queue.Queue(maxsize=max(1, 8 // opts.batch))
        finisher = _Finisher(finish, q_fin)
        finisher.start()
        pending_audio = []
        while True:
            if cancel is not None and cancel.is_set():
                raise VideoError(f"{src}: interrupted")
            kind, obj = q_in.get()
            if kind == "end":
                break
            if kind == "error":
                if isinstance(obj, VideoError):  # the reader's messages name the frame
                    raise VideoError(f"{src}: {obj}") from None
                raise obj
            if kind == "video":
                batch.append(obj)
                if len(batch) >= opts.batch:
                    flush()
                    for item in pending_audio:
                        q_fin.put(item)
                    pending_audio.clear()
            elif kind in ("packet", "audio_frame"):
                item = (kind, obj)
                (q_fin.put(item) if state["writer"] else pending_audio.append(item))
        flush()
        if state["writer"] is None:
            if opts.start is not None or opts.end is not None:
                length = (f" (the video lasts {inp.duration / av.time_base:.2f} s)"
                          if inp.duration else "")
                raise VideoError(f"{src}: no video frames between --start and --end{length}")
            raise VideoError(f"{src}: no video frames decoded")
        for item in pending_audio:
            q_fin.put(item)
        q_fin.put(SENTINEL)
        finisher.join()
        if finisher.error is not None:
            raise finisher.error
        q_out.put(SENTINEL)
        writer = state["writer"]
        writer.join()
        state["writer"] = None
        if writer.error is not None:
            raise VideoError(f"{dst}: encoding failed ({writer.error})")
        out.close()
        out = None
        os.replace(tmp, dst)
        report.audio_packets = writer.audio_packets
        report.subtitle_packets = writer.subtitle_packets
        if reader.order.reordered:
            report.notes.append(f"{reader.order.reordered} frames came out of the decoder with "
                                "out-of-order pts (pts written as dts in the source): "
                                "timestamps put back in order")
        for size_seen, count in resized.items():
            report.notes.append(f"{count} frames of {size_seen} scaled to the output's "
                                f"{width}x{height}")
        if reader.stamped:
            report.notes.append(f"{reader.stamped} frames had no timestamp: stamped at the "
                                f"stream's frame rate ({float(rate):g} fps)")
        if reader.frames < reader.packets and not (opts.start or opts.end):
            report.notes.append(f"the decoder made {reader.frames} frames of "
                                f"{reader.packets} video packets")
        report.cuts = smoother.cuts
        report.stage_s = {"decode": reader.decode_s, **stage, "encode": writer.encode_s}
        report.seconds = time.perf_counter() - started
        return report
    except av.error.FFmpegError as exc:
        opened = re.search(r'avcodec_open2\("([^"]+)"', str(exc))
        if opened and encoder is not None and opened.group(1) == encoder.name:
            # the video encoder refuses this video's size, pixel format or rate
            raise VideoError(f"{dst}: FFmpeg's {encoder.name} encoder would not start with "
                             f"what this video needs ({width}x{height} {out_fmt} at "
                             f"{float(rate):g} fps; {exc.strerror}); choose another "
                             "--codec") from None
        raise VideoError(f"{src}: {exc}") from None
    finally:
        if reader is not None:
            reader.stop.set()
            reader.join(timeout=10)
        fin = locals().get("finisher")
        if fin is not None and fin.is_alive():
            fin.abort.set()
            q_fin.put(SENTINEL)
            fin.join(timeout=30)
        wtr = state.get("writer") if "state" in locals() else None
        if wtr is not None and wtr.is_alive():
            q_out.put(SENTINEL)  # the writer drains until it sees this
            wtr.join(timeout=30)
        if out is not None:
            try:
                out.close()
            except Exception:  # the partial file is deleted anyway
                pass
        tmp.unlink(missing_ok=True)
        inp.close()
        cv2.setNumThreads(cv_threads)
