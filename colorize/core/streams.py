"""What a video's output carries over from the source besides the pictures: file and stream
tags (timecode included), chapters, which subtitle formats a container holds, and libx264
options that make the output repeatable."""

from __future__ import annotations

import functools
import io
import re
from fractions import Fraction

import av

# tags a muxer writes itself (Matroska's per-stream statistics, MP4 brands and handlers),
# or that describe the source file's encoding rather than its content
_OWN_TAGS = {"encoder", "duration", "bps", "number_of_frames", "number_of_bytes",
             "_statistics_writing_app", "_statistics_writing_date_utc", "_statistics_tags",
             "handler_name", "vendor_id", "major_brand", "minor_version", "compatible_brands"}


def copy_tags(source, target, offset_s: float, rate: Fraction,
              track_rate: Fraction | None = None) -> str | None:
    """Copy a file's or stream's tags (title, language, creation date, timecode, ...). A
    timecode moves by ``offset_s`` of video at ``rate`` when a later part is written
    (--start). ``track_rate``: the output's frame rate where the muxer turns a timecode tag
    into a timecode track (MOV/MP4), which FFmpeg refuses, at the end of the file, above 255
    frames per second or for drop-frame at other than 30 or 60. A timecode that cannot be
    kept is left out, with the note this returns."""
    note = None
    for key, value in source.items():
        name = key.lower()
        if name in _OWN_TAGS:
            continue
        if name == "timecode":
            why = None
            if abs(offset_s) > 1e-6:
                moved = shift_timecode(value, offset_s, rate)
                why = None if moved else "it cannot be moved to the segment's start here"
                value = moved or value
            if not why and track_rate is not None:
                fps = round(float(track_rate))
                if not 0 < fps <= 255 or (";" in value and fps not in (30, 60)):
                    why = f"a timecode track cannot run at {float(track_rate):.4g} fps"
            if why:
                note = f"timecode {source[key]} left out: {why}"
                continue
        target[key] = value
    return note


def shift_timecode(code: str, seconds: float, rate: Fraction) -> str | None:
    """A non-drop-frame SMPTE timecode HH:MM:SS:FF moved by ``seconds`` of video at ``rate``
    frames per second (counted at the nominal whole rate, 30 for 29.97); None for drop-frame
    (HH:MM:SS;FF) and unknown forms."""
    m = re.fullmatch(r"(\d{1,2}):(\d\d):(\d\d)([:.])(\d\d)", code.strip())
    base = max(1, round(float(rate)))
    if not m:
        return None
    h, mi, sec, sep, ff = int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5])
    frames = ((h * 60 + mi) * 60 + sec) * base + ff + round(seconds * float(rate))
    frames %= 24 * 3600 * base
    total, ff = divmod(frames, base)
    return f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}{sep}{ff:02d}"


def repeatable(encoder: str, options: dict[str, str]) -> dict[str, str]:
    """libx264's options, made to give the same bytes for the same frames on every run:
    its AVX-512 kernels do not (seen on an AMD EPYC: 5 different files in 20 runs of one
    clip), so on a CPU with AVX-512 it is held to AVX2, at no measurable cost in speed
    (150 720p frames: 3.7-4.1 s either way). Other encoders' options are returned as they
    are."""
    if encoder != "libx264" or not _avx512():
        return options
    params = options.get("x264-params")
    return {**options, "x264-params": f"{params}:asm=avx2" if params else "asm=avx2"}


@functools.cache
def _avx512() -> bool:
    """Whether this CPU has AVX-512 (and so AVX2): Linux's /proc/cpuinfo; False elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512f" in flags and "avx2" in flags


@functools.cache
def holds(fmt: str) -> frozenset[str]:
    """The codecs a container format can hold, as FFmpeg's muxer answers."""
    with av.open(io.BytesIO(), "w", format=fmt) as c:
        return frozenset(c.supported_codecs)


def segment_chapters(chapters: list[dict], start_s: float, end_s: float | None) -> list[dict]:
    """The source's chapters for the part written: those that overlap [start_s, end_s),
    clipped to it and moved so that the part starts at 0 (all of them when the whole video
    is written)."""
    kept = []
    for ch in chapters:
        tb = ch["time_base"]
        a, b = float(ch["start"] * tb) - start_s, float(ch["end"] * tb) - start_s
        stop = None if end_s is None else end_s - start_s
        if b <= 0 or (stop is not None and a >= stop):
            continue
        a, b = max(a, 0.0), b if stop is None else min(b, stop)
        kept.append({**ch, "id": len(kept) + 1, "start": int(round(a / tb)),
                     "end": int(round(b / tb))})
    return kept
