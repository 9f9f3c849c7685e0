"""benchmarks/profile_model.py: ONNX Runtime's per-node profile charged back to the graph."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("onnx")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_model import graph_gflop  # noqa: E402
from profile_model import profile  # noqa: E402

from colorize.core.session import resolve_model  # noqa: E402


def _bins_mixed(tmp_path: Path) -> str:
    """The bundled lite exported with weight on its bin head (a Gemm and the bin decoding in
    the graph; the bundled decoding leaves them out)."""
    pytest.importorskip("torch")
    from typer.testing import CliRunner

    import colorize
    from colorize.cli.app import app

    out = tmp_path / "bins.onnx"
    bundled = Path(colorize.__file__).parent / "weights" / "lite.pt"
    r = CliRunner().invoke(app, ["export", "--checkpoint", str(bundled), "-o",
                                 str(out), "--size", "64", "--decoding", "0.5,0.5,1"])
    assert r.exit_code == 0, r.output
    return str(out)


@pytest.mark.parametrize("which", ["bundled", "bins"])
def test_every_convolution_is_charged_after_ort_rewrites_the_graph(which, tmp_path):
    # ORT runs lite in its NCHWc layout with the activations fused into the convolutions and
    # renames those nodes; the FLOP of every Conv / Gemm / MatMul must still be found
    model = "lite" if which == "bundled" else _bins_mixed(tmp_path)
    res = profile(model, size=64, batch=2, threads=1, repeats=2)
    counted = sum(r["gflop_per_batch"] for r in res["rows"])
    assert counted == pytest.approx(2 * graph_gflop(resolve_model(model), 64, 64), rel=1e-6)
    kinds = {r["kind"] for r in res["rows"]}
    assert {"encoder conv depthwise", "encoder conv 1x1", "up4 conv kxk"} <= kinds
    assert ("Gemm" in kinds) == (which == "bins")
    assert "?" not in kinds
    assert sum(r["share"] for r in res["rows"]) == pytest.approx(1.0)
    assert 0 < res["pct_peak"] < res["pct_peak_flop_nodes_only"]
