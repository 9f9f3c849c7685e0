"""What ONNX Runtime's int8 path gets from this CPU: one large GEMM in fp32 (MatMul) and in
int8 (MatMulInteger, uint8 x int8 -> int32, the kernel family behind QLinearConv and
QGemm), timed in the same run beside numpy's fp32 matmul and, if torch is installed,
torch's bf16 matmul. With AVX-512 VNNI alone an int8 GEMM runs at ~2-4x the fp32 rate; AMX
tiles (amx_int8 / amx_bf16 in /proc/cpuinfo) allow ~8-16x.

    python benchmarks/bench_int8_gemm.py --size 2048
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from machine import describe
from onnx import TensorProto, helper


def gemm_model(n: int, int8: bool) -> bytes:
    if int8:
        a = helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n])
        b = helper.make_tensor_value_info("b", TensorProto.INT8, [n, n])
        y = helper.make_tensor_value_info("y", TensorProto.INT32, [n, n])
        node = helper.make_node("MatMulInteger", ["a", "b"], ["y"])
    else:
        a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
        b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])
        node = helper.make_node("MatMul", ["a", "b"], ["y"])
    graph = helper.make_graph([node], "gemm", [a, b], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def best_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines()
                  if ln.startswith("flags")), [])
    return sorted(f for f in flags if "amx" in f or "vnni" in f or f == "avx512_bf16")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    n = args.size
    ops = 2.0 * n ** 3
    rng = np.random.default_rng(0)
    af, bf = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    a8 = rng.integers(0, 256, (n, n), dtype=np.uint8)
    b8 = rng.integers(-128, 128, (n, n), dtype=np.int8)
    res = {"size": n, "cpu_flags": cpu_flags(), "onnxruntime": ort.__version__}
    res["numpy_fp32_gflops"] = ops / best_seconds(lambda: af @ bf, args.repeats) / 1e9
    for name, int8, feeds in (("ort_fp32_gflops", False, {"a": af, "b": bf}),
                              ("ort_int8_gops", True, {"a": a8, "b": b8})):
        sess = ort.InferenceSession(gemm_model(n, int8), providers=["CPUExecutionProvider"])
        res[name] = ops / best_seconds(lambda s=sess, f=feeds: s.run(None, f),
                                       args.repeats) / 1e9
    check = ort.InferenceSession(gemm_model(64, True), providers=["CPUExecutionProvider"])
    small_a, small_b = a8[:64, :64], b8[:64, :64]
    exact = small_a.astype(np.int64) @ small_b.astype(np.int64)
    res["int8_exact"] = bool(np.array_equal(check.run(None, {"a": small_a, "b": small_b})[0],
                                            exact))
    try:
        import torch

        ta, tb = (torch.from_numpy(x).to(torch.bfloat16) for x in (af, bf))
        res["torch_bf16_gflops"] = ops / best_seconds(lambda: ta @ tb, args.repeats) / 1e9
        res["torch_fp32_gflops"] = ops / best_seconds(
            lambda: torch.from_numpy(af) @ torch.from_numpy(bf), args.repeats) / 1e9
    except ImportError:
        pass
    res["int8_over_fp32"] = res["ort_int8_gops"] / res["ort_fp32_gflops"]
    for k, v in res.items():
        print(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}")
    if args.out:
        args.out.write_text(json.dumps({**res, "machine": describe()}, indent=1))


if __name__ == "__main__":
    main()
