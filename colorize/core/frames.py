"""A numbered image sequence colorized like a video (same temporal smoother)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colorize.core.errors import ColorizeError
from colorize.core.imageio import (
    INPUT_SUFFIXES,
    encode_picture,
    read_image,
    write_atomic,
    written_as,
)
from colorize.core.pipeline import Settings, luminance_of, merge, working_light
from colorize.core.session import Colorizer
from colorize.core.smoothing import Smoother, SmootherConfig

# frames read before the model needs them: two, so that one large scan decoding slowly
# does not stall the model
READ_AHEAD = 2
# a frame is worked on while the one before is written only if two such frames hold at
# most this many pixels (two 4K full-aperture scans, 4096x3112): 24 MP 16-bit frames
# peaked at 1.79 GB with the threads and at 1.23 GB in line
OVERLAP_PIXELS = 2 * 4096 * 3112


@dataclass
class FrameResult:
    path: Path
    status: str
    total: int
    reason: str = ""  # why it failed, or how a done frame was read (a note)


def frame_order(path: Path) -> tuple:
    """Sort key that reads the digit runs of a name as numbers, so that unpadded numbering
    (scan9, scan10) stays in order; padded names sort as they would by name."""
    parts = re.split(r"(\d+)", path.name)
    return tuple((0, int(p), p) if p.isdigit() else (1, 0, p) for p in parts)


def colorize_sequence(src: Path, dst: Path, colorizer: Colorizer, smoothing: SmootherConfig,
                      size: int | None = None, saturation: float = 1.0,
                      overwrite: bool = False) -> Iterator[FrameResult]:
    """The frames of src in number order, colorized one by one. Raises ColorizeError at
    once (not on the first next()) when src holds no images."""
    files = sorted((p for p in Path(src).iterdir()
                    if p.suffix.lower() in INPUT_SUFFIXES and not p.name.startswith(".")),
                   key=frame_order)
    if not files:
        raise ColorizeError(f"no images in {src}")
    return _colorize_frames(files, dst, colorizer, smoothing, size, saturation, overwrite)


def _read(path: Path):
    """The picture, or the ColorizeError that says why it cannot be read."""
    try:
        return read_image(path)
    except ColorizeError as exc:
        return exc


def _write(out: Path, rgb: np.ndarray, pic) -> None:
    write_atomic(out, encode_picture(rgb, pic.alpha, pic.depth, out.suffix, meta=pic.meta)[0])


def _written(writing: tuple[Future, FrameResult]) -> FrameResult:
    """The result of a frame handed to the writer, once written (its write error raised)."""
    writing[0].result()
    return writing[1]


def _colorize_frames(files: list[Path], dst: Path, colorizer: Colorizer,
                     smoothing: SmootherConfig, size: int | None, saturation: float,
                     overwrite: bool) -> Iterator[FrameResult]:
    """Frames are read READ_AHEAD ahead and written one behind, each in a thread of its own,
    so that decoding and encoding the full-resolution files overlap the model, the smoother
    and the merge, which run here in order. A frame is reported done once its file is
    written; results come in the frames' order."""
    smoother = Smoother(smoothing)
    settings = Settings(size=size, saturation=1.0)
    total = len(files)
    with ThreadPoolExecutor(1, "colorize-read") as reader, \
            ThreadPoolExecutor(1, "colorize-write") as writer:
        ahead: deque[Future] = deque()  # the frames after the one in hand, being read
        queued = 0  # frames read or handed to the reader so far
        # a frame too large to hold two at once is read and written here, in line: threads
        # gained nothing on 24 MP frames and cost 0.1-0.3 GB
        large = False
        writing: tuple[Future, FrameResult] | None = None
        try:
            for path in files:
                if ahead:
                    pic = ahead.popleft().result()
                else:  # the first frame, or the one after a large frame
                    pic = _read(path)
                    queued += 1
                if not isinstance(pic, ColorizeError):
                    large = 2 * pic.pixels.shape[0] * pic.pixels.shape[1] > OVERLAP_PIXELS
                while not large and queued < total and len(ahead) < READ_AHEAD:
                    ahead.append(reader.submit(_read, files[queued]))
                    queued += 1
                out = written_as(Path(dst) / path.name)
                rgb = None
                if isinstance(pic, ColorizeError):
                    smoother.reset()
                    result = FrameResult(path, "failed", total, str(pic))
                else:
                    light = luminance_of(pic)
                    small = working_light(light, colorizer, settings)
                    ab = colorizer.predict(small[None, None])[0].transpose(1, 2, 0) * saturation
                    # the smoother runs on every frame, done or not, so its state matches a
                    # full run
                    ab = smoother(small, np.ascontiguousarray(ab))
                    if out.exists() and not overwrite:
                        result = FrameResult(path, "skipped", total)
                    else:
                        if writing is not None and large:
                            # too large to hold two frames' colour at once: the frame before
                            # is finished first
                            yield _written(writing)
                            writing = None
                        rgb = merge(light, ab, 1.0)
                        result = FrameResult(path, "done", total, pic.note or "")
                if writing is not None:
                    # the frame before, written meanwhile: reported (or its write error
                    # raised, which ends the run) before this frame's write starts
                    yield _written(writing)
                    writing = None
                if rgb is None:
                    yield result
                elif large:  # written here, before the next frame is read
                    _write(out, rgb, pic)
                    del rgb
                    yield result
                else:
                    writing = (writer.submit(_write, out, rgb, pic), result)
                    del rgb
            if writing is not None:
                yield _written(writing)
        finally:
            for f in ahead:  # stopped early: frames read ahead are not wanted
                f.cancel()
