"""ONNX Runtime on a GPU machine: what each --device choice gets, CUDA vs CPU agreement, speed.

    python benchmarks/bench_gpu.py --model colorize/weights/lite.onnx --images DIR \
        --json benchmarks/results/gpu_lite.json

Needs onnxruntime-gpu. For each of auto / cuda / tensorrt / cpu it records the providers the
Colorizer asked for and the ones the session really got (or the one-line error). Then it runs
the same gray photos through CUDA and CPU and reports the ab difference, and times
``Colorizer.predict`` (numpy in, numpy out, so host<->device copies are included) per image.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from colorize.core.color import rgb_to_lab
from colorize.core.errors import ColorizeError
from colorize.core.session import Colorizer


def gray_batch(images: list[Path], size: int) -> np.ndarray:
    out = []
    for p in images:
        rgb = cv2.imread(str(p), cv2.IMREAD_COLOR)[..., ::-1]
        rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        out.append(rgb_to_lab(rgb.astype(np.float32) / 255.0)[..., :1].transpose(2, 0, 1))
    return np.stack(out).astype(np.float32)


def time_predict(col: Colorizer, light: np.ndarray, repeats: int) -> float:
    """Median ms per image over ``repeats`` runs after 3 warm-ups."""
    for _ in range(3):
        col.predict(light)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        col.predict(light)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3 / len(light)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lite")
    ap.add_argument("--images", type=Path, required=True, help="a few colour photos")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--preload", action="store_true",
                    help="call onnxruntime.preload_dlls() first (CUDA / cuDNN from pip)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    if args.preload:
        ort.preload_dlls()
    result: dict = {"onnxruntime": ort.__version__, "available": ort.get_available_providers(),
                    "preload": args.preload, "devices": {}, "agreement": {}, "ms_per_image": {}}
    sessions: dict[str, Colorizer] = {}
    for device in ("auto", "cuda", "tensorrt", "cpu"):
        try:
            col = Colorizer(args.model, device=device)
        except ColorizeError as exc:
            result["devices"][device] = {"error": str(exc)}
            continue
        sessions[device] = col
        result["devices"][device] = {"asked": col.providers, "got": col.session.get_providers()}
    print(json.dumps(result["devices"], indent=1))

    images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    gpu = sessions.get("cuda")
    cpu = sessions["cpu"]
    if gpu is not None and gpu.active_provider == "CUDAExecutionProvider":
        light = gray_batch(images[:8], 256)
        diff = np.abs(gpu.predict(light) - cpu.predict(light))
        result["agreement"] = {"max_abs_ab": float(diff.max()), "mean_abs_ab": float(diff.mean())}
        print("cuda vs cpu ab difference:", result["agreement"])
    for device, col in (("cuda", gpu), ("cpu", cpu)):
        if col is None:
            continue
        for size in args.sizes:
            for batch in args.batches:
                light = gray_batch((images * batch)[:batch], size)
                reps = args.repeats if device == "cuda" else max(3, args.repeats // 6)
                ms = time_predict(col, light, reps)
                key = f"{device} {col.active_provider} {size}px b{batch}"
                result["ms_per_image"][key] = round(ms, 3)
                print(f"{key}: {ms:.2f} ms/image")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
