"""Colour quality of a clip stored sideways (as phones store portrait video), colorized with
and without turning its frames upright for the model.

Each real clip is re-encoded losslessly with every picture turned against a display rotation
(so it displays as the original), then put through `colorize_video` with
`VideoOptions(upright=True)` (the default) and `upright=False` (the stored pixels as they
are, sideways). The outputs are turned to their display orientation and scored against the
original colour frames: CIE76 ΔE and PSNR on 8-bit RGB (per frame, then averaged), and
colourfulness against the truth's; the gray baseline (ab = 0) beside them.

    python benchmarks/bench_rotation.py --out benchmarks/results/rotation.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import av
import numpy as np
from machine import describe

from colorize.core.color import lab_to_rgb
from colorize.core.evaluate import to_u8
from colorize.core.metrics import colorfulness, delta_e76, lab_of, psnr
from colorize.core.session import Colorizer
from colorize.core.video import VideoOptions, colorize_video

CLIPS = ("bikes.mp4", "box.mp4", "cup.mp4")


def frames_rgb(path: Path, limit: int) -> tuple[list[np.ndarray], float]:
    with av.open(str(path)) as c:
        out, rate = [], float(c.streams.video[0].average_rate or 25)
        for f in c.decode(video=0):
            turns = round((f.rotation or 0) / 90)
            out.append(np.ascontiguousarray(np.rot90(f.to_ndarray(format="rgb24"), turns)))
            if len(out) >= limit:
                break
    return out, rate


def write_turned(frames: list[np.ndarray], rate: float, rotation: int, dst: Path) -> None:
    """Lossless 4:4:4 H.264, each picture turned by -rotation, display rotation set."""
    turns = round(rotation / 90)
    with av.open(str(dst), "w") as c:
        s = c.add_stream("libx264", rate=round(rate))
        h, w = frames[0].shape[:2]
        s.width, s.height = (h, w) if turns % 2 else (w, h)
        s.pix_fmt, s.options = "yuv444p", {"qp": "0", "preset": "ultrafast"}
        s.set_display_rotation(rotation)
        for img in frames:
            stored = np.ascontiguousarray(np.rot90(img, -turns))
            for p in s.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)


def gray_of(rgb: np.ndarray) -> np.ndarray:
    lab = lab_of(rgb)
    lab[..., 1:] = 0
    return to_u8(lab_to_rgb(lab))


def scores(outs: list[np.ndarray], truths: list[np.ndarray]) -> dict:
    de = [float(delta_e76(lab_of(o), lab_of(t)).mean()) for o, t in zip(outs, truths,
                                                                          strict=True)]
    ps = [psnr(o, t) for o, t in zip(outs, truths, strict=True)]
    cf = np.mean([colorfulness(o) for o in outs]) / np.mean([colorfulness(t) for t in truths])
    return {"delta_e76": round(float(np.mean(de)), 3), "psnr": round(float(np.mean(ps)), 3),
            "colorfulness_x": round(float(cf), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--video-dir", type=Path, default=Path("../shared/video"))
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--rotation", type=int, default=-90,
                    help="display rotation, degrees counterclockwise (-90: a phone held "
                         "upright)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    col = Colorizer(args.model, device="cpu")
    result = {"machine": describe(), "model": str(col.path), "rotation": args.rotation,
              "frames_per_clip": args.frames, "clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in CLIPS:
            truth, rate = frames_rgb(args.video_dir / name, args.frames)
            src = Path(tmp) / f"turned_{name}"
            write_turned(truth, rate, args.rotation, src)
            row = {"gray": scores([gray_of(t) for t in truth], truth)}
            for upright in (True, False):
                dst = Path(tmp) / f"out_{upright}_{name}"
                colorize_video(src, dst, col, VideoOptions(upright=upright, lossless=True))
                outs, _ = frames_rgb(dst, args.frames)
                row["upright" if upright else "sideways"] = scores(outs, truth)
            result["clips"][name] = row
            print(name, json.dumps(row))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
