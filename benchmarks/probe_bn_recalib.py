"""Issue 6 probe: re-estimate a checkpoint's BatchNorm statistics at the working size.

The bundled lite model trained on crops of 224 px with the BatchNorm running statistics
of those crops, and runs at 256 (Touvron et al. 2019, "Fixing the train-test resolution
discrepancy": apparent object size and activation statistics shift with the resolution).
This recomputes every BatchNorm layer's running mean and variance, as a plain average over
batches (no gradient, no weight changes), on training photos centre-cropped and resized to
--size, and writes the checkpoint with those statistics; `colorize tune` and `colorize
eval` then score it as any other.

    python benchmarks/probe_bn_recalib.py --checkpoint colorize/weights/lite.pt \
        --data ../shared/data/train --size 256 --count 2048 -o runs/bn/lite_bn256.pt
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch import nn

from colorize.training.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from colorize.training.data import center_resize, list_images, load_rgb, to_tensors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True, help="training photos")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--count", type=int, default=2048, help="photos, evenly spaced")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    ckpt = load_checkpoint(args.checkpoint)
    model = model_from_checkpoint(ckpt).float()
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain (cumulative) average over the batches
        m.train()
    files = list_images(args.data)
    step = max(1, len(files) // args.count)
    files = files[::step][:args.count]
    tic = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(files), args.batch):
            lights = [to_tensors(center_resize(load_rgb(f), args.size))[0]
                      for f in files[i:i + args.batch]]
            model(torch.stack(lights))
    model.eval()
    dtype = next(iter(ckpt["model"].values())).dtype
    state = {k: (v.to(dtype) if v.is_floating_point() else v)
             for k, v in model.state_dict().items()}
    out = {k: v for k, v in ckpt.items() if k not in ("optimizers", "scaler", "rng")}
    out["model"] = state
    out["bn_recalibrated"] = {"size": args.size, "photos": len(files),
                              "from": str(args.checkpoint), "layers": len(norms)}
    save_checkpoint(args.out, out)
    print(f"{len(norms)} BatchNorm layers re-estimated on {len(files)} photos at "
          f"{args.size} px in {time.perf_counter() - tic:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
