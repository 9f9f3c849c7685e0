"""The one object that owns ONNX Runtime: providers, metadata, batched inference."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from colorize.core.errors import ModelError, ProviderError
from colorize.registry import DEFAULT_MODEL, UnknownModelError, get_spec

METADATA_KEY = "colorize"
METADATA_FORMAT = 1

PROVIDER_FOR_DEVICE = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
AUTO_ORDER = ("tensorrt", "cuda", "cpu")


@dataclass(frozen=True)
class ModelMeta:
    """What an exported model says about how to run it."""

    name: str
    working_size: int
    l_center: float
    l_scale: float
    output_units: str
    size_multiple: int = 32
    extra_inputs: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | None, source: str) -> ModelMeta:
        if not text:
            raise ModelError(f"{source}: no colorize metadata in the ONNX file "
                             "(export it with `colorize export`)")
        try:
            data = json.loads(text)
            norm = data["input"]["normalization"]
            meta = cls(
                name=str(data["name"]),
                working_size=int(data["working_size"]),
                l_center=float(norm["l_center"]),
                l_scale=float(norm["l_scale"]),
                output_units=str(data["output"]["units"]),
                size_multiple=int(data.get("size_multiple", 32)),
                extra_inputs=dict(data.get("extra_inputs", {})),
                raw=data,
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{source}: malformed colorize metadata ({exc.__class__.__name__}: "
                             f"{exc})") from None
        if meta.output_units != "cielab_ab":
            raise ModelError(f"{source}: unsupported output units {meta.output_units!r}")
        if meta.working_size < 16 or meta.l_scale == 0 or meta.size_multiple < 1:
            raise ModelError(f"{source}: implausible metadata values")
        return meta


def select_providers(device: str, available: Sequence[str]) -> list[str]:
    """Execution providers for a --device choice, best first, given what ORT offers."""
    device = device.lower()
    if device == "auto":
        chosen = [PROVIDER_FOR_DEVICE[d] for d in AUTO_ORDER
                  if PROVIDER_FOR_DEVICE[d] in available]
        return chosen or ["CPUExecutionProvider"]
    if device not in PROVIDER_FOR_DEVICE:
        raise ProviderError(f"unknown device {device!r}; choose auto, cpu, cuda or tensorrt")
    wanted = PROVIDER_FOR_DEVICE[device]
    if wanted not in available:
        hint = " (install onnxruntime-gpu: pip install 'colorize[gpu]')" if device != "cpu" else ""
        raise ProviderError(f"--device {device} needs {wanted}, but ONNX Runtime offers only "
                            f"{', '.join(available) or 'none'}{hint}")
    # fall back down the chain for ops the accelerated provider cannot run
    chain = AUTO_ORDER[AUTO_ORDER.index(device):]
    return [PROVIDER_FOR_DEVICE[d] for d in chain if PROVIDER_FOR_DEVICE[d] in available]


def resolve_model(model: str | Path | None) -> Path:
    """A registry name (NAME or NAME:VARIANT, e.g. lite:int8) or an .onnx path -> the file."""
    if model is None:
        model = DEFAULT_MODEL
    text = str(model)
    if text.endswith(".onnx") or Path(text).is_file():
        path = Path(text)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return path
    name, _, variant = text.partition(":")
    try:
        spec = get_spec(name)
    except UnknownModelError as exc:
        raise ModelError(str(exc)) from None
    path = spec.bundled_path(variant or None)
    if path is None and variant:
        shipped = ", ".join(f"{spec.name}:{v}" for v in spec.bundled_variants()) or "none"
        raise ModelError(f"model {name!r} has no bundled {variant!r} variant (shipped: "
                         f"{shipped}); export one with colorize export --model {name} "
                         f"--precision {variant} and pass the .onnx path")
    if path is None:
        raise ModelError(f"model {text!r} has no bundled weights; train it "
                         f"(colorize train --model {text}), export it (colorize export "
                         f"--model {text} -o {text}.onnx) and pass the .onnx path")
    return path


def _provider_options(name: str, cache_dir: Path | None) -> tuple[str, dict[str, Any]] | str:
    if name == "TensorrtExecutionProvider":
        opts: dict[str, Any] = {"trt_fp16_enable": True}
        if cache_dir is not None:
            opts.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(cache_dir))
        return (name, opts)
    if name == "CUDAExecutionProvider":
        return (name, {"cudnn_conv_algo_search": "HEURISTIC"})
    return name


class Colorizer:
    """Owns one ONNX Runtime session and the model's metadata.

    ``predict`` takes L in CIELAB units (N, 1, H, W) and returns ab (N, 2, H, W).
    """

    def __init__(self, model: str | Path | None = None, device: str = "auto", threads: int = 0,
                 available_providers: Sequence[str] | None = None,
                 trt_cache: Path | None = None, spinning: bool = True,
                 profile_prefix: str | None = None):
        self.path = resolve_model(model)
        available = list(available_providers if available_providers is not None
                         else ort.get_available_providers())
        self.providers = select_providers(device, available)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        if not spinning:
            # ORT's worker threads busy-wait between parallel sections by default: ~10 %
            # faster for back-to-back inference, but when decode, encode and smoothing
            # threads share the cores it burns the time they need (720p video e2e 12.8 ->
            # 10.5 s without it), so `colorize video` turns it off
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        if profile_prefix:
            # ONNX Runtime's per-node profiler (benchmarks/profile_model.py); the JSON file is
            # written by self.session.end_profiling()
            opts.enable_profiling = True
            opts.profile_file_prefix = profile_prefix
        try:
            self.session = ort.InferenceSession(
                str(self.path), sess_options=opts,
                providers=[_provider_options(p, trt_cache) for p in self.providers])
        except Exception as exc:  # ORT raises its own exception types for bad files
            msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
            raise ModelError(f"{self.path}: cannot load ONNX model ({msg})") from None
        wanted, got = self.providers[0], self.session.get_providers()[0]
        if device.lower() != "auto" and got != wanted:
            # ORT lists every provider it was built with, but drops one whose libraries do not
            # load (TensorRT's libnvinfer, a CUDA / cuDNN that does not match) and runs on the
            # next: seen on an H100 without TensorRT, where --device tensorrt ran on CUDA
            raise ProviderError(
                f"--device {device.lower()}: ONNX Runtime has {wanted} but could not start it "
                f"(its libraries are missing or do not match this ONNX Runtime build), so it "
                f"would run on {got}; install them, or use --device auto to accept {got}")
        props = self.session.get_modelmeta().custom_metadata_map
        self.meta = ModelMeta.from_json(props.get(METADATA_KEY), str(self.path))
        inputs = {i.name: i for i in self.session.get_inputs()}
        if "L" not in inputs or [o.name for o in self.session.get_outputs()][:1] != ["ab"]:
            raise ModelError(f"{self.path}: graph must have input 'L' and output 'ab'")
        self.extra_inputs = {name: i for name, i in inputs.items() if name != "L"}

    @property
    def active_provider(self) -> str:
        return self.session.get_providers()[0]

    def working_shape(self, height: int, width: int, size: int | None = None) -> tuple[int, int]:
        """Long side -> size, aspect ratio kept, both sides rounded to the size multiple."""
        size = size or self.meta.working_size
        m = self.meta.size_multiple
        scale = size / max(height, width)
        h = max(m, int(round(height * scale / m)) * m)
        w = max(m, int(round(width * scale / m)) * m)
        return h, w

    def predict(self, light: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        """L (N, 1, H, W) in [0, 100] -> ab (N, 2, H, W) in CIELAB units; H and W must be
        multiples of the model's size_multiple (working_shape gives such sizes)."""
        m = self.meta.size_multiple
        if light.ndim != 4 or light.shape[2] % m or light.shape[3] % m:
            raise ValueError(f"{self.meta.name}: input of shape {tuple(light.shape)}; the "
                             f"model takes (N, 1, H, W) with H and W multiples of {m}")
        x = ((light - self.meta.l_center) / self.meta.l_scale).astype(np.float32, copy=False)
        feeds = {"L": np.ascontiguousarray(x)}
        for name, info in self.extra_inputs.items():
            dim = int(info.shape[1]) if isinstance(info.shape[1], int) else int(
                self.meta.extra_inputs.get(name, {}).get("dim", 1))
            value = z if (name == "z" and z is not None) else np.zeros((len(x), dim), np.float32)
            feeds[name] = value.astype(np.float32, copy=False)
        (ab,) = self.session.run(["ab"], feeds)
        return ab
