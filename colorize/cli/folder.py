"""colorize folder / colorize image."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from colorize.cli.common import (
    DeviceOpt,
    ImageTtaOpt,
    ModelOpt,
    OverwriteOpt,
    SaturationOpt,
    SizeOpt,
    ThreadsOpt,
    console,
    existing_path,
    fail,
    interrupt_flag,
    same_file,
    with_tta,
)
from colorize.cli.progress import make_progress
from colorize.core.errors import ColorizeError
from colorize.core.imageio import DEFAULT_MAX_PIXELS, FORMAT_SUFFIX, IMAGE_SUFFIXES
from colorize.core.pipeline import Settings

FormatOpt = typer.Option(None, "--format",
                         help="Output format (png, jpg, tif, bmp, webp, dpx). Default: the "
                              "input's (PNG for JPEG 2000 inputs).")
MaxPixelsOpt = typer.Option(DEFAULT_MAX_PIXELS, "--max-pixels", min=0,
                            help="Refuse images with more pixels than this, before decoding "
                                 "(decompression-bomb guard; 0 = no limit).")
QualityOpt = typer.Option(95, "--quality", min=1, max=100, help="JPEG / WebP quality.")

COLOR_NOTE = ("Colour inputs (sepia or tinted scans) are reduced to their luminance first and "
              "re-colorized. Outputs are RGB (RGBA when the input has alpha) at the input's "
              "size and bit depth; the output's luminance is the input's.")


def register(app: typer.Typer) -> None:
    app.command("folder", help="Colorize every image under a folder, mirroring the tree. "
                + COLOR_NOTE)(folder_command)
    app.command("image", help="Colorize one image. " + COLOR_NOTE)(image_command)


def _check_format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMAT_SUFFIX:
        fail(f"unknown --format {fmt!r}; choose one of {', '.join(sorted(FORMAT_SUFFIX))}")
    return fmt


def _colorizer(model: str | None, device: str, threads: int, tta: str,
               spinning: bool = True):
    from colorize.core.session import Colorizer

    try:
        colorizer = Colorizer(model, device=device, threads=threads, spinning=spinning)
    except ColorizeError as exc:
        fail(str(exc))
    return with_tta(colorizer, tta)


def folder_command(
    src: Path = typer.Argument(..., help="Folder of images (searched recursively)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder; the tree is mirrored."),
    model: str = ModelOpt,
    glob: list[str] = typer.Option(["*"], "--glob", help="Only paths matching these patterns "
                                                        "(repeatable), e.g. --glob '*.tif'."),
    fmt: str = FormatOpt,
    size: int = SizeOpt,
    saturation: float = SaturationOpt,
    tta: str = ImageTtaOpt,
    overwrite: bool = OverwriteOpt,
    device: str = DeviceOpt,
    threads: int = ThreadsOpt,
    max_pixels: int = MaxPixelsOpt,
    quality: int = QualityOpt,
    workers: int = typer.Option(0, "--workers", min=0,
                                help="Images colorized at once (0 = two on a machine with two "
                                     "or more cores); together they hold at most 25 "
                                     "megapixels, so a larger scan runs alone. 1 uses the "
                                     "least memory."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Say what would be done (images to colorize, outputs "
                                      "already there, files left alone) and stop, without "
                                      "loading the model or writing anything."),
) -> None:
    from colorize.core.batch import describe_ignored, output_clashes, plan_folder, run_jobs

    existing_path(src, "input folder")
    if not src.is_dir():
        fail(f"not a folder: {src} (use `colorize image` for one file)")
    if same_file(src, out):
        fail(f"{out} is the input folder; the outputs need a folder of their own")
    fmt = _check_format(fmt)
    ignored: list[Path] = []
    jobs = plan_folder(src, out, glob, fmt, ignored=ignored)
    if not jobs:
        fail(f"no images found under {src}"
             + (f"; {describe_ignored(ignored)}" if ignored else ""), code=1)
    clashes = output_clashes(jobs)
    if clashes:
        a, b = clashes[0]
        more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
        fail(f"{a.src} and {b.src} would both be written to {b.dst}{more}; drop --format "
             f"(each output keeps its input's format) or pick files with --glob", code=1)
    if dry_run:
        _plan_summary(jobs, ignored, overwrite)
        raise typer.Exit(0)
    # two images at a time (run_jobs): ONNX Runtime's threads must not busy-wait for work
    # while the other image's full-resolution steps need the cores (small photos: 44 against
    # 27-35 img/s on 2 cores)
    colorizer = _colorizer(model, device, threads, tta, spinning=False)
    console.print(f"model {colorizer.meta.name} on {colorizer.active_provider}; "
                  f"{len(jobs)} images")
    if ignored:
        console.print(Text.assemble(("note ", "yellow"), describe_ignored(ignored)),
                      soft_wrap=True)
    counts = {"done": 0, "skipped": 0, "failed": 0}
    failures: list[str] = []
    notes: dict[str, list[Path]] = {}  # note -> the images it is about
    settings = Settings(size=size, saturation=saturation)
    start = time.monotonic()
    stop = interrupt_flag()
    fatal = ""
    try:
        with make_progress(console, "img") as progress:
            task = progress.add_task("colorize", total=len(jobs), rate=0.0, info="")
            results = run_jobs(jobs, colorizer, settings, overwrite, max_pixels, quality,
                               workers=workers or None)
            for result in results:
                counts[result.status] += 1
                if result.status == "failed":
                    failures.append(result.reason)
                elif result.status == "done" and result.reason:
                    for note in result.notes:
                        notes.setdefault(note, []).append(result.job.src)
                elapsed = time.monotonic() - start
                progress.update(task, advance=1, rate=counts["done"] / max(elapsed, 1e-9),
                                info=result.job.src.name[:40])
                if result.fatal:
                    fatal = result.reason
                if stop.is_set() or fatal:
                    results.close()
                    break
    except KeyboardInterrupt:
        stop.set()
    if fatal:
        # every later image would fail the same way: stop instead of trying them all
        _summary(counts, failures, notes)
        fail(f"stopped: {fatal}; finished images are kept, make room and re-run to continue",
             code=1)
    if stop.is_set():
        _summary(counts, failures, notes)
        fail("interrupted; finished images are kept, re-run to continue", code=130)
    _summary(counts, failures, notes)
    raise typer.Exit(1 if failures else 0)


NOTE_PATHS = 3  # a note shared by more images is printed once, with a count


def _plan_summary(jobs: list, ignored: list[Path], overwrite: bool, shown: int = 5) -> None:
    """--dry-run: the plan in a few lines."""
    from colorize.core.batch import describe_ignored

    there = [job for job in jobs if job.dst.exists()]
    todo = jobs if overwrite else [job for job in jobs if not job.dst.exists()]
    action = "replaced" if overwrite else "skipped (--overwrite replaces them)"
    kept = f"; {len(there)} outputs already there would be {action}" if there else ""
    console.print(f"dry run: {len(todo)} images to colorize{kept}", markup=False)
    for job in todo[:shown]:
        console.print(f"  {job.src} -> {job.dst}", markup=False)
    if len(todo) > shown:
        console.print(f"  ... and {len(todo) - shown} more", markup=False)
    if ignored:
        console.print(f"note {describe_ignored(ignored)}", markup=False)


def _summary(counts: dict[str, int], failures: list[str],
             notes: dict[str, list[Path]]) -> None:
    table = Table(title="colorize folder", show_header=True)
    for key in ("done", "skipped", "failed"):
        table.add_column(key, justify="right")
    table.add_row(*(str(counts[k]) for k in ("done", "skipped", "failed")))
    console.print(table)
    for note, paths in notes.items():
        # the same note on many images (a folder of phone photos in Display P3) is one line
        if len(paths) <= NOTE_PATHS:
            lines = [f"{path}: {note}" for path in paths]
        else:
            lines = [f"{len(paths)} images ({', '.join(map(str, paths[:NOTE_PATHS - 1]))}, "
                     f"...): {note}"]
        for line in lines:
            console.print(Text.assemble(("note ", "yellow"), line), soft_wrap=True)
    for reason in failures:
        console.print(Text.assemble(("failed ", "red"), reason), soft_wrap=True)


def image_command(
    src: Path = typer.Argument(..., help="Input image."),
    out: Path = typer.Option(..., "--out", "-o",
                             help="Output image path, or an existing folder to write the "
                                  "input's name into."),
    model: str = ModelOpt,
    fmt: str = FormatOpt,
    size: int = SizeOpt,
    saturation: float = SaturationOpt,
    tta: str = ImageTtaOpt,
    overwrite: bool = OverwriteOpt,
    device: str = DeviceOpt,
    threads: int = ThreadsOpt,
    max_pixels: int = MaxPixelsOpt,
    quality: int = QualityOpt,
    samples: int = typer.Option(1, "--samples", min=1,
                                help="Models with a latent input (unet-vae): write N different "
                                     "colorizations, OUT_1, OUT_2, ..."),
    seed: int = typer.Option(None, "--seed", help="Latent seed (unet-vae); default: the mean "
                                                  "colorization (z = 0) for one sample."),
) -> None:
    import numpy as np

    from colorize.core.batch import Job, run_jobs
    from colorize.core.imageio import written_as

    existing_path(src, "input image")
    if src.is_dir():
        fail(f"{src} is a folder (use `colorize folder`)")
    fmt = _check_format(fmt)
    if out.is_dir():
        out = out / written_as(Path(src.name))  # like cp: into the folder, same name
    dst = out.with_suffix(FORMAT_SUFFIX[fmt]) if fmt else out
    if dst.suffix.lower() not in IMAGE_SUFFIXES:
        fail(f"cannot write {dst}: the output must end in one of "
             f"{', '.join(sorted(IMAGE_SUFFIXES))} (or pass --format)")
    if same_file(src, dst):
        fail(f"{dst} is the input; the output needs another name")
    if samples > 1:
        names = [dst.with_name(f"{dst.stem}_{i + 1}{dst.suffix}") for i in range(samples)]
    else:
        names = [dst]
    taken = [p for p in names if p.exists()]
    if taken and not overwrite:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        fail(f"{taken[0]} exists{more}; pass --overwrite to replace it", code=1)
    colorizer = _colorizer(model, device, threads, tta)
    if (samples > 1 or seed is not None) and "z" not in colorizer.extra_inputs:
        fail(f"model {colorizer.meta.name!r} has no latent input; --samples/--seed need "
             "unet-vae")
    jobs, zs = [Job(src, name) for name in names], [None]
    if samples > 1 or seed is not None:
        dim = int(colorizer.meta.extra_inputs.get("z", {}).get("dim", 8))
        rng = np.random.default_rng(seed)
        zs = [rng.standard_normal((1, dim)).astype(np.float32) for _ in range(samples)]
    for job, z in zip(jobs, zs, strict=True):
        settings = Settings(size=size, saturation=saturation, z=z)
        (result,) = run_jobs([job], colorizer, settings, overwrite, max_pixels, quality)
        if result.status == "failed":
            fail(result.reason, code=1)
        if result.status == "skipped":  # it appeared while the model loaded
            fail(f"{job.dst} exists; pass --overwrite to replace it", code=1)
        if result.reason:
            console.print(f"note: {result.reason}", markup=False)
        console.print(f"wrote {job.dst}")
