"""colorize export: a model to one verified, self-describing ONNX file."""

from __future__ import annotations

from pathlib import Path

import typer

from colorize.cli.common import (
    OverwriteOpt,
    console,
    fail,
    need_training_extras,
    refuse_existing,
)
from colorize.registry import list_models

PRECISIONS = ("fp32", "fp16", "int8")


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)


def export_command(
    model: str = typer.Option(None, "--model", "-m",
                              help=f"Model name ({', '.join(list_models())}): its bundled "
                                   "weights, else the best checkpoint of its latest run."),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="Export this checkpoint."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .onnx file."),
    precision: str = typer.Option("fp32", "--precision", help="fp32 | fp16 | int8"),
    calib: Path = typer.Option(None, "--calib", help="int8: folder of representative photos "
                                                     "(a few hundred is plenty)."),
    calib_count: int = typer.Option(200, "--calib-count", min=1,
                                    help="int8: photos used for calibration."),
    size: int = typer.Option(None, "--size", min=32, help="Working size written into the "
                                                          "metadata (default: the model's)."),
    runs: Path = typer.Option(Path("runs"), "--runs", help="Where training runs live."),
    slim: Path = typer.Option(None, "--slim-checkpoint",
                              help="Also write the weights-only checkpoint behind the export "
                                   "(what colorize/weights bundles)."),
    decoding: str = typer.Option(None, "--decoding", metavar="MIX,T,POWER[,GAIN[,KNEE]]",
                                 help="lite: export with this bins/regression mix, annealing "
                                      "temperature, confidence power, chroma gain (default 1) "
                                      "and chroma knee (default 0) instead of the "
                                      "checkpoint's tuned decoding (e.g. one tuned for "
                                      "int8)."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Export to ONNX (dynamic N, H, W, with H and W multiples of 32; metadata inside), check
    it and verify it against PyTorch at two sizes. fp16 / int8 variants are compared against
    fp32 on held-out photos."""
    need_training_extras()
    import tempfile

    from colorize.core.errors import ColorizeError
    from colorize.export.onnx_export import ExportError, export_model, load_for_export
    from colorize.training.checkpoint import CheckpointError
    from colorize.training.data import list_images

    if precision not in PRECISIONS:
        fail(f"--precision must be one of {', '.join(PRECISIONS)}")
    refuse_existing(out, overwrite=overwrite)
    if precision == "int8" and calib is None:
        fail("--precision int8 needs --calib DIR (a folder of representative photos)")
    try:
        net, ckpt, source = load_for_export(model, checkpoint, runs)
        if decoding:
            ckpt = apply_decoding(net, ckpt, decoding)
        if precision == "fp32":
            report = export_model(net, ckpt, out, working_size=size)
            if slim:
                from colorize.training.checkpoint import save_checkpoint

                keep = {k: v for k, v in ckpt.items()
                        if k not in ("optimizers", "scaler", "rng", "history")}
                if size:
                    keep["working_size"] = size
                save_checkpoint(slim, keep)
            errs = ", ".join(f"{k} {v:.1e}" for k, v in report.max_abs_error.items())
            console.print(f"[green]exported[/] {out} ({report.bytes / 1e6:.1f} MB) from "
                          f"{source} in {report.seconds:.1f} s; ONNX Runtime vs PyTorch max "
                          f"|Δab|: {errs}")
            return
        from colorize.export.variants import compare, to_fp16, to_int8

        photos = list_images(calib) if calib else []
        with tempfile.TemporaryDirectory() as tmp:
            fp32 = Path(tmp) / "fp32.onnx"
            export_model(net, ckpt, fp32, working_size=size)
            calib_set = photos[:calib_count]
            held_out = photos[calib_count:calib_count + 16] or photos[:16]
            if precision == "fp16":
                to_fp16(fp32, out)
            else:
                to_int8(fp32, out, calib_set, size)
            if held_out:
                cmp = compare(fp32, out, held_out, size)
                console.print(
                    f"[green]exported[/] {out} ({out.stat().st_size / 1e6:.1f} MB, {precision})"
                    f" from {source}; vs fp32 on {len(held_out)} held-out photos: ΔE76 "
                    f"{cmp.delta_e76:.2f}, "
                    f"PSNR {cmp.psnr:.1f} dB; speed {cmp.speed_ratio:.2f}x fp32 "
                    f"({cmp.ms_variant:.0f} vs {cmp.ms_fp32:.0f} ms)")
            else:
                console.print(f"[green]exported[/] {out} ({precision}) from {source}; no "
                              "photos given to compare it with fp32 (--calib DIR)")
    except (CheckpointError, ExportError, ColorizeError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))


def apply_decoding(net, ckpt: dict, spec: str) -> dict:
    """Apply --decoding MIX,T,POWER[,GAIN[,KNEE]] to a lite model; returns the checkpoint to
    export."""
    from colorize.training.tune import set_decoding, with_decoding

    try:
        values = [float(x) for x in spec.split(",")]
        if len(values) not in (3, 4, 5):
            raise ValueError
    except ValueError:
        raise ValueError(f"--decoding wants MIX,T,POWER[,GAIN[,KNEE]] (three to five "
                         f"numbers), not {spec!r}") from None
    mix, temperature, power = values[:3]
    gain = values[3] if len(values) >= 4 else 1.0
    knee = values[4] if len(values) == 5 else 0.0
    if not hasattr(net, "mix"):
        raise ValueError(f"model {ckpt['model_name']!r} has no tunable decoding")
    if not (0 <= mix <= 1 and temperature > 0 and power >= 0 and gain > 0 and knee >= 0):
        raise ValueError("--decoding: MIX in [0, 1], T > 0, POWER >= 0, GAIN > 0, KNEE >= 0")
    set_decoding(net, mix, temperature, power, gain, knee)
    tuned = dict(ckpt.get("decoding") or {})
    tuned.pop("candidates", None)
    return with_decoding(ckpt, mix, temperature, power, gain, knee, set_by="export --decoding",
                         tuned=tuned)
