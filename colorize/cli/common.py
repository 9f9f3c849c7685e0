"""Options and helpers shared by several commands (defined once)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

console = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit."""
    console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    raise typer.Exit(code)


def count(n: int, noun: str) -> str:
    """'1 frame', '2 frames', '0 scene cuts': a number and its noun in the right form."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def need_training_extras() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        fail("this command needs PyTorch: pip install 'colorize[train]'")


ModelOpt = typer.Option(None, "--model", "-m",
                        help="Registered model name (see `colorize models`), NAME:VARIANT for "
                             "a bundled variant (lite:int8), or a path to an .onnx file. "
                             "Default: the bundled default model.")
DeviceOpt = typer.Option("auto", "--device",
                         help="auto | cpu | cuda | tensorrt. auto picks TensorRT, then CUDA, "
                              "then CPU among the providers ONNX Runtime has.")
SizeOpt = typer.Option(None, "--size", min=16,
                       help="Working size: the gray image's LONG side is resized to this "
                            "(aspect ratio kept, rounded to a multiple of 32) before the model; "
                            "colour is resized back and merged with the full-resolution "
                            "luminance. Default: the model's own working size.")
SaturationOpt = typer.Option(1.0, "--saturation", min=0.0,
                             help="Scale the predicted colour (1.0 = as predicted).")
OverwriteOpt = typer.Option(False, "--overwrite", help="Replace outputs that already exist.")
_TTA_HELP = ("Test-time augmentation: off | flip (also colorize the mirrored image and "
             "average: 2x the model time, lower colour error) | full (mirrored and at 0.875x / "
             "1.125x the working size too: ~6x the model time).")
# video keeps up with the frame rate only without it; for photos and scans the model is a
# small part of the work (flip adds 2-7 % to a folder run), so they get flip by default
TtaOpt = typer.Option("off", "--tta", help=_TTA_HELP)
ImageTtaOpt = typer.Option("flip", "--tta", help=_TTA_HELP)
ThreadsOpt = typer.Option(0, "--threads", min=0,
                          help="CPU threads for ONNX Runtime (0 = all cores).")


def interrupt_flag():
    """SIGINT / SIGTERM set the returned event; the work loop stops at the next safe point
    (between images, between video batches) and cleans up. A second signal interrupts at
    once. Raising at an arbitrary point instead can leave a queue's lock held."""
    import signal
    import threading

    flag = threading.Event()

    def handler(signum, frame):
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return flag


def with_tta(colorizer, mode: str):
    """The colorizer, wrapped for --tta unless it is off; a bad mode is a one-line error."""
    from colorize.core.tta import augment

    try:
        return augment(colorizer, mode)
    except ValueError as exc:
        fail(str(exc))


def existing_path(path: Path, what: str) -> Path:
    if not path.exists():
        fail(f"{what} not found: {path}")
    return path


def refuse_existing(*paths: Path | None, overwrite: bool) -> None:
    """Before any work: a one-line error for an output that exists, unless --overwrite."""
    for path in paths:
        if path is not None and path.exists() and not overwrite:
            fail(f"{path} exists; pass --overwrite to replace it", code=1)


def write_text_atomic(path: Path, text: str) -> None:
    """A report file, whole or not at all (a temporary file beside it, then a rename)."""
    from colorize.core.imageio import write_atomic

    write_atomic(path, text.encode())


def same_file(src: Path, dst: Path) -> bool:
    """Whether writing dst would replace src (same path, or a link to it)."""
    try:
        return dst.exists() and os.path.samefile(src, dst)
    except OSError:
        return False
