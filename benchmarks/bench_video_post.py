"""Per-frame cost of the video path's work around the model, stage by stage, on real frames.

Frames of a clip scaled to --width x --height are put through what `colorize_video` does
besides decoding, inference and encoding: luma -> working-size L, temporal smoothing, the
gamut limit, the Cb/Cr planes, and a new frame with the three planes set. Single thread,
nothing overlapping, so the numbers add up; OpenCV runs with one thread, as in a video run.

    python benchmarks/bench_video_post.py --clip ../shared/video/bikes.mp4
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import av
import cv2
import numpy as np
from machine import describe

from colorize.core.pipeline import limit_chroma
from colorize.core.session import Colorizer
from colorize.core.smoothing import Smoother, SmootherConfig
from colorize.core.video import ChromaMaker, _plane_array, _set_plane


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clip", type=Path, default=Path("../shared/video/bikes.mp4"))
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    col = Colorizer(args.model, device="cpu")
    frames = []
    with av.open(str(args.clip)) as c:
        for f in c.decode(video=0):
            frames.append(f.reformat(width=args.width, height=args.height, format="yuv420p"))
            if len(frames) >= args.frames:
                break
    wh, ww = col.working_shape(args.height, args.width, None)
    chroma = ChromaMaker(0.2126, 0.0722, False)
    cw, ch = frames[0].planes[1].width, frames[0].planes[1].height
    lights = [chroma.light(_plane_array(f.planes[0]), (ww, wh)) for f in frames]
    preds = []
    for i in range(0, len(lights), 4):
        preds.extend(col.predict(np.stack(lights[i:i + 4])[:, None]))
    limit_chroma(lights[0], np.ascontiguousarray(preds[0].transpose(1, 2, 0)))  # builds table
    spent = dict.fromkeys(("luma_to_L", "smoothing", "gamut", "chroma_planes", "frame"), 0.0)

    def clock(stage: str, since: float) -> float:
        now = time.perf_counter()
        spent[stage] += now - since
        return now

    for _ in range(args.repeats):
        smoother = Smoother(SmootherConfig())
        for frame, light, ab in zip(frames, lights, preds, strict=True):
            t = time.perf_counter()
            chroma.light(_plane_array(frame.planes[0]), (ww, wh))
            t = clock("luma_to_L", t)
            ab_s = smoother(light, ab.transpose(1, 2, 0) * 1.0)
            t = clock("smoothing", t)
            ab_s = limit_chroma(light, ab_s)
            t = clock("gamut", t)
            u, v = chroma.planes(light, ab_s, (cw, ch))
            t = clock("chroma_planes", t)
            new = av.VideoFrame(args.width, args.height, "yuv420p")
            _set_plane(new.planes[0], _plane_array(frame.planes[0]))
            _set_plane(new.planes[1], u)
            _set_plane(new.planes[2], v)
            clock("frame", t)
    n = args.repeats * len(frames)
    per_frame = {k: v / n * 1000 for k, v in spent.items()}
    per_frame["total"] = sum(per_frame.values())
    print(f"{len(frames)} frames {args.width}x{args.height}, working size {ww}x{wh}, "
          f"ms per frame: " + ", ".join(f"{k} {v:.2f}" for k, v in per_frame.items()))
    if args.out:
        args.out.write_text(json.dumps({"frames": len(frames), "size": [args.width, args.height],
                                        "working": [ww, wh], "ms_per_frame": per_frame,
                                        "machine": describe()},
                                       indent=1))


if __name__ == "__main__":
    main()
