"""Test fixtures built in memory: tiny ONNX models and images (no files from outside)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def tiny_metadata(name: str = "tiny", working_size: int = 32, **extra) -> str:
    meta = {
        "format": 1, "name": name, "colorize_version": "test", "working_size": working_size,
        "size_multiple": 8,
        "input": {"name": "L", "normalization": {"l_center": 50.0, "l_scale": 50.0}},
        "output": {"name": "ab", "units": "cielab_ab"},
    }
    meta.update(extra)
    return json.dumps(meta)


def make_tiny_onnx(path: Path, metadata: str | None = None, seed: int = 0,
                   gain: float = 60.0) -> Path:
    """A 3x3 conv + tanh model: L (N,1,H,W) -> ab (N,2,H,W), with colorize metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weight = rng.normal(0, 0.5, (2, 1, 3, 3)).astype(np.float32)
    bias = np.array([0.3, -0.2], np.float32)
    nodes = [
        helper.make_node("Conv", ["L", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Tanh", ["c"], ["t"]),
        helper.make_node("Mul", ["t", "gain"], ["ab"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("L", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("ab", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        initializer=[numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "B"),
                     numpy_helper.from_array(np.array(gain, np.float32), "gain")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = "colorize", metadata
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def gradient_gray(h: int, w: int, depth: int = 8) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = (np.sin(x / 5.0) * 0.3 + y / max(h, 1) * 0.6 + 0.2).clip(0, 1)
    peak = 65535 if depth == 16 else 255
    return np.rint(img * peak).astype(np.uint16 if depth == 16 else np.uint8)


def color_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (4, 4, 3)).astype(np.float32)
    import cv2

    return np.clip(cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255).astype(
        np.uint8)
