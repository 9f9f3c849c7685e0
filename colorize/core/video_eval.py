"""Compare smoothing modes on a desaturated colour clip against its own colours."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import cv2
import numpy as np

from colorize.core.errors import VideoError
from colorize.core.metrics import colorfulness, delta_e76, lab_of
from colorize.core.pipeline import limit_chroma
from colorize.core.session import Colorizer
from colorize.core.smoothing import DEFAULT_STRENGTH, Smoother, SmootherConfig
from colorize.core.temporal import cdc, warp_error
from colorize.core.video import (
    ChromaMaker,
    _plane_array,
    _set_plane,
    _ycbcr_coeffs,
    main_video_stream,
    predict_turned,
    stored_working_shape,
    upright_turns,
)

MEASURE_WIDTH = 320


def _decode(clip: Path, limit: int | None) -> tuple[list[av.VideoFrame], str]:
    try:
        with av.open(str(clip)) as container:
            stream = main_video_stream(container, clip)
            stream.thread_type = "AUTO"
            frames = []
            for frame in container.decode(stream):
                if frame.format.name != "yuv420p":
                    frame = frame.reformat(format="yuv420p")
                frames.append(frame)
                if limit and len(frames) >= limit:
                    break
            return frames, str(stream.codec_context.colorspace)
    except av.error.FFmpegError as exc:
        raise VideoError(f"{clip}: {exc}") from None


def _small(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    if w <= MEASURE_WIDTH:
        return img
    return cv2.resize(img, (MEASURE_WIDTH, int(round(h * MEASURE_WIDTH / w))),
                      interpolation=cv2.INTER_AREA)


def _frame_rgb(frame: av.VideoFrame, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The decoded luma with new chroma planes, as the player would show it (8-bit RGB)."""
    new = av.VideoFrame(frame.width, frame.height, "yuv420p")
    _set_plane(new.planes[0], _plane_array(frame.planes[0]))
    _set_plane(new.planes[1], u)
    _set_plane(new.planes[2], v)
    new.colorspace = frame.colorspace
    new.color_range = frame.color_range
    return new.to_ndarray(format="rgb24")


def _measure(rgbs: Sequence[np.ndarray], truths: Sequence[np.ndarray],
             grays: Sequence[np.ndarray]) -> dict[str, float]:
    mse = float(np.mean([np.mean((a.astype(np.float64) - b) ** 2)
                         for a, b in zip(rgbs, truths, strict=True)]))
    labs = [lab_of(_small(r)) for r in rgbs]
    de = float(np.mean([delta_e76(lab_of(a), lab_of(b)).mean()
                        for a, b in zip(rgbs, truths, strict=True)]))
    raw, norm = warp_error([lab[..., 1:] for lab in labs], grays)
    return {"psnr": 10 * np.log10(255.0**2 / max(mse, 1e-12)), "de76": de,
            "colorfulness": float(np.mean([colorfulness(r) for r in rgbs])),
            "warp_error": raw, "warp_error_norm": norm, "cdc": cdc(rgbs)}


def evaluate_clip(colorizer: Colorizer, clip: Path, modes: Sequence[str] = ("none", "ema",
                                                                              "flow"),
                  strength: float = DEFAULT_STRENGTH, cut_threshold: float = 0.15,
                  limit: int | None = None, size: int | None = None) -> dict[str, dict]:
    frames, colorspace = _decode(clip, limit)
    if len(frames) < 2:
        raise VideoError(f"{clip}: need at least 2 frames")
    width, height = frames[0].width, frames[0].height
    kr, kb = _ycbcr_coeffs(colorspace, height)
    chroma = ChromaMaker(kr, kb, full_range=False)
    truths = [f.to_ndarray(format="rgb24") for f in frames]
    if max(colorfulness(t) for t in truths[:: max(1, len(truths) // 8)]) < 1.0:
        raise VideoError(f"{clip}: the clip has no colour, so there is no truth to measure "
                         "against (eval needs a colour clip; it desaturates it itself)")
    grays = [_small(_plane_array(f.planes[0])).copy() for f in frames]
    # as `colorize video` does: a clip stored sideways is colorized upright
    turns = upright_turns(getattr(frames[0], "rotation", 0) or 0)
    wh, ww = stored_working_shape(colorizer, height, width, size, turns)
    lights = [chroma.light(_plane_array(f.planes[0]), (ww, wh)) for f in frames]
    preds = []
    for i in range(0, len(lights), 8):
        preds.extend(predict_turned(colorizer, np.stack(lights[i:i + 8]), turns))
    results = {"truth": {"colorfulness": float(np.mean([colorfulness(t) for t in truths])),
                         "cdc": cdc(truths)}}
    neutral = np.full((frames[0].planes[1].height, frames[0].planes[1].width), 128, np.uint8)
    gray_rgbs = [_frame_rgb(f, neutral, neutral) for f in frames]
    results["gray"] = {k: v for k, v in _measure(gray_rgbs, truths, grays).items()
                       if k in ("psnr", "de76", "colorfulness")}
    truth_labs = [lab_of(_small(t)) for t in truths]
    raw, norm = warp_error([lab[..., 1:] for lab in truth_labs], grays)
    results["truth"].update(warp_error=raw, warp_error_norm=norm)
    for mode in modes:
        smoother = Smoother(SmootherConfig(mode, strength, cut_threshold))
        rgbs = []
        for frame, light, ab in zip(frames, lights, preds, strict=True):
            ab_s = limit_chroma(light, smoother(light, ab.transpose(1, 2, 0)))
            u, v = chroma.planes(light, ab_s, (frame.planes[1].width, frame.planes[1].height))
            rgbs.append(_frame_rgb(frame, u, v))
        results[mode] = _measure(rgbs, truths, grays)
        results[mode]["cuts"] = smoother.cuts
    results["frames"] = len(frames)
    return results
