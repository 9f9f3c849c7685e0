"""Quality probe: average the ab of several ONNX models (and of their horizontally flipped
input) on the eval photos, to see what more inference-time capacity buys. Not a product
path: each model and each flip costs one more full model run per image.

    python benchmarks/probe_ensemble.py colorize/weights/lite.onnx RUN7.onnx --flip \\
        --data ../shared/data/val --limit 400
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from colorize.core.evaluate import evaluate_images, spread
from colorize.core.imageio import IMAGE_SUFFIXES
from colorize.core.pipeline import Settings
from colorize.core.session import Colorizer


class Averaged:
    """Quacks like the first Colorizer; predict() is the mean over models (and flips)."""

    def __init__(self, colorizers: list[Colorizer], flip: bool):
        self.colorizers, self.flip = colorizers, flip

    def __getattr__(self, name):
        return getattr(self.colorizers[0], name)

    def predict(self, light: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        outs = []
        for col in self.colorizers:
            outs.append(col.predict(light))
            if self.flip:
                outs.append(col.predict(np.ascontiguousarray(light[..., ::-1]))[..., ::-1])
        return np.mean(outs, axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path, help="ONNX files (same working size)")
    ap.add_argument("--flip", action="store_true", help="also average the flipped input")
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    files = spread(sorted(p for p in args.data.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES),
                   args.limit)
    col = Averaged([Colorizer(m, device="cpu") for m in args.models], args.flip)
    pooled = evaluate_images(col, files, Settings(size=args.size)).model.summary()
    result = {"models": [str(m) for m in args.models], "flip": args.flip,
              "images": len(files), "size": args.size, "pooled": pooled}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
