"""Self-describing checkpoints: enough to rebuild, resume, evaluate or export a model alone."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from colorize.core.imageio import publish
from colorize.training.models import build_model
from colorize.training.models.base import ColorModel


class CheckpointError(RuntimeError):
    pass


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write atomically: a crash never leaves a truncated checkpoint under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot load checkpoint {path}: {exc}") from exc
    for key in ("model_name", "model_args", "model"):
        if key not in ckpt:
            raise CheckpointError(f"{path} is not a colorize checkpoint (no {key!r})")
    return ckpt


def model_from_checkpoint(ckpt: dict[str, Any]) -> ColorModel:
    args = dict(ckpt["model_args"])
    if "pretrained" in args:
        args["pretrained"] = False  # the checkpoint holds the weights
    model = build_model(ckpt["model_name"], **args)
    model.model_args = dict(ckpt["model_args"])
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model


def find_run_checkpoint(run_dir: Path) -> Path:
    for name in ("best.pt", "last.pt"):
        if (Path(run_dir) / name).is_file():
            return Path(run_dir) / name
    raise CheckpointError(f"no checkpoint in {run_dir}")
