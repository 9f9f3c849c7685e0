"""Training throughput of one model: data loading alone, the optimizer step alone, both together.

    python benchmarks/bench_train.py --model lite --data ../shared/data/train --device cuda \
        --batch-size 64 --size 224 --workers 12 --steps 100

Prints images/s for each part and what bounds the run (loader or model), plus the environment
(torch, CUDA device, AMP dtype). On CUDA the step runs under autocast (bf16 where supported),
as `colorize train` does. Steps use the model's real loss and optimizer.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from colorize.registry import get_spec
from colorize.training.data import ColorDataset, list_images
from colorize.training.loop import pick_device
from colorize.training.models import build_model


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lite")
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                    help="extra model argument, e.g. encoder=lite2 (repeatable)")
    args = ap.parse_args()
    model_args = dict(item.split("=", 1) for item in args.arg)

    device = pick_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    size = args.size or get_spec(args.model).working_size
    files = list_images(args.data)
    ds = ColorDataset(files, size, train=True)
    loader = DataLoader(ds, batch_size=args.batch_size, shuffle=True, drop_last=True,
                        num_workers=args.workers, pin_memory=device.type == "cuda",
                        persistent_workers=args.workers > 0)
    n = args.steps + args.warmup

    def batches():
        while True:
            yield from loader

    # 1. the loader alone
    it = batches()
    for _ in range(args.warmup):
        next(it)
    tic = time.perf_counter()
    for _ in range(args.steps):
        next(it)
    loader_ips = args.steps * args.batch_size / (time.perf_counter() - tic)

    # 2. the optimizer step alone, on one batch already on the device
    try:  # no ImageNet download / package needed for a throughput number
        model = build_model(args.model, pretrained=False, **model_args)
    except TypeError:
        model = build_model(args.model, **model_args)
    model = model.to(device)
    model.train()
    opts = model.configure_optimizers(1e-4, 1e-4)
    use_amp = device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp and amp_dtype == torch.float16)
    autocast = {"device_type": device.type, "dtype": amp_dtype, "enabled": use_amp}
    light, ab = next(it)
    light, ab = light.to(device), ab.to(device)
    for i in range(n):
        if i == args.warmup:
            sync(device)
            tic = time.perf_counter()
        logs = model.training_step(light, ab, opts, scaler, autocast, 1.0)
    sync(device)
    step_ips = args.steps * args.batch_size / (time.perf_counter() - tic)

    # 3. both, as the training loop runs them
    for i in range(n):
        if i == args.warmup:
            sync(device)
            tic = time.perf_counter()
        light, ab = next(it)
        light = light.to(device, non_blocking=True)
        ab = ab.to(device, non_blocking=True)
        logs = model.training_step(light, ab, opts, scaler, autocast, 1.0)
    sync(device)
    e2e_ips = args.steps * args.batch_size / (time.perf_counter() - tic)

    env = {"torch": torch.__version__, "device": str(device), "python": platform.python_version(),
           "amp": str(amp_dtype).replace("torch.", "") if use_amp else "off",
           "threads": torch.get_num_threads()}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
        env["peak_mem_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    result = {"model": args.model, "model_args": model_args, "batch_size": args.batch_size,
              "size": size, "workers": args.workers, "steps": args.steps, "env": env,
              "loader_img_per_s": round(loader_ips, 1), "step_img_per_s": round(step_ips, 1),
              "train_img_per_s": round(e2e_ips, 1),
              "bound_by": "loader" if loader_ips < step_ips else "model",
              "last_loss": round(float(logs["loss"]), 4)}
    print(json.dumps(result, indent=1))
    print(f"{args.model} b{args.batch_size} {size}px on {env.get('gpu', device)}: "
          f"loader {loader_ips:.0f} img/s, step {step_ips:.0f} img/s, train {e2e_ips:.0f} img/s "
          f"({result['bound_by']}-bound)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
