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
        ahead = deque(reader.submit(_read, p) for p in files[:READ_AHEAD])
        writing: tuple[Future, FrameResult] | None = None
        try:
            for i, path in enumerate(files):
                if i + READ_AHEAD < total:
                    ahead.append(reader.submit(_read, files[i + READ_AHEAD]))
                pic = ahead.popleft().result()
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
                        rgb = merge(light, ab, 1.0)
                        result = FrameResult(path, "done", total, pic.note or "")
                if writing is not None:
                    # the frame before, written meanwhile: reported (or its write error
                    # raised, which ends the run) before this frame's write starts
                    writing[0].result()
                    yield writing[1]
                    writing = None
                if rgb is None:
                    yield result
                else:
                    writing = (writer.submit(_write, out, rgb, pic), result)
                    del rgb
            if writing is not None:
                writing[0].result()
                yield writing[1]
        finally:
            for f in ahead:  # stopped early: frames read ahead are not wanted
                f.cancel()
