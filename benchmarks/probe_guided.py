"""Quality probe: edge-aware refinement of the predicted ab with the luminance as guide (a
guided filter, He et al. 2010, from OpenCV box filters: cv2.ximgproc is only in
opencv-contrib), before or after the upsampling to full resolution, with a chroma gain to
bring the colourfulness back to where the filter took it from. Not a product path.

    python benchmarks/probe_guided.py --set tune \\
        --out benchmarks/results/guided_probe.json

Variants: "none", or WHERE:R:EPS[:GAIN] with WHERE "full" (the ab upsampled to the photo's
size, filtered with its L) or "small" (at the working size, with the working L).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from colorize.core.evaluate import held_out, spread, to_u8
from colorize.core.imageio import INPUT_SUFFIXES, read_image
from colorize.core.metrics import Pooled, score
from colorize.core.pipeline import Settings, luminance_of, merge, resize_plane, working_light
from colorize.core.session import Colorizer

DEFAULT_VARIANTS = ("none;full:2:1e-4;full:4:1e-4;full:4:1e-3:1.02;full:8:1e-3:1.04;"
                    "full:8:1e-2:1.04;full:16:1e-3:1.06;small:8:1e-3:1.03")


def box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Each ab plane as a local linear function of L / 100 (the guided filter)."""
    g = guide.astype(np.float32) / 100.0
    mean_g = box(g, r)
    var_g = box(g * g, r) - mean_g * mean_g
    out = np.empty_like(src)
    for c in range(src.shape[2]):
        p = np.ascontiguousarray(src[..., c])
        mean_p = box(p, r)
        a = (box(g * p, r) - mean_g * mean_p) / (var_g + eps)
        b = mean_p - a * mean_g
        out[..., c] = box(a, r) * g + box(b, r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/val")
    ap.add_argument("--model", default="colorize/weights/lite.onnx")
    ap.add_argument("--set", choices=["tune", "score"], default="tune",
                    help="tune: the 150 tuning photos (not among the 400 scored ones); "
                         "score: the 400 of the model card")
    ap.add_argument("--variants", default=DEFAULT_VARIANTS)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    files = sorted(p for p in Path(args.data).iterdir() if p.suffix.lower() in INPUT_SUFFIXES)
    files = held_out(files, 150, 400) if args.set == "tune" else spread(files, 400)
    colorizer = Colorizer(args.model)
    settings = Settings()
    cache = []
    for path in files:  # the model once per photo; the variants reuse its ab
        pic = read_image(path)
        light = luminance_of(pic)
        small = working_light(light, colorizer, settings)
        ab = colorizer.predict(small[None, None])[0].transpose(1, 2, 0)
        cache.append((to_u8(pic.pixels), light, small, ab))
    results = {}
    for variant in args.variants.split(";"):
        pooled, start = Pooled(), time.perf_counter()
        for truth, light, small, ab in cache:
            if variant == "none":
                rgb = merge(light, ab, 1.0)
            else:
                where, r, eps, *gain = variant.split(":")
                g = float(gain[0]) if gain else 1.0
                if where == "small":
                    rgb = merge(light, guided(small, ab, int(r), float(eps)), g)
                else:
                    h, w = light.shape
                    full = guided(light, resize_plane(ab, w, h), int(r), float(eps))
                    rgb = merge(light, full, g)  # full-size ab: merge's resize is a no-op
            pooled.add(truth.shape[0] * truth.shape[1],
                       score(to_u8(rgb), truth, with_de2000=False))
        s = results[variant] = pooled.summary()
        print(f"{variant:20s} PSNR {s['psnr_mean']:.3f} ({s['psnr']:.3f})  SSIM {s['ssim']:.4f}"
              f"  ΔE76 {s['de76']:.3f}  colourfulness {s['colorfulness_ratio']:.3f}x"
              f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"set": args.set, "photos": len(files),
                                        "results": results}, indent=1))


if __name__ == "__main__":
    main()
