"""Where the colour error comes from: per-pixel CIE76 ΔE grouped by the hue of the true
colour (45° sectors of CIELAB hue, pixels with chroma >= 10) and the near-neutral pixels
(chroma < 10), for a model and for the gray baseline (ab = 0), on the photos that
`colorize eval --limit N` scores. Also each group's share of the pixels and the model's
mean chroma over the truth's.

    python benchmarks/hue_errors.py --data ../shared/data/val --limit 400 \\
        --out benchmarks/results/hue_errors.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from colorize.core.color import rgb_to_lab
from colorize.core.evaluate import gray_baseline, spread, to_u8
from colorize.core.imageio import IMAGE_SUFFIXES, read_image
from colorize.core.pipeline import Settings, colorize_picture
from colorize.core.session import Colorizer

SECTORS = ("red (0-45°)", "orange-yellow (45-90°)", "yellow-green (90-135°)",
           "green (135-180°)", "cyan-teal (180-225°)", "blue (225-270°)",
           "blue-violet (270-315°)", "purple-pink (315-360°)")
NEUTRAL = "near-neutral (chroma < 10)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/val"))
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    files = spread(sorted(p for p in args.data.rglob("*") if p.suffix.lower() in
                          IMAGE_SUFFIXES), args.limit)
    col = Colorizer(args.model, device="cpu")
    groups = (*SECTORS, NEUTRAL)
    sums = {g: np.zeros(5) for g in groups}  # pixels, ΔE model, ΔE gray, C model, C truth

    def lab(u8: np.ndarray) -> np.ndarray:
        return rgb_to_lab(u8.astype(np.float32) / 255.0)

    for path in files:
        pic = read_image(path)
        if pic.pixels.ndim == 2:
            continue
        truth = lab(to_u8(pic.pixels))
        model = lab(to_u8(colorize_picture(pic, col, Settings())))
        gray = lab(to_u8(gray_baseline(pic)))
        de_model = np.linalg.norm(model - truth, axis=-1)
        de_gray = np.linalg.norm(gray - truth, axis=-1)
        chroma = np.hypot(truth[..., 1], truth[..., 2])
        chroma_model = np.hypot(model[..., 1], model[..., 2])
        hue = np.degrees(np.arctan2(truth[..., 2], truth[..., 1])) % 360
        sector = np.minimum((hue // 45).astype(int), 7)
        for i, name in enumerate(groups):
            mask = chroma < 10 if name == NEUTRAL else (chroma >= 10) & (sector == i)
            sums[name] += [mask.sum(), de_model[mask].sum(), de_gray[mask].sum(),
                           chroma_model[mask].sum(), chroma[mask].sum()]
    total = sum(s[0] for s in sums.values())
    rows = {}
    for name, (n, dm, dg, cm, ct) in sums.items():
        rows[name] = {"pixel_share": n / total, "de76_model": dm / n, "de76_gray": dg / n,
                      "chroma_model_over_truth": cm / ct,
                      "de76_contribution": dm / total}
        print(f"{name:28s} {n / total * 100:5.1f} % of pixels   ΔE76 model {dm / n:6.2f}  "
              f"gray {dg / n:6.2f}   chroma x{cm / ct:.2f}   adds {dm / total:.2f} to the "
              f"pooled ΔE76")
    print(f"pooled ΔE76: model {sum(s[1] for s in sums.values()) / total:.2f}, gray "
          f"{sum(s[2] for s in sums.values()) / total:.2f}")
    if args.out:
        args.out.write_text(json.dumps({"model": col.meta.name, "photos": len(files),
                                        "groups": rows}, indent=1))


if __name__ == "__main__":
    main()
