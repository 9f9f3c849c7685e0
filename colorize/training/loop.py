"""The training loop as plain functions over a dataclass config."""

from __future__ import annotations

import csv
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, Sampler

from colorize import __version__
from colorize.core.color import AB_SCALE
from colorize.registry import get_spec
from colorize.training.checkpoint import load_checkpoint, save_checkpoint
from colorize.training.data import (
    NORMALIZATION,
    ColorDataset,
    chroma_of,
    list_images,
    split_files,
)
from colorize.training.models import build_model
from colorize.training.models.base import ColorModel


@dataclass
class TrainConfig:
    model: str
    data: str
    out: str
    val: str | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    steps: int | None = None
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    size: int | None = None
    crop_scale: tuple[float, float] = (0.3, 1.0)
    patience: int = 5
    seed: int = 0
    device: str = "auto"
    workers: int = 1
    clip: float = 1.0
    val_every: int | None = None  # steps; default once per epoch
    val_limit: int | None = None
    save_every_s: float = 300.0
    min_chroma: float = 3.0
    init: str | None = None
    # stochastic weight averaging: from step swa_start on, the learning rate stays at swa_lr
    # (default: the schedule's rate at swa_start) and every swa_every steps the weights (and
    # BN statistics) join an equal-weight running mean, saved as swa.pt
    swa_start: int | None = None
    swa_every: int = 50
    swa_lr: float | None = None


def pick_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device(requested)


def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warm-up then cosine decay to 1 % of base."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def _running_mean(averaged: torch.Tensor, current: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """AveragedModel's update for one tensor; integer buffers (BN's num_batches_tracked)
    take the current value (torch's default update fails on them on CUDA)."""
    if not averaged.is_floating_point():
        return current
    return averaged + (current - averaged) / (n + 1)


def _averaged(model: ColorModel) -> AveragedModel:
    return AveragedModel(model, avg_fn=_running_mean, use_buffers=True)


def lr_for(cfg: TrainConfig, step: int, total: int) -> float:
    """The schedule's rate, held constant from ``swa_start`` on when averaging."""
    if cfg.swa_start is not None and step >= cfg.swa_start:
        if cfg.swa_lr is not None:
            return cfg.swa_lr
        return lr_at(cfg.swa_start, total, cfg.lr, cfg.warmup_steps)
    return lr_at(step, total, cfg.lr, cfg.warmup_steps)


class EpochSampler(Sampler[int]):
    """A seeded permutation per epoch that can start part-way (exact resume)."""

    def __init__(self, n: int, seed: int, epoch: int, start: int = 0):
        self.order = np.random.default_rng([seed, epoch]).permutation(n)[start:]

    def __iter__(self) -> Iterator[int]:
        return iter(self.order.tolist())

    def __len__(self) -> int:
        return len(self.order)


def _colourful(files: list[Path], min_chroma: float) -> list[Path]:
    if min_chroma <= 0:
        return files
    return [p for p in files if chroma_of(p) >= min_chroma]


def prepare_files(cfg: TrainConfig) -> tuple[list[Path], list[Path]]:
    files = list_images(Path(cfg.data))
    if cfg.val:
        train, val = files, list_images(Path(cfg.val))
    else:
        split = split_files(files, cfg.seed)
        train, val = split.train, split.val
    train = _colourful(train, cfg.min_chroma)
    if not train:
        raise ValueError(f"no colourful training images under {cfg.data}")
    if cfg.val_limit:
        val = val[: cfg.val_limit]
    return train, val


@torch.no_grad()
def evaluate(model: ColorModel, loader: DataLoader, device: torch.device) -> dict[str, float]:
    """Validation loss and ab-space error (CIELAB units) at the training size."""
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    for light, ab in loader:
        light, ab = light.to(device), ab.to(device)
        logs = model.validation_loss(light, ab)
        pred = model.colorize(light)
        err = (pred - ab * AB_SCALE).float()
        logs["ab_mae"] = float(err.abs().mean())
        logs["ab_rmse"] = float(err.pow(2).mean().sqrt())
        for k, v in logs.items():
            sums[k] = sums.get(k, 0.0) + v * len(light)
        n += len(light)
    model.train()
    return {k: v / max(n, 1) for k, v in sums.items()}


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# what a run writes into its folder; a new run refuses a folder that holds any of them
RUN_FILES = ("last.pt", "best.pt", "swa.pt", "metrics.csv")


def held_run_files(out: Path) -> list[str]:
    return [name for name in RUN_FILES if (Path(out) / name).exists()]


def train(cfg: TrainConfig, resume: Path | None = None,
          on_event: Callable[[dict[str, Any]], None] | None = None,
          resume_steps: int | None = None, stop: threading.Event | None = None,
          overwrite: bool = False) -> Path:
    """Train and return the run folder. Events go to ``on_event`` (the CLI draws them).

    A new run (not ``resume``) into a folder that holds another run's checkpoints or
    metrics raises FileExistsError unless ``overwrite``, which removes them once the data and
    the model have been checked (so a bad argument still leaves the old run alone).

    ``resume_steps`` changes a resumed run's total steps (and so its schedule's length).
    When ``stop`` is set (the CLI sets it on SIGINT / SIGTERM) the loop finishes the step in
    hand, saves last.pt, emits an ``interrupted`` event and returns; ``--resume`` continues
    from there exactly.
    """
    emit = on_event or (lambda e: None)
    ckpt = None
    if resume is not None:
        ckpt = load_checkpoint(Path(resume) / "last.pt")
        saved = dict(ckpt["config"])
        saved["crop_scale"] = tuple(saved["crop_scale"])
        cfg = TrainConfig(**saved)
        if resume_steps:
            cfg.steps = resume_steps
    out = Path(cfg.out)
    stale = held_run_files(out) if ckpt is None else []
    if stale and not overwrite:
        raise FileExistsError(
            f"{out} already holds a run ({', '.join(stale)}); continue it with `colorize train "
            f"--resume {out}`, pick another --out, or pass --overwrite to start afresh")
    spec = get_spec(cfg.model)
    size = cfg.size or spec.working_size
    device = pick_device(cfg.device)
    if device.type == "cuda":
        # fixed crop size: let cuDNN pick the fastest convolution algorithms once
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)

    train_files, val_files = prepare_files(cfg)
    emit({"event": "data", "train": len(train_files), "val": len(val_files)})
    model = build_model(cfg.model, **cfg.model_args)
    if size < model.min_train_size:
        raise ValueError(f"{cfg.model} with these arguments needs --size of at least "
                         f"{model.min_train_size} (got {size})")
    if ckpt is None:
        if cfg.init:
            init = load_checkpoint(Path(cfg.init))
            model.load_init(init)
        model.prepare(train_files)
    # only once data and model are good: a bad argument leaves no empty run folder behind
    out.mkdir(parents=True, exist_ok=True)
    for name in stale:  # --overwrite: the old run's files go only now
        (out / name).unlink(missing_ok=True)
    model.to(device)
    optimizers = model.configure_optimizers(cfg.lr, cfg.weight_decay)
    use_amp = device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp and amp_dtype == torch.float16)
    autocast = {"device_type": device.type, "dtype": amp_dtype, "enabled": use_amp}

    train_ds = ColorDataset(train_files, size, train=True, seed=cfg.seed, scale=cfg.crop_scale)
    val_ds = ColorDataset(val_files, size, train=False)
    loader_kw = {"batch_size": cfg.batch_size, "num_workers": cfg.workers,
                 "pin_memory": device.type == "cuda", "persistent_workers": False}
    val_loader = DataLoader(val_ds, shuffle=False, **loader_kw)
    steps_per_epoch = max(1, len(train_ds) // cfg.batch_size)
    total = cfg.steps or cfg.epochs * steps_per_epoch
    val_every = cfg.val_every or steps_per_epoch

    step, best, bad_evals, history = 0, math.inf, 0, []
    swa: AveragedModel | None = None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        for opt, state in zip(optimizers, ckpt["optimizers"], strict=True):
            opt.load_state_dict(state)
        scaler.load_state_dict(ckpt["scaler"])
        step, best, bad_evals = ckpt["step"], ckpt["best"], ckpt["bad_evals"]
        history = list(ckpt["history"])
        _set_rng_state(ckpt["rng"])
        if ckpt.get("swa") is not None:
            swa = _averaged(model)
            swa.load_state_dict(ckpt["swa"])

    def payload() -> dict[str, Any]:
        return {
            "format": 1, "colorize_version": __version__,
            "model_name": cfg.model, "model_args": model.model_args,
            # the size the model colorizes at (export and eval default to it), not the crop
            # size it trained on (config["size"]): lite trains on 224 crops of 150-224 px
            # photos and works at 256, and a checkpoint saying 224 made `colorize eval` of a
            # run score it at 224 unless told --size 256
            "normalization": NORMALIZATION, "working_size": spec.working_size,
            "config": asdict(cfg), "step": step, "best": best, "bad_evals": bad_evals,
            "history": history, "metrics": history[-1] if history else {},
            "data_summary": {"train_images": len(train_files), "val_images": len(val_files),
                             "data": str(cfg.data)},
            "model": model.state_dict(),
            "optimizers": [o.state_dict() for o in optimizers],
            "scaler": scaler.state_dict(), "rng": _rng_state(),
            "swa": swa.state_dict() if swa is not None else None,
        }

    def save(name: str) -> None:
        """Write ``name`` (last.pt / best.pt) and, while averaging, swa.pt beside it."""
        save_checkpoint(out / name, payload())
        if swa is not None and name == "last.pt":
            averaged = payload()
            averaged.update(model=swa.module.state_dict(), optimizers=[], swa=None,
                            swa_models=int(swa.n_averaged))
            save_checkpoint(out / "swa.pt", averaged)

    metrics_csv = out / "metrics.csv"
    model.train()
    last_save = time.monotonic()
    tic, seen = time.monotonic(), 0
    early_stopped = False
    while step < total and not early_stopped:
        epoch, start = divmod(step, steps_per_epoch)
        train_ds.set_epoch(epoch)
        sampler = EpochSampler(len(train_ds), cfg.seed, epoch, start * cfg.batch_size)
        # its own generator: creating the iterator must not draw from the global RNG,
        # or a resumed run would diverge from an uninterrupted one
        gen = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
        loader = DataLoader(train_ds, sampler=sampler, drop_last=True, generator=gen,
                            **loader_kw)
        for light, ab in loader:
            for g_opt in optimizers:
                for group in g_opt.param_groups:
                    group["lr"] = lr_for(cfg, step, total) * group.get("lr_scale", 1.0)
            light = light.to(device, non_blocking=True)
            ab = ab.to(device, non_blocking=True)
            logs = model.training_step(light, ab, optimizers, scaler, autocast, cfg.clip)
            if not all(math.isfinite(v) for v in logs.values()):
                raise FloatingPointError(f"non-finite loss at step {step}: {logs}")
            step += 1
            seen += len(light)
            if cfg.swa_start is not None and step >= cfg.swa_start and (
                    (step - cfg.swa_start) % cfg.swa_every == 0):
                if swa is None:
                    swa = _averaged(model)
                swa.update_parameters(model)
            rate = seen / max(1e-9, time.monotonic() - tic)
            emit({"event": "step", "step": step, "total": total, "epoch": epoch,
                  "img_per_s": rate, **logs})
            if step % val_every == 0 or step == total:
                metrics = {"step": step, "epoch": epoch, "train_loss": logs["loss"],
                           **{f"val_{k}": v for k, v in evaluate(model, val_loader,
                                                                  device).items()}}
                if swa is not None:
                    metrics.update({f"val_swa_{k}": v for k, v in evaluate(
                        swa.module, val_loader, device).items()})
                history.append(metrics)
                _append_csv(metrics_csv, metrics)
                improved = metrics["val_loss"] < best
                if improved:
                    best, bad_evals = metrics["val_loss"], 0
                    save("best.pt")
                else:
                    bad_evals += 1
                emit({"event": "eval", "best": improved, **metrics})
                save("last.pt")
                last_save = time.monotonic()
                if cfg.patience and bad_evals >= cfg.patience:
                    emit({"event": "early_stop", "step": step})
                    early_stopped = True
                    break
            elif time.monotonic() - last_save > cfg.save_every_s:
                save("last.pt")
                last_save = time.monotonic()
            if step >= total:
                break
            if stop is not None and stop.is_set():
                save("last.pt")
                emit({"event": "interrupted", "step": step, "total": total})
                return out
    save("last.pt")
    if not (out / "best.pt").exists():
        save("best.pt")
    return out


def _append_csv(path: Path, row: dict[str, Any]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
