"""colorize eval: quality of any model (name, checkpoint or ONNX) on photos or a video clip."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import typer
from rich import box
from rich.table import Table

from colorize.cli.common import (
    DeviceOpt,
    OverwriteOpt,
    SizeOpt,
    ThreadsOpt,
    TtaOpt,
    console,
    fail,
    refuse_existing,
    with_tta,
    write_text_atomic,
)
from colorize.cli.progress import make_progress
from colorize.core.errors import ColorizeError
from colorize.core.smoothing import DEFAULT_STRENGTH


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)


def _onnx_for(model: str | None, tmp: Path) -> Path:
    """A registry name, checkpoint or ONNX path -> an ONNX file to run."""
    from colorize.registry import DEFAULT_MODEL, UnknownModelError, get_spec

    model = model or DEFAULT_MODEL
    if model.endswith(".onnx"):
        return Path(model)
    if ":" in model and not model.endswith(".pt"):  # a bundled variant, e.g. lite:int8
        from colorize.core.session import resolve_model

        try:
            return resolve_model(model)
        except ColorizeError as exc:
            fail(str(exc))
    if model.endswith(".pt"):
        ckpt_path, name = Path(model), None
    else:
        try:
            spec = get_spec(model)
        except UnknownModelError as exc:
            fail(str(exc))
        if spec.bundled_path():
            return spec.bundled_path()
        ckpt_path, name = None, model
    try:
        from colorize.export.onnx_export import export_model, load_for_export
    except ImportError:
        fail("evaluating a checkpoint needs PyTorch: pip install 'colorize[train]'")
    from colorize.training.checkpoint import CheckpointError

    try:
        net, ckpt, _ = load_for_export(name, ckpt_path)
        out = tmp / "model.onnx"
        export_model(net, ckpt, out)
    except (CheckpointError, FileNotFoundError) as exc:
        fail(str(exc))
    return out


def eval_command(
    model: str = typer.Option(None, "--model", "-m",
                              help="Registry name, checkpoint (.pt) or .onnx file "
                                   "(default: the bundled default model)."),
    data: Path = typer.Option(None, "--data", help="Folder of colour photos (recursive); "
                                                   "each is desaturated to make the input."),
    video: Path = typer.Option(None, "--video", help="A colour clip: compare the smoothing "
                                                     "modes on its desaturated frames."),
    limit: int = typer.Option(None, "--limit", min=1,
                              help="Use at most N images (evenly spaced over the sorted "
                                   "folder) / the first N frames."),
    size: int = SizeOpt,
    tta: str = TtaOpt,
    json_out: Path = typer.Option(None, "--json", help="Write every number to this file."),
    sheet: Path = typer.Option(None, "--sheet", help="Contact sheet PNG: gray | output | truth."),
    sheet_count: int = typer.Option(8, "--sheet-count", min=1),
    smooth_strength: float = typer.Option(DEFAULT_STRENGTH, "--smooth-strength", min=0.0, max=0.99,
                                          help="--video: strength of ema and flow smoothing."),
    cut_threshold: float = typer.Option(0.15, "--cut-threshold", min=0.0,
                                        help="--video: scene-cut threshold."),
    device: str = DeviceOpt,
    threads: int = ThreadsOpt,
    overwrite: bool = OverwriteOpt,
) -> None:
    """Measure colour quality against the truth, with the gray baseline (ab = 0) beside it:
    ab MSE/MAE, PSNR (8-bit RGB), SSIM (Gaussian σ=1.5), CIE76 ΔE, CIEDE2000, colorfulness."""
    from colorize.core.pipeline import Settings
    from colorize.core.session import Colorizer

    if (data is None) == (video is None):
        fail("give exactly one of --data DIR or --video CLIP")
    refuse_existing(json_out, sheet, overwrite=overwrite)
    try:
        import skimage  # noqa: F401
    except ImportError:
        fail("eval needs scikit-image: pip install 'colorize[train]'")
    with tempfile.TemporaryDirectory() as tmp:
        path = _onnx_for(model, Path(tmp))
        try:
            colorizer = Colorizer(path, device=device, threads=threads)
        except ColorizeError as exc:
            fail(str(exc))
        colorizer = with_tta(colorizer, tta)
        if video is not None:
            from colorize.cli.video import eval_video

            eval_video(colorizer, video, limit, size, json_out, smooth_strength, cut_threshold)
            return
        _eval_images(colorizer, data, limit, Settings(size=size), json_out, sheet, sheet_count)


def _eval_images(colorizer, data: Path, limit, settings, json_out, sheet, sheet_count) -> None:
    from colorize.core.evaluate import contact_sheet, evaluate_images, spread
    from colorize.core.imageio import INPUT_SUFFIXES

    if not data.is_dir():
        fail(f"data folder not found: {data}")
    files = sorted(p for p in data.rglob("*") if p.suffix.lower() in INPUT_SUFFIXES)
    files = spread(files, limit)
    if not files:
        fail(f"no images under {data}")
    with make_progress(console, "img") as progress:
        task = progress.add_task("eval", total=len(files), rate=0.0, info="")
        result = evaluate_images(colorizer, files, settings,
                                 sheet_count=sheet_count if sheet else 0,
                                 on_image=lambda p: progress.update(task, advance=1))
    model_sum, gray_sum = result.model.summary(), result.gray.summary()
    if not model_sum:
        why = f": {result.failures[0]}" if result.failures else ""
        more = f" (and {len(result.failures) - 1} more)" if len(result.failures) > 1 else ""
        fail(f"no image could be evaluated{why}{more}", code=1)
    tta = getattr(colorizer, "mode", "off")
    method = colorizer.meta.name + (f" --tta {tta}" if tta != "off" else "")
    # fits 80 columns: ab MSE and the rest are in --json
    table = Table(title=f"{method} on {data} ({model_sum['images']} images)", box=box.SIMPLE,
                  pad_edge=False, collapse_padding=True)
    table.add_column("method", no_wrap=True)
    cols = [("psnr_mean", "PSNR"), ("psnr", "pooled"), ("ssim", "SSIM"), ("de76", "ΔE76"),
            ("de2000", "ΔE00"), ("ab_mae", "ab MAE"), ("colorfulness", "colour"),
            ("colorfulness_ratio", "×truth")]
    for _, label in cols:
        table.add_column(label, justify="right", no_wrap=True)
    for label, summ in ((method, model_sum), ("gray (ab=0)", gray_sum)):
        table.add_row(label, *(f"{summ[k]:.3f}" if k in ("ssim", "colorfulness_ratio")
                               else f"{summ[k]:.2f}" for k, _ in cols))
    console.print(table)
    console.print("PSNR (dB): the mean of per-image PSNR; pooled: from the MSE pooled over "
                  "the images; the rest: pixel-weighted means; ΔE00: CIEDE2000; colour: "
                  "Hasler-Süsstrunk colourfulness")
    console.print(f"truth colorfulness {model_sum['truth_colorfulness']:.2f}")
    try:
        import lpips  # noqa: F401

        console.print("note: lpips is installed but not wired to a local backbone; skipped")
    except ImportError:
        console.print("note: LPIPS skipped (the lpips package is not installed)")
    for reason in result.failures:
        console.print(f"skipped {reason}", markup=False)
    if sheet:
        contact_sheet(result.sheet_rows, sheet)
        console.print(f"contact sheet: {sheet}")
    if json_out:
        write_text_atomic(json_out, json.dumps({"model": colorizer.meta.name, "tta": tta,
                                                "pooled": model_sum, "gray": gray_sum,
                                                "images": result.rows}, indent=1))
        console.print(f"numbers: {json_out}")
