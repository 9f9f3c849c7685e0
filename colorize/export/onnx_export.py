"""torch -> ONNX: eval mode, dynamic N/H/W, metadata inside, checked and verified against torch."""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from colorize import __version__
from colorize.core.color import AB_SCALE, L_CENTER, L_SCALE
from colorize.core.errors import ModelError
from colorize.core.imageio import publish
from colorize.core.session import METADATA_FORMAT, METADATA_KEY
from colorize.registry import get_spec
from colorize.training.checkpoint import (
    CheckpointError,
    find_run_checkpoint,
    load_checkpoint,
    model_from_checkpoint,
)
from colorize.training.models.base import ColorModel

OPSET = 17
VERIFY_SIZES = ((256, 256), (192, 320))
SIZE_MULTIPLE = 32


class ExportError(RuntimeError):
    pass


class Exportable(nn.Module):
    """L (N, 1, H, W) normalised [+ z] -> ab (N, 2, H, W) in CIELAB units."""

    def __init__(self, model: ColorModel):
        super().__init__()
        self.model = model

    def forward(self, light: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        ab = self.model.colorize(light, *extra)
        return ab


@dataclass
class ExportReport:
    path: Path
    seconds: float
    bytes: int
    max_abs_error: dict[str, float]


def checkpoint_for(model_name: str, runs_dir: Path = Path("runs")) -> Path:
    """The best checkpoint of the latest `colorize train --model NAME` run."""
    get_spec(model_name)
    candidates = []
    if runs_dir.is_dir():
        for run in runs_dir.iterdir():
            for name in ("best.pt", "last.pt"):
                path = run / name
                if path.is_file():
                    candidates.append(path)
    matching = []
    for path in candidates:
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # unreadable files are not candidates
            continue
        if ckpt.get("model_name") == model_name:
            matching.append(path)
    if not matching:
        raise CheckpointError(
            f"no trained weights for {model_name!r}: train them with `colorize train --model "
            f"{model_name} --data PHOTOS` (runs go to {runs_dir}/) or pass --checkpoint PATH")
    latest_run = max({p.parent for p in matching}, key=lambda d: d.stat().st_mtime)
    return find_run_checkpoint(latest_run)


def build_metadata(model: ColorModel, ckpt: dict[str, Any], working_size: int,
                   precision: str = "fp32") -> dict[str, Any]:
    spec = get_spec(ckpt["model_name"])
    norm = ckpt.get("normalization", {"l_center": L_CENTER, "l_scale": L_SCALE,
                                      "ab_scale": AB_SCALE})
    meta: dict[str, Any] = {
        "format": METADATA_FORMAT,
        "name": ckpt["model_name"],
        "colorize_version": __version__,
        "architecture": {"family": spec.family, "builder": spec.builder,
                         "args": _jsonable(ckpt["model_args"])},
        "working_size": int(working_size),
        "size_multiple": SIZE_MULTIPLE,
        "precision": precision,
        "input": {"name": "L", "layout": "NCHW", "channels": 1,
                  "normalization": {"l_center": norm["l_center"], "l_scale": norm["l_scale"]}},
        "output": {"name": "ab", "units": "cielab_ab", "decoding": spec.output},
        "training": _jsonable(ckpt.get("data_summary", {})),
        "metrics": _jsonable(ckpt.get("metrics", {})),
        "step": int(ckpt.get("step", 0)),
    }
    if "decoding" in ckpt:  # lite: the mix of bins and regression baked into the graph
        meta["output"]["mixing"] = _jsonable({k: v for k, v in ckpt["decoding"].items()
                                              if k != "candidates"})
    if model.extra_inputs:
        meta["extra_inputs"] = {"z": {"dim": int(getattr(model, "z_dim", 1)),
                                      "default": "zeros (the mean colorization)"}}
    return meta


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item")
                                 else str(o)))


def set_metadata(model_proto: onnx.ModelProto, meta: dict[str, Any]) -> None:
    for prop in list(model_proto.metadata_props):
        if prop.key == METADATA_KEY:
            model_proto.metadata_props.remove(prop)
    entry = model_proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta, sort_keys=True)


def read_metadata(path: Path) -> dict[str, Any]:
    proto = onnx.load(str(path), load_external_data=False)
    for prop in proto.metadata_props:
        if prop.key == METADATA_KEY:
            return json.loads(prop.value)
    raise ModelError(f"{path}: no colorize metadata")


def _example_inputs(model: ColorModel, n: int, h: int, w: int, seed: int = 0
                    ) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    light = torch.rand(n, 1, h, w, generator=gen) * 2 - 1
    if model.extra_inputs:
        return light, torch.randn(n, int(model.z_dim), generator=gen)
    return (light,)


def verify(path: Path, model: ColorModel, sizes=VERIFY_SIZES, tol: float = 1e-3
           ) -> dict[str, float]:
    """ONNX Runtime vs PyTorch at several sizes (batch 2): max |Δab| must stay within tol."""
    import onnxruntime as ort

    wrapper = Exportable(model).eval()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    errors = {}
    for h, w in sizes:
        inputs = _example_inputs(model, 2, h, w, seed=h * 1000 + w)
        with torch.no_grad():
            ref = wrapper(*inputs).numpy()
        (got,) = session.run(["ab"], {n: t.numpy() for n, t in zip(names, inputs, strict=True)})
        if got.shape != ref.shape:
            raise ExportError(f"ONNX output {got.shape} != torch {ref.shape} at {h}x{w}: "
                              "a size was frozen into the graph")
        err = float(np.abs(got - ref).max())
        errors[f"{h}x{w}"] = err
        if not err <= tol:
            raise ExportError(f"ONNX Runtime differs from PyTorch by {err:.2e} at {h}x{w} "
                              f"(tolerance {tol:.0e})")
    return errors


def export_model(model: ColorModel, ckpt: dict[str, Any], out: Path,
                 working_size: int | None = None, verify_sizes=VERIFY_SIZES,
                 tol: float = 1e-3) -> ExportReport:
    """Export, check, verify and write ``out`` atomically (nothing is left on failure)."""
    start = time.monotonic()
    model = model.eval()
    wrapper = Exportable(model).eval()
    working_size = working_size or int(ckpt.get("working_size")
                                       or get_spec(ckpt["model_name"]).working_size)
    inputs = _example_inputs(model, 1, 64, 64)
    input_names = ["L", *model.extra_inputs]
    dynamic = {"L": {0: "N", 2: "H", 3: "W"}, "ab": {0: "N", 2: "H", 3: "W"}}
    if model.extra_inputs:
        dynamic["z"] = {0: "N"}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, inputs, tmp, input_names=input_names,
                              output_names=["ab"], dynamic_axes=dynamic, opset_version=OPSET,
                              do_constant_folding=True, dynamo=False)
        wrapper.eval()  # the exporter restores the wrapper's mode recursively
        proto = onnx.load(tmp)
        set_metadata(proto, build_metadata(model, ckpt, working_size))
        onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, tmp)
        errors = verify(Path(tmp), model, verify_sizes, tol)
        publish(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ExportReport(out, time.monotonic() - start, out.stat().st_size, errors)


def load_for_export(model_name: str | None, checkpoint: Path | None,
                    runs_dir: Path = Path("runs")) -> tuple[ColorModel, dict[str, Any], Path]:
    """The model, its checkpoint and the checkpoint's path: the one given, else the model's
    bundled checkpoint, else the best of its latest run under runs_dir."""
    if checkpoint is None:
        if model_name is None:
            raise CheckpointError("give --model NAME or --checkpoint PATH")
        checkpoint = get_spec(model_name).bundled_checkpoint() or checkpoint_for(
            model_name, runs_dir)
    ckpt = load_checkpoint(checkpoint)
    if model_name and ckpt["model_name"] != model_name:
        raise CheckpointError(f"{checkpoint} holds model {ckpt['model_name']!r}, "
                              f"not {model_name!r}")
    return model_from_checkpoint(ckpt), ckpt, Path(checkpoint)
