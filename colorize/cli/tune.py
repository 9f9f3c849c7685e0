"""colorize tune: pick the decoding (bins/regression mix, temperature) on validation photos."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from colorize.cli.common import (
    OverwriteOpt,
    console,
    fail,
    need_training_extras,
    refuse_existing,
)


def register(app: typer.Typer) -> None:
    app.command("tune")(tune_command)


def tune_command(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="A lite checkpoint."),
    data: Path = typer.Option(..., "--data", help="Validation photos (not the training set)."),
    out: Path = typer.Option(..., "--out", "-o",
                             help="Checkpoint to write with the chosen decoding."),
    overwrite: bool = OverwriteOpt,
    limit: int = typer.Option(200, "--limit", min=1,
                              help="Photos to use, evenly spaced over the sorted folder."),
    size: int = typer.Option(256, "--size", min=32, help="Working size, as at inference."),
    min_colorfulness: float = typer.Option(0.8, "--min-colorfulness",
                                           help="Required colorfulness / truth's."),
    exclude_eval: int = typer.Option(0, "--exclude-eval", min=0,
                                     help="Leave out the N photos that `colorize eval --limit "
                                          "N` scores, so the decoding is not tuned on them."),
    gains: bool = typer.Option(True, "--gains/--no-gains",
                               help="Also try each decoding with the chroma gain that brings "
                                    "it to --min-colorfulness."),
    knees: str = typer.Option("0", "--knees", metavar="K,K,...",
                              help="Chroma knees to try, e.g. 0,4,6,8: ab x C²/(C² + knee²) "
                                   "takes faint colour (C = |ab| well under the knee) back "
                                   "towards gray and leaves strong colour alone; 0 = none. "
                                   "Photos score a little better with a knee, video flickers "
                                   "more (see README), so none by default."),
) -> None:
    """Score every (mix, temperature) pair at full resolution and keep the most accurate one
    that is colourful enough."""
    need_training_extras()
    refuse_existing(out, overwrite=overwrite)
    from colorize.core.evaluate import held_out
    from colorize.training.checkpoint import (
        CheckpointError,
        load_checkpoint,
        model_from_checkpoint,
        save_checkpoint,
    )
    from colorize.training.data import list_images
    from colorize.training.tune import set_decoding, tune_decoding, with_decoding

    try:
        knee_list = [float(k) for k in knees.split(",")]
    except ValueError:
        fail(f"--knees wants comma-separated numbers, got {knees!r}")
    if not knee_list or any(k < 0 for k in knee_list):
        fail("--knees: one or more numbers >= 0")
    try:
        ckpt = load_checkpoint(checkpoint)
        model = model_from_checkpoint(ckpt)
        files = held_out(list_images(data), limit, exclude_eval)
    except (CheckpointError, FileNotFoundError) as exc:
        fail(str(exc))
    if not hasattr(model, "mix"):
        fail(f"model {ckpt['model_name']!r} has no tunable decoding")
    best, results = tune_decoding(model, files, size, min_colorfulness=min_colorfulness,
                                  gains=gains, knees=knee_list)
    table = Table(title=f"decoding on {len(files)} photos at {size}")
    for col in ("mix", "T", "conf power", "knee", "gain", "PSNR", "ΔE76", "colorful ×truth"):
        table.add_column(col, justify="right")
    for c in results:
        mark = " *" if c is best else ""
        table.add_row(f"{c.mix:.2f}", f"{c.temperature:.2f}", f"{c.conf_power:g}",
                      f"{c.knee:g}", f"{c.gain:.2f}", f"{c.psnr:.2f}", f"{c.de76:.2f}",
                      f"{c.colorfulness_ratio:.2f}{mark}")
    console.print(table)
    set_decoding(model, best.mix, best.temperature, best.conf_power, best.gain, best.knee)
    ckpt = with_decoding(ckpt, best.mix, best.temperature, best.conf_power, best.gain,
                         best.knee, candidates=[vars(c) for c in results])
    ckpt["model"] = model.state_dict()
    ckpt.setdefault("metrics", {})
    ckpt["metrics"] = {**ckpt["metrics"], "tuned_psnr": best.psnr, "tuned_de76": best.de76,
                       "tuned_colorfulness_ratio": best.colorfulness_ratio}
    for key in ("optimizers", "scaler", "rng"):
        ckpt.pop(key, None)
    save_checkpoint(out, ckpt)
    console.print(f"chose mix {best.mix} T {best.temperature} power {best.conf_power} "
                  f"knee {best.knee:g} gain {best.gain}: "
                  f"PSNR {best.psnr:.2f}, ΔE76 {best.de76:.2f}, colorfulness "
                  f"{best.colorfulness_ratio:.2f}x; wrote {out}")
