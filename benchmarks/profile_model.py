"""Where a model's time goes: ONNX Runtime's per-node profile of the `Colorizer` session (same
options as the product), each node's share of the time beside the FLOP it does and the
GFLOP/s it reaches against this run's fp32 matmul peak. Prints a table and writes JSON.

    python benchmarks/profile_model.py --model lite --size 256 --batch 8 \\
        --out benchmarks/results/profile_lite.json

Nodes are grouped by kind: Conv by where it sits (encoder / decoder block) and by shape
(depthwise, 1x1, kxk), everything else by operator. ONNX Runtime rewrites the graph before it
runs it (NCHWc blocked layout, activations fused into the convolution before them): a fused
node is charged to the convolution it came from, and the layout reorders it inserts are
listed as they are. An int8 file's quantised convolutions (QLinearConv) are charged to
the Conv of their QDQ group, and their GOP/s are set against the fp32 peak, as in
bench_model.py.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
from bench_gpu import time_predict
from bench_model import matmul_peak, node_flops
from machine import describe

from colorize.core.session import Colorizer

ACTIVATIONS = ("Relu", "Clip", "Tanh", "Sigmoid", "LeakyRelu", "HardSigmoid")


def event_to_node(graph: onnx.GraphProto) -> dict[str, str]:
    """Names ORT gives the nodes it runs -> the exported graph's node they stand for."""
    producer = {out: node for node in graph.node for out in node.output}
    names = {node.name: node.name for node in graph.node}
    for node in graph.node:
        target = node
        # an activation fused into the convolution before it: charge the convolution
        if node.op_type in ACTIVATIONS and node.input[0] in producer:
            before = producer[node.input[0]]
            if before.op_type == "Conv":
                target = before
        for out in node.output:
            names[f"{out}_nchwc"] = target.name
        if target is not node:
            names.setdefault(node.name, target.name)
    return names


def profile(model: str, size: int, batch: int, threads: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        col = Colorizer(model, device="cpu", threads=threads,
                        profile_prefix=str(Path(tmp) / "ort"))
        light = np.random.default_rng(0).uniform(0, 100, (batch, 1, size, size)).astype(
            np.float32)
        ms_per_image = time_predict(col, light, repeats)  # 3 warm-up runs, then the timed
        events = json.loads(Path(col.session.end_profiling()).read_text())
    graph = onnx.load(str(col.path))
    flops = node_flops(col.path, size, size, batch)
    names = event_to_node(graph.graph)
    ops = {node.name: node.op_type for node in graph.graph.node}
    runs = [e for e in events if e.get("name") == "model_run"]
    start = runs[-repeats]["ts"]  # the timed runs only, not the warm-up
    groups: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time") or e["ts"] < start:
            continue
        ran = e["name"][: -len("_kernel_time")]
        # a QDQ group fused into one QLinearConv (int8) is named after its Conv + "_token_N"
        node = names.get(ran) or names.get(re.sub(r"_token_\d+$", "", ran))
        if node in flops:
            kind, node_flop = flops[node]
        else:
            kind, node_flop = ops.get(node) or e["args"].get("op_name", "?"), 0.0
        groups[kind][0] += e["dur"] / 1e3 / repeats
        groups[kind][1] += node_flop
    peak = matmul_peak()
    wall = ms_per_image * batch / 1e3  # median seconds per batch
    total_flop = sum(f for _, f in flops.values())
    rows = []
    node_ms = sum(ms for ms, _ in groups.values())
    for kind, (ms, flop) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        # a kind with FLOP counted once per timed run; its events are summed over the runs
        gflop = flop / 1e9 / repeats
        rate = gflop / (ms / 1e3) if ms and gflop else 0.0
        rows.append({"kind": kind, "ms_per_batch": ms, "share": ms / node_ms,
                     "gflop_per_batch": gflop, "gflops": rate, "pct_peak": 100 * rate / peak})
    flop_ms = sum(r["ms_per_batch"] for r in rows if r["gflop_per_batch"])
    return {"model": str(col.path), "size": size, "batch": batch, "threads": threads,
            "repeats": repeats, "matmul_peak_gflops": peak, "wall_ms_per_batch": wall * 1e3,
            "ms_per_image": wall * 1e3 / batch, "gflop_per_image": total_flop / 1e9 / batch,
            "pct_peak": 100 * total_flop / 1e9 / wall / peak,
            "pct_peak_flop_nodes_only": 100 * total_flop / 1e9 / (flop_ms / 1e3) / peak,
            "node_ms_per_batch": node_ms, "rows": rows,
            "onnxruntime": __import__("onnxruntime").__version__,
            "machine": describe()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="lite", help="bundled name or .onnx file")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="0 = all cores")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    res = profile(args.model, args.size, args.batch, args.threads, args.repeats)
    print(f"{Path(res['model']).name} {res['size']}² batch {res['batch']}: "
          f"{res['ms_per_image']:.1f} ms/image, {res['gflop_per_image']:.2f} GFLOP/image, "
          f"{res['pct_peak']:.0f} % of the matmul peak ({res['matmul_peak_gflops']:.0f} GFLOP/s); "
          f"the FLOP-carrying nodes alone: {res['pct_peak_flop_nodes_only']:.0f} %")
    print(f"{'kind':34s} {'ms/batch':>9s} {'share':>6s} {'GFLOP':>7s} {'GFLOP/s':>8s} "
          f"{'% peak':>7s}")
    for r in res["rows"]:
        if r["share"] < 0.002:
            continue
        flop = (f"{r['gflop_per_batch']:7.2f} {r['gflops']:8.0f} {r['pct_peak']:6.0f}%"
                if r["gflop_per_batch"] else "")
        print(f"{r['kind']:34s} {r['ms_per_batch']:9.2f} {100 * r['share']:5.1f}% {flop}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
