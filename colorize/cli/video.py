"""colorize video / colorize frames."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from colorize.cli.common import (
    DeviceOpt,
    ModelOpt,
    OverwriteOpt,
    SaturationOpt,
    SizeOpt,
    ThreadsOpt,
    TtaOpt,
    console,
    count,
    existing_path,
    fail,
    interrupt_flag,
    same_file,
    with_tta,
    write_text_atomic,
)
from colorize.cli.progress import make_progress
from colorize.core.errors import ColorizeError
from colorize.core.smoothing import DEFAULT_STRENGTH

SmoothOpt = typer.Option("flow", "--smooth",
                         help="Temporal chroma smoothing: none | ema | flow (optical-flow "
                              "guided, the default).")
StrengthOpt = typer.Option(DEFAULT_STRENGTH, "--smooth-strength", min=0.0, max=0.99,
                           help="How much of the previous frame's colour is carried over.")
CutOpt = typer.Option(0.15, "--cut-threshold", min=0.0,
                      help="Scene-cut threshold (mean luma change, 0-1) that resets "
                           "smoothing; 0 disables cut detection.")


def register(app: typer.Typer) -> None:
    app.command("video")(video_command)
    app.command("frames")(frames_command)


def video_command(
    src: Path = typer.Argument(..., help="Input video (anything FFmpeg reads)."),
    out: Path = typer.Option(..., "--out", "-o",
                             help="Output video (.mp4, .mkv, .mov, ...), or an existing folder "
                                  "to write the input's name into."),
    model: str = ModelOpt,
    smooth: str = SmoothOpt,
    smooth_strength: float = StrengthOpt,
    cut_threshold: float = CutOpt,
    batch: int = typer.Option(8, "--batch", min=1,
                               help="Frames per inference call: fewer, longer calls run "
                                    "better beside the encoder; more frames use more "
                                    "memory."),
    codec: str = typer.Option(None, "--codec", help="Video encoder (FFmpeg's name). Default: "
                                                    "libx264, or libvpx-vp9 for .webm.",
                              show_default=False),
    crf: int = typer.Option(18, "--crf", min=0, max=63, help="Constant quality for x264/x265 "
                                                             "(0-51) and VP9 (0-63); lower = "
                                                             "better."),
    preset: str = typer.Option("medium", "--preset", help="x264/x265 speed preset."),
    eight_bit: bool = typer.Option(False, "--8-bit",
                                   help="Write 8-bit video even from a 10-bit source (H.264 "
                                        "High 10 does not play on some hardware players)."),
    start: float = typer.Option(None, "--start", min=0.0, help="Start time in seconds."),
    end: float = typer.Option(None, "--end", min=0.0, help="End time in seconds."),
    size: int = SizeOpt,
    saturation: float = SaturationOpt,
    tta: str = TtaOpt,
    overwrite: bool = OverwriteOpt,
    device: str = DeviceOpt,
    threads: int = ThreadsOpt,
) -> None:
    """Colorize every frame of a video. The luma is copied untouched, colour is smoothed over
    time; every timestamp, the rotation, the audio, the subtitles (where the container
    holds them), the chapters and the tags (timecode included) are kept. A clip stored
    sideways with a display rotation is colorized as it is displayed (upright)."""
    from colorize.core.session import Colorizer
    from colorize.core.smoothing import MODES, SmootherConfig
    from colorize.core.video import FORMAT_FOR_SUFFIX, VideoOptions, colorize_video

    existing_path(src, "input video")
    if smooth not in MODES:
        fail(f"--smooth must be one of {', '.join(MODES)}")
    if start is not None and end is not None and end <= start:
        fail("--end must be after --start")
    if src.is_dir():
        fail(f"{src} is a folder (use `colorize frames` for a folder of numbered images)")
    if out.is_dir():  # like cp: into the folder, same name (.mp4 where it cannot be written)
        name = Path(src.name)
        out = out / (name if name.suffix.lower() in FORMAT_FOR_SUFFIX else name.with_suffix(".mp4"))
    if same_file(src, out):
        fail(f"{out} is the input; the output needs another name")
    if out.exists() and not overwrite:
        fail(f"{out} exists; pass --overwrite to replace it", code=1)
    try:
        colorizer = Colorizer(model, device=device, threads=threads, spinning=False)
    except ColorizeError as exc:
        fail(str(exc))
    colorizer = with_tta(colorizer, tta)
    opts = VideoOptions(codec=codec, crf=crf, preset=preset, eight_bit=eight_bit,
                        batch=batch, size=size,
                        saturation=saturation, start=start, end=end,
                        smoothing=SmootherConfig(smooth, smooth_strength, cut_threshold))
    stop = interrupt_flag()
    begin = time.monotonic()
    # the bar starts with the first frames, so that an input that cannot be opened is one
    # error line without an empty bar above it
    progress = make_progress(console, "frames")
    task = None

    def on_progress(done: int, total: int | None) -> None:
        nonlocal task
        if task is None:
            progress.start()
            task = progress.add_task("colorize", total=None, rate=0.0, info="")
        progress.update(task, completed=done, total=total,
                        rate=done / max(time.monotonic() - begin, 1e-9))

    try:
        try:
            report = colorize_video(src, out, colorizer, opts, on_progress, cancel=stop)
        finally:
            if task is not None:
                progress.stop()
    except KeyboardInterrupt:
        fail("interrupted; no output written", code=130)
    except ColorizeError as exc:
        if stop.is_set():
            fail("interrupted; no output written", code=130)
        fail(str(exc), code=1)
    for note in report.notes:
        console.print(f"note: {note}", markup=False)
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in report.stage_s.items())
    kept = "".join(f", {count(n, what)}" for n, what in ((report.subtitle_packets, "subtitle"),
                                                        (report.chapters, "chapter")) if n)
    console.print(f"[green]wrote[/] {out}: {count(report.frames, 'frame')}, "
                  f"{count(report.audio_packets, 'audio packet')}{kept}, "
                  f"{count(report.cuts, 'scene cut')}, {report.seconds:.1f} s "
                  f"({report.frames / max(report.seconds, 1e-9):.1f} fps; {stages})")


def frames_command(
    src: Path = typer.Argument(..., help="Folder of numbered frames, taken in the order of "
                                         "their numbers (scan9 before scan10)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    model: str = ModelOpt,
    smooth: str = SmoothOpt,
    smooth_strength: float = StrengthOpt,
    cut_threshold: float = CutOpt,
    size: int = SizeOpt,
    saturation: float = SaturationOpt,
    tta: str = TtaOpt,
    overwrite: bool = OverwriteOpt,
    device: str = DeviceOpt,
    threads: int = ThreadsOpt,
) -> None:
    """Colorize a numbered image sequence (PNG, TIFF, DPX film scans, ...) with the same
    temporal smoothing as `video`."""
    from colorize.core.frames import colorize_sequence
    from colorize.core.session import Colorizer
    from colorize.core.smoothing import MODES, SmootherConfig

    existing_path(src, "input folder")
    if not src.is_dir():
        fail(f"not a folder: {src} (use `colorize video` for a video file)")
    if same_file(src, out):
        fail(f"{out} is the input folder; the frames need a folder of their own")
    if smooth not in MODES:
        fail(f"--smooth must be one of {', '.join(MODES)}")
    try:
        colorizer = Colorizer(model, device=device, threads=threads)
    except ColorizeError as exc:
        fail(str(exc))
    colorizer = with_tta(colorizer, tta)
    stop = interrupt_flag()
    failures = 0
    notes: list[str] = []
    try:
        results = colorize_sequence(src, out, colorizer,
                                    SmootherConfig(smooth, smooth_strength, cut_threshold),
                                    size, saturation, overwrite)
    except ColorizeError as exc:  # before the bar: one error line, no empty bar above it
        fail(str(exc), code=1)
    try:
        with make_progress(console, "img") as progress:
            task = progress.add_task("frames", total=None, rate=0.0, info="")
            for result in results:
                progress.update(task, advance=1, total=result.total)
                if result.status == "failed":
                    failures += 1
                    console.print(f"failed {result.reason}", markup=False)
                elif result.reason and result.reason not in notes:
                    notes.append(result.reason)  # said once for the sequence, at the end
                if stop.is_set():
                    break
    except KeyboardInterrupt:
        stop.set()
    except ColorizeError as exc:
        fail(str(exc), code=1)
    for note in notes:
        console.print(f"note: {note}", markup=False)
    if stop.is_set():
        fail("interrupted; finished frames are kept, re-run to continue", code=130)
    raise typer.Exit(1 if failures else 0)


def eval_video(colorizer, clip: Path, limit: int | None, size: int | None,
               json_out: Path | None, strength: float = DEFAULT_STRENGTH,
               cut_threshold: float = 0.15) -> None:
    from colorize.core.video_eval import evaluate_clip

    try:
        res = evaluate_clip(colorizer, clip, strength=strength, cut_threshold=cut_threshold,
                            limit=limit, size=size)
    except ColorizeError as exc:
        fail(str(exc), code=1)
    table = Table(title=f"{colorizer.meta.name} on {clip} ({res['frames']} frames, desaturated)")
    cols = ["psnr", "de76", "colorfulness", "warp_error", "warp_error_norm", "cdc"]
    table.add_column("smoothing")
    for c in cols:
        table.add_column(c, justify="right")
    for mode in ("none", "ema", "flow", "gray", "truth"):
        row = res[mode]
        label = "gray (ab = 0)" if mode == "gray" else mode
        table.add_row(label, *(f"{row[c]:.4g}" if c in row else "-" for c in cols))
    console.print(table)
    if json_out:
        write_text_atomic(json_out, json.dumps(res, indent=1))
