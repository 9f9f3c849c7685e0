"""Model speed: ONNX Runtime (each bundled model and precision) vs PyTorch eager, beside this
machine's measured fp32 matmul peak. Prints a table and writes JSON.

Two shares of the peak per cell: "%peak" against a best-of-5 numpy 2048^3 matmul timed at the
start of the run (best-of model time / best-of peak), and "%pair" the median over 7 rounds of
one matmul and one model call a moment apart (steadier on this machine, whose speed drifts
by up to 40 % between minutes).

    python benchmarks/bench_model.py --out benchmarks/results/model.json
    python benchmarks/bench_model.py --levels --out benchmarks/results/ort_levels.json

--levels: ONNX Runtime's graph optimisation levels ALL and LAYOUT on the CPU, interleaved,
for every bundled file (what colorize.core.session.graph_level chooses between).
--tta: what test-time augmentation costs (`--tta off|flip|full` of the commands): ms per
image of each mode through the same session, interleaved, and the ratio to off.

    python benchmarks/bench_model.py --tta --sizes 256 --out benchmarks/results/tta.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from machine import describe
from onnx import shape_inference

from colorize.core.session import Colorizer
from colorize.core.tta import TTA_MODES, augment
from colorize.registry import get_spec, list_models


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """fp32 GFLOP/s of a large numpy matmul (the BLAS ceiling for this run)."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def node_flops(path: Path, h: int, w: int, batch: int = 1) -> dict[str, tuple[str, float]]:
    """Per node of the exported graph: (kind, FLOP) for Conv / ConvTranspose / MatMul / Gemm
    (multiply-adds x 2) at one input size. kind: Conv nodes are told apart by group and kernel
    ("conv depthwise", "conv 1x1", "conv kxk"), prefixed by the first component of their
    name ("encoder", "up4", ...)."""
    model = onnx.load(str(path))
    for inp in model.graph.input:
        dims = inp.type.tensor_type.shape.dim
        if inp.name == "L":
            for d, v in zip(dims, (batch, 1, h, w), strict=True):
                d.ClearField("dim_param")
                d.dim_value = v
        elif len(dims):
            dims[0].ClearField("dim_param")
            dims[0].dim_value = batch
    inferred = shape_inference.infer_shapes(model, data_prop=True)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(
            inferred.graph.input):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    inits = {i.name: list(i.dims) for i in model.graph.initializer}
    found: dict[str, tuple[str, float]] = {}
    for node in inferred.graph.node:
        if node.op_type in ("Conv", "ConvTranspose"):
            wshape = inits.get(node.input[1]) or shapes.get(node.input[1])
            out = shapes.get(node.output[0])
            if not wshape or not out or 0 in out:
                continue
            if node.op_type == "Conv":
                flops = 2 * np.prod(out) * np.prod(wshape[1:])
                group = next((a.i for a in node.attribute if a.name == "group"), 1)
                kind = ("conv depthwise" if group > 1 and group == out[1] else
                        "conv 1x1" if np.prod(wshape[2:]) == 1 else "conv kxk")
            else:
                inp = shapes.get(node.input[0])
                flops = 2 * np.prod(inp) * wshape[1] * np.prod(wshape[2:])
                kind = "conv transposed"
            part = node.name.strip("/").split("/")[0]
            found[node.name] = (f"{part} {kind}" if "/" in node.name.strip("/") else kind,
                                float(flops))
        elif node.op_type in ("MatMul", "Gemm"):
            a, out = shapes.get(node.input[0]), shapes.get(node.output[0])
            if a and out and 0 not in a and 0 not in out:
                found[node.name] = (node.op_type, float(2 * np.prod(out) * a[-1]))
    return found


def graph_gflop(path: Path, h: int, w: int) -> float:
    """Multiply-adds x 2 of Conv / ConvTranspose / MatMul / Gemm at one input size."""
    return sum(flops for _, flops in node_flops(path, h, w).values()) / 1e9


def time_call(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_onnx(path: Path, size: int, batch: int, repeats: int) -> float:
    col = Colorizer(path, device="cpu")
    x = np.random.default_rng(0).uniform(0, 100, (batch, 1, size, size)).astype(np.float32)
    return time_call(lambda: col.predict(x), repeats) / batch


def paired_pct(path: Path, size: int, batch: int, gflop: float, rounds: int = 7,
               n: int = 2048, pause: float = 0.3) -> float:
    """Median over interleaved rounds of (model GFLOP/s) / (numpy matmul GFLOP/s), each
    round one matmul and one model call (after a warm call), a moment apart. This machine's
    speed drifts by up to 40 % between minutes, so a ratio taken within a round is steadier
    than a best-of-N peak from the start of the run against a best-of-N model time from
    minutes later."""
    col = Colorizer(path, device="cpu")
    x = np.random.default_rng(0).uniform(0, 100, (batch, 1, size, size)).astype(np.float32)
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    ratios = []
    for _ in range(rounds):
        # BLAS and ONNX Runtime threads each busy-wait for a while after a call and would
        # take the cores from the other one: a pause lets them sleep before the switch
        time.sleep(pause)
        t = time.perf_counter()
        a @ b
        t_mm = time.perf_counter() - t
        time.sleep(pause)
        col.predict(x)
        t = time.perf_counter()
        col.predict(x)
        t_model = time.perf_counter() - t
        ratios.append((gflop * batch / t_model) / (2 * n**3 / t_mm / 1e9))
    return 100 * float(np.median(ratios))


def bench_torch(name: str, size: int, batch: int, repeats: int, bf16: bool = False
                ) -> float | None:
    try:
        import torch

        from colorize.training.checkpoint import load_checkpoint, model_from_checkpoint
    except ImportError:
        return None
    ckpt_path = get_spec(name).bundled_checkpoint()
    if ckpt_path is None:
        return None
    model = model_from_checkpoint(load_checkpoint(ckpt_path)).eval()
    x = torch.rand(batch, 1, size, size) * 2 - 1

    def run():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model.colorize(x)

    return time_call(run, repeats) / batch


def compare_levels(paths: list[Path], size: int, batches: list[int], rounds: int = 5) -> list:
    """Median ms per image with ORT_ENABLE_ALL and ORT_ENABLE_LAYOUT, the two sessions
    alternating round by round (this machine's speed drifts between minutes), and the
    largest output difference between them."""
    levels = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
              "layout": ort.GraphOptimizationLevel.ORT_ENABLE_LAYOUT}
    rows = []
    for path in paths:
        sessions = {}
        for key, level in levels.items():
            opts = ort.SessionOptions()
            opts.graph_optimization_level = level
            opts.log_severity_level = 3
            sessions[key] = ort.InferenceSession(str(path), opts,
                                                 providers=["CPUExecutionProvider"])
        for batch in batches:
            x = np.random.default_rng(0).uniform(-1, 1, (batch, 1, size, size)).astype(
                np.float32)
            outs = {k: s.run(None, {"L": x})[0] for k, s in sessions.items()}
            times: dict[str, list[float]] = {k: [] for k in sessions}
            n = max(3, 24 // batch)
            for _ in range(rounds):
                for key, sess in sessions.items():
                    t = time.perf_counter()
                    for _ in range(n):
                        sess.run(None, {"L": x})
                    times[key].append((time.perf_counter() - t) / n / batch * 1e3)
            row = {"model": path.stem, "size": size, "batch": batch,
                   **{f"{k}_ms": float(np.median(v)) for k, v in times.items()},
                   "max_abs_diff": float(np.abs(outs["all"] - outs["layout"]).max())}
            row["layout_speedup"] = row["all_ms"] / row["layout_ms"]
            rows.append(row)
            print(f"{path.stem:<14}{size:>6}{batch:>6}  ALL {row['all_ms']:6.1f} ms  LAYOUT "
                  f"{row['layout_ms']:6.1f} ms  {row['layout_speedup']:.2f}x  max |diff| "
                  f"{row['max_abs_diff']:.1e}")
    return rows


def compare_tta(paths: list[Path], sizes: list[int], batches: list[int], rounds: int = 5
                ) -> list:
    """Median ms per image of each --tta mode, the modes alternating round by round."""
    rows = []
    for path in paths:
        col = Colorizer(path, device="cpu")
        wrapped = {mode: augment(col, mode) for mode in TTA_MODES}
        for size in sizes:
            for batch in batches:
                x = np.random.default_rng(0).uniform(0, 100, (batch, 1, size, size)).astype(
                    np.float32)
                times: dict[str, list[float]] = {mode: [] for mode in TTA_MODES}
                for _ in range(rounds):
                    for mode, c in wrapped.items():
                        times[mode].append(time_call(lambda c=c, x=x: c.predict(x), 1) / batch)
                row = {"model": path.stem, "size": size, "batch": batch}
                for mode in TTA_MODES:
                    row[f"{mode}_ms"] = 1e3 * float(np.median(times[mode]))
                    row[f"{mode}_x"] = row[f"{mode}_ms"] / row["off_ms"]
                rows.append(row)
                print(f"{path.stem:<14}{size:>6}{batch:>6}  " + "  ".join(
                    f"{m} {row[f'{m}_ms']:6.1f} ms ({row[f'{m}_x']:.2f}x)" for m in TTA_MODES))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/model.json"))
    ap.add_argument("--levels", action="store_true",
                    help="compare ORT graph optimisation levels ALL and LAYOUT instead")
    ap.add_argument("--tta", action="store_true",
                    help="time the --tta modes (off, flip, full) instead")
    args = ap.parse_args()
    weights = Path(__file__).resolve().parents[1] / "colorize" / "weights"
    if args.levels or args.tta:
        paths = sorted(weights.glob("*.onnx"))
        rows = (compare_levels(paths, args.sizes[0], args.batches) if args.levels
                else compare_tta(paths, args.sizes, args.batches))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": describe(),
                                        "onnxruntime": ort.__version__, "rows": rows},
                                       indent=1))
        print(f"wrote {args.out}")
        return
    peak = matmul_peak()
    rows = []
    print(f"fp32 matmul peak (numpy 2048^3, best of 5): {peak:.1f} GFLOP/s")
    print(f"{'model':<14}{'size':>6}{'batch':>6}{'ms/img':>9}{'GFLOP':>8}{'GFLOP/s':>9}"
          f"{'%peak':>7}{'%pair':>8}{'torch ms':>10}{'ORT/torch':>10}{'bf16 ms':>9}")
    for name in list_models():
        spec = get_spec(name)
        if not spec.bundled:
            continue
        stem = Path(spec.bundled).stem
        for path in sorted(weights.glob(f"{stem}*.onnx")):
            label = path.stem
            for size in args.sizes:
                gflop = graph_gflop(path, size, size)
                for batch in args.batches:
                    sec = bench_onnx(path, size, batch, args.repeats)
                    paired = paired_pct(path, size, batch, gflop)
                    tsec = bsec = None
                    if label == stem:
                        tsec = bench_torch(name, size, batch, args.repeats)
                        bsec = bench_torch(name, size, batch, args.repeats, bf16=True)
                    rate = gflop / sec
                    row = {"model": label, "size": size, "batch": batch, "ms": sec * 1e3,
                           "gflop": gflop, "gflops": rate, "pct_peak": 100 * rate / peak,
                           "pct_peak_paired": paired,
                           "torch_ms": tsec * 1e3 if tsec else None,
                           "ort_over_torch": (tsec / sec) if tsec else None,
                           "torch_bf16_ms": bsec * 1e3 if bsec else None}
                    rows.append(row)
                    print(f"{label:<14}{size:>6}{batch:>6}{row['ms']:>9.1f}{gflop:>8.2f}"
                          f"{rate:>9.1f}{row['pct_peak']:>6.0f}%{paired:>7.0f}%"
                          f"{(f'{tsec * 1e3:.1f}' if tsec else '-'):>10}"
                          f"{(f'{tsec / sec:.2f}x' if tsec else '-'):>10}"
                          f"{(f'{bsec * 1e3:.1f}' if bsec else '-'):>9}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": describe(),
                                    "matmul_peak_gflops": peak, "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
