"""fp16 and int8 (static QDQ) variants of an exported fp32 model, measured against it."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from colorize.core.imageio import publish
from colorize.core.session import Colorizer
from colorize.export.onnx_export import read_metadata, set_metadata

# Ops kept in float32 by the fp16 conversion: resizing and the softmax/exp of bin decoding
# lose too much in half precision, and Resize has no fp16 kernel on ONNX Runtime's CPU.
FP16_KEEP_FP32 = ["Resize", "Softmax", "Exp", "Pow", "ReduceMax", "Einsum", "Sign", "Tanh"]


def to_fp16(src: Path, dst: Path) -> None:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto = onnx.load(str(src))
    meta = read_metadata(src)
    half = convert_float_to_float16(proto, keep_io_types=True, op_block_list=FP16_KEEP_FP32)
    _toposort(half.graph)  # the converter appends its input casts at the end
    meta["precision"] = "fp16"
    set_metadata(half, meta)
    _save_atomic(half, dst)


class _CalibrationReader:
    def __init__(self, colorizer: Colorizer, images: Sequence[Path], size: int):
        from colorize.core.imageio import read_image
        from colorize.core.pipeline import luminance_of, resize_plane

        self.batches = []
        # square, at the working size rounded to the graph's size multiple
        side, _ = colorizer.working_shape(size, size, size)
        for path in images:
            light = luminance_of(read_image(path))
            small = resize_plane(light, side, side)
            x = (small - colorizer.meta.l_center) / colorizer.meta.l_scale
            feed = {"L": x[None, None].astype(np.float32)}
            if "z" in colorizer.extra_inputs:
                dim = int(colorizer.meta.extra_inputs.get("z", {}).get("dim", 1))
                feed["z"] = np.zeros((1, dim), np.float32)
            self.batches.append(feed)
        self.it = iter(self.batches)

    def get_next(self):
        return next(self.it, None)

    def rewind(self):
        self.it = iter(self.batches)


def to_int8(src: Path, dst: Path, calib_images: Sequence[Path], size: int | None = None) -> None:
    """Static QDQ quantisation, per-channel int8 weights, calibrated on the given photos."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calib_images:
        raise ValueError("int8 needs calibration images (--calib DIR)")
    colorizer = Colorizer(src, device="cpu")
    size = size or colorizer.meta.working_size
    reader = _CalibrationReader(colorizer, calib_images, size)
    meta = read_metadata(src)
    with tempfile.TemporaryDirectory() as tmpdir:
        pre = Path(tmpdir) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        out = Path(tmpdir) / "int8.onnx"
        quantize_static(
            str(pre), str(out), reader, quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=_sensitive_nodes(pre),
        )
        proto = onnx.load(str(out))
    meta["precision"] = "int8"
    meta["calibration_images"] = len(calib_images)
    set_metadata(proto, meta)
    _save_atomic(proto, dst)


def _sensitive_nodes(path: Path) -> list[str]:
    """Nodes left in float: the output heads and the decoding after them, i.e. every node
    downstream of the tensor that the graph's last Conv reads (for `lite`, the decoder's
    features, which the regression conv and the bin head's Gemm both read)."""
    proto = onnx.load(str(path))
    nodes = list(proto.graph.node)
    last_conv = max(i for i, n in enumerate(nodes) if n.op_type == "Conv")
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in nodes:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    keep, todo = {}, [nodes[last_conv].input[0]]
    while todo:
        for node in readers.get(todo.pop(), []):
            if node.name not in keep:
                keep[node.name] = node
                todo.extend(node.output)
    return list(keep)


def _toposort(graph: onnx.GraphProto) -> None:
    """Reorder nodes so that every input is produced before it is used."""
    known = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        progress = False
        rest = []
        for node in pending:
            if all(name in known for name in node.input):
                ordered.append(node)
                known.update(node.output)
                progress = True
            else:
                rest.append(node)
        if not progress:
            raise ValueError("graph has a cycle or an undefined input")
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)


def _save_atomic(proto: onnx.ModelProto, dst: Path) -> None:
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent)
    os.close(fd)
    try:
        onnx.save(proto, tmp)
        onnx.checker.check_model(tmp)
        publish(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Comparison:
    delta_e76: float
    psnr: float
    speed_ratio: float  # variant speed / fp32 speed (> 1 = faster)
    ms_fp32: float
    ms_variant: float


def compare(fp32: Path, variant: Path, images: Sequence[Path], size: int | None = None,
            repeats: int = 3) -> Comparison:
    """Colour difference of the variant against fp32 on held-out photos, and relative speed."""
    from colorize.core.color import rgb_to_lab
    from colorize.core.imageio import read_image
    from colorize.core.pipeline import Settings, colorize_picture

    a, b = Colorizer(fp32, device="cpu"), Colorizer(variant, device="cpu")
    settings = Settings(size=size)
    de, mse, n = 0.0, 0.0, 0
    for path in images:
        pic = read_image(path)
        ra = np.rint(colorize_picture(pic, a, settings) * 255) / 255
        rb = np.rint(colorize_picture(pic, b, settings) * 255) / 255
        la, lb = rgb_to_lab(ra.astype(np.float32)), rgb_to_lab(rb.astype(np.float32))
        de += float(np.sqrt(((la - lb) ** 2).sum(-1)).mean())
        mse += float(((ra - rb) * 255).__pow__(2).mean())
        n += 1
    psnr = float(10 * np.log10(255**2 / max(mse / max(n, 1), 1e-10)))
    s = size or a.meta.working_size
    s, _ = a.working_shape(s, s, s)
    x = np.random.default_rng(0).uniform(0, 100, (1, 1, s, s)).astype(np.float32)
    times = {}
    for name, col in (("a", a), ("b", b)):
        col.predict(x)
        t = time.perf_counter()
        for _ in range(repeats):
            col.predict(x)
        times[name] = (time.perf_counter() - t) / repeats * 1000
    return Comparison(de / max(n, 1), psnr, times["a"] / times["b"], times["a"], times["b"])
