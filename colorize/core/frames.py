"""A numbered image sequence colorized like a video (same temporal smoother)."""

from __future__ import annotations

import re
from collections.abc import Iterator
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


def _colorize_frames(files: list[Path], dst: Path, colorizer: Colorizer,
                     smoothing: SmootherConfig, size: int | None, saturation: float,
                     overwrite: bool) -> Iterator[FrameResult]:
    smoother = Smoother(smoothing)
    settings = Settings(size=size, saturation=1.0)
    for path in files:
        out = written_as(Path(dst) / path.name)
        try:
            pic = read_image(path)
        except ColorizeError as exc:
            smoother.reset()
            yield FrameResult(path, "failed", len(files), str(exc))
            continue
        light = luminance_of(pic)
        small = working_light(light, colorizer, settings)
        ab = colorizer.predict(small[None, None])[0].transpose(1, 2, 0) * saturation
        # the smoother runs on every frame, done or not, so its state matches a full run
        ab = smoother(small, np.ascontiguousarray(ab))
        if out.exists() and not overwrite:
            yield FrameResult(path, "skipped", len(files))
            continue
        rgb = merge(light, ab, 1.0)
        write_atomic(out, encode_picture(rgb, pic.alpha, pic.depth, out.suffix, meta=pic.meta)[0])
        yield FrameResult(path, "done", len(files), pic.note or "")
