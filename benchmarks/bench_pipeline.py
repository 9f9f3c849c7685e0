"""End-to-end speed beside the unavoidable work, measured in the same run on the same input.

Folder: N photos through `run_jobs` vs model-only (the session on the same working-size L).
Scans (--scans N): N of the photos enlarged to 12 MP gray JPEGs with film grain, the same
comparison plus the time of each full-resolution stage, one image after another.
Video: a 720p clip through `colorize_video` vs model-only and transcode-only (decode and
re-encode with the same codec settings, no colorization). Overhead ratio =
e2e / (model-only + transcode-only). Memory: peak RSS of `colorize image` on a 24 MP scan
and `colorize video` on a 1080p clip, each in a fresh process.

    python benchmarks/bench_pipeline.py --photos ../shared/data/val --out \
        benchmarks/results/pipeline.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.frame import PictureType
from machine import describe

from colorize.core.batch import Job, run_jobs
from colorize.core.imageio import encode_image, read_image
from colorize.core.pipeline import Settings, luminance_of, merge, working_light
from colorize.core.session import Colorizer
from colorize.core.smoothing import SmootherConfig
from colorize.core.streams import repeatable
from colorize.core.video import VideoOptions, colorize_video


def make_clip(src: Path, dst: Path, width: int, height: int, seconds: float) -> int:
    """Loop a real clip, scaled to width x height, into `seconds` of H.264 at 25 fps."""
    frames = []
    with av.open(str(src)) as c:
        for f in c.decode(video=0):
            frames.append(cv2.resize(f.to_ndarray(format="rgb24"), (width, height)))
    n = int(seconds * 25)
    with av.open(str(dst), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"crf": "20", "preset": "veryfast"}
        for i in range(n):
            k = i % (2 * len(frames) - 2)
            img = frames[k if k < len(frames) else 2 * len(frames) - 2 - k]
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return n


def transcode_only(src: Path, dst: Path, opts: VideoOptions, source_types: bool = False
                   ) -> float:
    """Decode and re-encode, no colorization. Decoded frames carry the source's picture
    types (I/P/B), which libx264 obeys when they are set: the encoder then skips its own
    frame-type decisions (~10 % less CPU on the test clip). ffmpeg clears them before
    encoding, and colorize_video's frames are new ones without them, so the baseline clears
    them too unless source_types is set."""
    t = time.perf_counter()
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        s = out.add_stream(opts.codec or "libx264", rate=vin.average_rate)
        s.width, s.height, s.pix_fmt = vin.codec_context.width, vin.codec_context.height, \
            "yuv420p"
        s.time_base = vin.time_base
        s.options = repeatable(s.codec_context.name, {"crf": str(opts.crf),
                                                      "preset": opts.preset})
        s.thread_type = "AUTO"
        for f in inp.decode(vin):
            if not source_types:
                f.pict_type = PictureType.NONE
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return time.perf_counter() - t


def video_model_only(col: Colorizer, src: Path, size: int | None, batch: int) -> float:
    lights = []
    with av.open(str(src)) as c:
        for f in c.decode(video=0):
            y = np.array(f.reformat(format="gray").to_ndarray())
            h, w = col.working_shape(*y.shape, size)
            lights.append(cv2.resize(y, (w, h), interpolation=cv2.INTER_AREA).astype(
                np.float32) / 2.55)
    t = time.perf_counter()
    for i in range(0, len(lights), batch):
        col.predict(np.stack(lights[i:i + batch])[:, None])
    return time.perf_counter() - t


def make_scans(photos: list[Path], dst: Path, width: int, height: int) -> list[Path]:
    """Gray JPEG scans at width x height from the photos: enlarged, with film grain (gray
    noise of 3 levels), which the full-resolution colour must follow."""
    dst.mkdir(parents=True, exist_ok=True)
    scans = []
    for i, p in enumerate(photos):
        gray = cv2.resize(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), (width, height),
                          interpolation=cv2.INTER_CUBIC).astype(np.float32)
        gray += np.random.default_rng(i).normal(0, 3, gray.shape).astype(np.float32)
        scans.append(dst / f"scan{i:03d}.jpg")
        cv2.imwrite(str(scans[-1]), np.clip(gray, 0, 255).astype(np.uint8),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
    return scans


def scan_stages(scans: list[Path], col: Colorizer) -> dict[str, float]:
    """Seconds per image of each step of `colorize folder`, one image after another."""
    stages = dict.fromkeys(("read", "luminance", "model", "merge", "encode"), 0.0)
    for p in scans:
        t = time.perf_counter()
        pic = read_image(p)
        t1 = time.perf_counter()
        light = luminance_of(pic)
        t2 = time.perf_counter()
        ab = col.predict(working_light(light, col, Settings())[None, None])[0]
        t3 = time.perf_counter()
        rgb = merge(light, ab.transpose(1, 2, 0), 1.0)
        t4 = time.perf_counter()
        encode_image(rgb, pic.alpha, pic.depth, p.suffix)
        t5 = time.perf_counter()
        for key, dt in zip(stages, (t1 - t, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            stages[key] += dt / len(scans)
    return stages


def folder_vs_model(photos: list[Path], out: Path, col: Colorizer, alone: Colorizer
                    ) -> dict[str, float]:
    """The photos through run_jobs with col (what `colorize folder` runs) beside the model
    alone, run by the session made for that (alone: ORT's threads spin between runs)."""
    jobs = [Job(p, out / p.name) for p in photos]
    t = time.perf_counter()
    for _ in run_jobs(jobs, col, Settings()):
        pass
    e2e = time.perf_counter() - t
    smalls = [working_light(luminance_of(read_image(p)), col, Settings()) for p in photos]
    t = time.perf_counter()
    for s in smalls:
        alone.predict(s[None, None])
    model = time.perf_counter() - t
    return {"images": len(photos), "e2e_s": e2e, "model_only_s": model,
            "overhead_ratio": e2e / model, "img_per_s": len(photos) / e2e}


def cpu_s() -> float:
    """User + system CPU seconds of this process so far (all threads)."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def timed(fn, *args):
    """(fn(*args), wall s, CPU s): CPU / wall is how many cores it kept busy."""
    c, t = cpu_s(), time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t, cpu_s() - c


# run by a fresh, small interpreter: a child's ru_maxrss also counts the pages it shares
# with its parent between fork and exec, so measured straight from this process (which
# holds decoded frames and sessions by then) a 510 MB video run read as 1.8-2.1 GB
_RSS_PROBE = ("import resource, subprocess, sys\n"
              "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
              "stderr=subprocess.PIPE)\n"
              "sys.stderr.write(done.stderr.decode(errors='replace')[-500:])\n"
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
              "sys.exit(done.returncode)\n")


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak RSS of one command, in MB."""
    done = subprocess.run([sys.executable, "-c", _RSS_PROBE, *cmd], capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}")
    return int(done.stdout.split()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--photos", type=Path, required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--clip", type=Path, default=Path("../shared/video/bikes.mp4"))
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--model", default=None)
    ap.add_argument("--preset", default="veryfast")
    ap.add_argument("--repeats", type=int, default=3, help="video runs (median reported)")
    ap.add_argument("--scans", type=int, default=0,
                    help="also N photos enlarged to --scan-size gray scans with film grain")
    ap.add_argument("--scan-size", default="4000x3000")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-folder", action="store_true")
    ap.add_argument("--skip-video", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/pipeline.json"))
    ap.add_argument("--device", default="cpu",
                    help="cpu (default) | cuda | tensorrt: on a GPU the bound of the video run "
                         "is max(model, transcode), reported as gpu_bound_ratio")
    args = ap.parse_args()
    col = Colorizer(args.model, device=args.device)
    # as `colorize video` and `colorize folder` do: no busy-waiting ORT threads beside
    # decoding, encoding, smoothing and the other image's full-resolution steps
    col_v = Colorizer(args.model, device=args.device, spinning=False)
    res: dict = {"model": col.meta.name, "device": args.device, "provider": col_v.active_provider,
                 "cpu_count": os.cpu_count()}
    tmp = Path(tempfile.mkdtemp())
    try:
        photos = sorted(args.photos.glob("*.jpg"))[: args.count]
        if not args.skip_folder:
            res["folder"] = f = folder_vs_model(photos, tmp / "folder", col_v, col)
            print(f"folder: {f['images']} photos e2e {f['e2e_s']:.1f}s, model-only "
                  f"{f['model_only_s']:.1f}s, ratio {f['overhead_ratio']:.2f}, "
                  f"{f['img_per_s']:.1f} img/s")

        if args.scans:
            width, height = (int(v) for v in args.scan_size.lower().split("x"))
            scans = make_scans(photos[: args.scans], tmp / "scans", width, height)
            res["scans"] = f = folder_vs_model(scans, tmp / "scans_out", col_v, col)
            f["size"] = [width, height]
            f["stages_s_per_image"] = stages = scan_stages(scans, col)
            print(f"scans: {f['images']} gray {width}x{height} JPEGs e2e {f['e2e_s']:.1f}s "
                  f"({f['e2e_s'] / f['images']:.2f} s/image), model-only {f['model_only_s']:.2f}s; "
                  "per image, one after another: "
                  + ", ".join(f"{k} {1000 * v:.0f} ms" for k, v in stages.items()))

        if not args.skip_video:
            clip = tmp / "clip720.mp4"
            frames = make_clip(args.clip, clip, 1280, 720, args.seconds)
            opts = VideoOptions(preset=args.preset, smoothing=SmootherConfig("flow"))
            # the three runs interleaved, --repeats times: this machine's speed drifts by 20 %
            # between minutes, so each figure is a median and the ratio is the median ratio
            runs = []
            for _ in range(args.repeats):
                c = cpu_s()
                trans = transcode_only(clip, tmp / "trans.mp4", opts)
                trans_cpu = cpu_s() - c
                trans_typed = transcode_only(clip, tmp / "trans.mp4", opts, source_types=True)
                c = cpu_s()
                model_v = video_model_only(col_v, clip, None, opts.batch)
                model_cpu = cpu_s() - c  # includes decoding the frames, outside model_v's clock
                report, e2e_v, e2e_cpu = timed(colorize_video, clip, tmp / "out.mp4", col_v, opts)
                runs.append({"e2e_s": e2e_v, "model_only_s": model_v, "transcode_only_s": trans,
                             "overhead_ratio": e2e_v / (model_v + trans),
                             "transcode_source_types_s": trans_typed,
                             "overhead_ratio_source_types": e2e_v / (model_v + trans_typed),
                             "cpu_s": {"e2e": e2e_cpu, "transcode_only": trans_cpu,
                                       "model_only_with_decode": model_cpu},
                             "stages_s": report.stage_s})
                ratio, ratio_typed = e2e_v / (model_v + trans), e2e_v / (model_v + trans_typed)
                print(f"  run: e2e {e2e_v:.1f}s, model-only {model_v:.1f}s, transcode-only "
                      f"{trans:.1f}s, ratio {ratio:.2f} (keeping the source's frame types: "
                      f"transcode {trans_typed:.1f}s, ratio {ratio_typed:.2f}); CPU s: e2e "
                      f"{e2e_cpu:.1f} ({e2e_cpu / e2e_v:.2f} cores), transcode {trans_cpu:.1f} "
                      f"({trans_cpu / trans:.2f} cores), model+decode {model_cpu:.1f}")
            med = {k: statistics.median(r[k] for r in runs)
                   for k in ("e2e_s", "model_only_s", "transcode_only_s", "overhead_ratio",
                             "transcode_source_types_s", "overhead_ratio_source_types")}
            stages = {k: statistics.median(r["stages_s"][k] for r in runs) for k in report.stage_s}
            res["video"] = {"frames": frames, "preset": args.preset, **med,
                            "fps": frames / med["e2e_s"],
                            "gpu_bound_ratio": med["e2e_s"] / max(med["model_only_s"],
                                                                  med["transcode_only_s"]),
                            "stages_s": stages, "runs": runs}
            print(f"video 720p {frames} frames (median of {len(runs)}): e2e {med['e2e_s']:.1f}s "
                  f"({frames / med['e2e_s']:.1f} fps), model-only {med['model_only_s']:.1f}s, "
                  f"transcode-only {med['transcode_only_s']:.1f}s, overhead ratio "
                  f"{med['overhead_ratio']:.2f} ({med['overhead_ratio_source_types']:.2f} "
                  "against a transcode that keeps the source's frame types)")
            print("stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in stages.items()))
            print(f"e2e / max(model, transcode) = {res['video']['gpu_bound_ratio']:.2f} "
                  "(the bound where the model runs beside the CPU work, on a GPU)")

        if not args.skip_memory:
            big = tmp / "scan24mp.png"
            gray = cv2.resize(cv2.imread(str(photos[0]), cv2.IMREAD_GRAYSCALE), (6000, 4000),
                              interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(big), gray)
            exe = [sys.executable, "-m", "colorize"]
            model_args = ["--model", args.model] if args.model else []
            rss_img = peak_rss_mb([*exe, "image", str(big), "-o", str(tmp / "big_out.png"),
                                   *model_args])
            clip1080 = tmp / "clip1080.mp4"
            make_clip(args.clip, clip1080, 1920, 1080, 4)
            rss_vid = peak_rss_mb([*exe, "video", str(clip1080), "-o",
                                   str(tmp / "o1080.mp4"), "--preset", "ultrafast",
                                   *model_args])
            res["memory_mb"] = {"image_24mp": rss_img, "video_1080p": rss_vid}
            print(f"peak RSS: 24 MP image {rss_img:.0f} MB, 1080p video {rss_vid:.0f} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    res["machine"] = describe()
    args.out.write_text(json.dumps(res, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
