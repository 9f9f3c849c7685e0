"""Folder colorization: plan the jobs, read ahead on a thread, write atomically, never stop."""

from __future__ import annotations

import fnmatch
import os
import queue
import threading
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from colorize.core.errors import ColorizeError
from colorize.core.imageio import (
    ALPHA_SUFFIXES,
    DEFAULT_MAX_PIXELS,
    FORMAT_SUFFIX,
    HEIF_SUFFIXES,
    INPUT_SUFFIXES,
    SIXTEEN_BIT_SUFFIXES,
    Picture,
    encode_picture,
    is_partial,
    read_image,
    write_atomic,
    write_tiff_pages,
    written_as,
)
from colorize.core.pipeline import Settings, colorize_picture
from colorize.core.session import Colorizer


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path


@dataclass(frozen=True)
class Result:
    job: Job
    status: str  # "done" | "skipped" | "failed"
    reason: str = ""  # why it failed or was skipped, or a note on a done one
    fatal: bool = False  # a failure every later image would meet too (disk full)
    notes: tuple[str, ...] = ()  # a done image's notes, each without the path


# what macOS leaves beside files copied to a foreign disk or zipped ("._scan1.jpg" holds
# scan1.jpg's resource fork, not a picture; __MACOSX/ holds such files): passed over, as
# other notes beside the scans are, rather than reported as images that failed to decode
APPLE_DOUBLE_PREFIX = "._"
APPLE_ZIP_FOLDER = "__MACOSX"


def _walk(root: Path, exclude: Path | None) -> Iterator[Path]:
    """Files under root, following directory symlinks once (loops are cut), sorted; macOS
    resource-fork files and folders left out."""
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath)
        try:
            st = here.stat()
        except OSError:
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            dirnames[:] = []
            continue
        seen.add(key)
        keep = []
        for d in sorted(dirnames):
            sub = here / d
            if d == APPLE_ZIP_FOLDER or (exclude is not None and _same_path(sub, exclude)):
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            if not name.startswith(APPLE_DOUBLE_PREFIX):
                yield here / name


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# pictures in formats not read here, which a scan or photo folder may hold: they are named
# in a note rather than skipped without a word (a README or a .txt beside the scans is not)
OTHER_IMAGE_SUFFIXES = {
    ".heic", ".heif", ".psd", ".psb", ".xcf", ".dng", ".cr2", ".cr3", ".crw", ".nef",
    ".nrw", ".arw", ".srf", ".sr2", ".orf", ".rw2", ".raf", ".pef", ".srw", ".x3f", ".rwl",
    ".iiq", ".3fr", ".jxl", ".jxr", ".wdp", ".exr", ".hdr", ".cin", ".tga", ".pcx",
    ".ico", ".svg", ".djvu", ".pdf", ".eps", ".jpe", ".jps", ".mpo", ".apng", ".qoi",
}


def plan_folder(src: Path, dst: Path, patterns: Sequence[str] = ("*",),
                fmt: str | None = None, ignored: list[Path] | None = None) -> list[Job]:
    """One job per image under src, mirrored under dst (dst may lie inside src). Pictures
    the patterns pick in a format not read here (OTHER_IMAGE_SUFFIXES: raw, PSD, PDF, ...)
    go into ``ignored``."""
    src, dst = Path(src), Path(dst)
    jobs = []
    for path in _walk(src, exclude=dst):
        if is_partial(path):
            continue
        rel = path.relative_to(src)
        if not any(fnmatch.fnmatch(rel.as_posix(), p) or fnmatch.fnmatch(path.name, p)
                   for p in patterns):
            continue
        if path.suffix.lower() not in INPUT_SUFFIXES:
            if ignored is not None and path.suffix.lower() in OTHER_IMAGE_SUFFIXES:
                ignored.append(path)
            continue
        out = dst / rel
        out = out.with_suffix(FORMAT_SUFFIX[fmt]) if fmt else written_as(out)
        jobs.append(Job(path, out))
    return jobs


def describe_ignored(paths: Sequence[Path]) -> str:
    """'3 files left alone: not an image format read here (.dng 2, .psd 1; ...)': the
    most common suffixes."""
    kinds = Counter(p.suffix.lower() or "no extension" for p in paths)
    shown = ", ".join(f"{k} {n}" for k, n in kinds.most_common(5))
    more = ", ..." if len(kinds) > 5 else ""
    noun = "file" if len(paths) == 1 else "files"
    hint = ("; HEIC needs pip install 'colorize[heic]'"
            if any(k in HEIF_SUFFIXES for k in kinds) else "")
    return (f"{len(paths)} {noun} left alone: not an image format read here ({shown}{more}; "
            f"read: {', '.join(sorted(INPUT_SUFFIXES))}{hint})")


def output_clashes(jobs: Sequence[Job]) -> list[tuple[Job, Job]]:
    """Pairs of jobs that would write the same file (a.jpg and a.png under --format png)."""
    first: dict[Path, Job] = {}
    clashes = []
    for job in jobs:
        if job.dst in first:
            clashes.append((first[job.dst], job))
        else:
            first[job.dst] = job
    return clashes


def _prefetch(jobs: Sequence[Job], max_pixels: int, depth: int = 2
              ) -> Iterator[tuple[Job, Picture | ColorizeError]]:
    """Decode images on a worker thread, a few ahead of inference."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def worker() -> None:
        for job in jobs:
            if stop.is_set():
                break
            try:
                item: Picture | ColorizeError = read_image(job.src, max_pixels)
            except ColorizeError as exc:
                item = exc
            except MemoryError:
                item = ColorizeError(f"{job.src}: not enough memory to decode")
            while not stop.is_set():
                try:
                    q.put((job, item), timeout=0.1)
                    break
                except queue.Full:
                    continue
        q.put(done)

    thread = threading.Thread(target=worker, name="colorize-reader", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not done:
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass


# Images colorized at once may hold at most this many pixels together (a larger image runs
# alone), which bounds the memory of two workers: measured peak RSS 1.06 GB for 12 MP scans
# two at a time, 0.84 GB for one 24 MP scan (issue 7's bound for the latter: 1.5 GB)
PARALLEL_PIXELS = 25_000_000


class _PixelBudget:
    """Blocks a new image until the pixels of the images in flight leave room for it."""

    def __init__(self, total: int):
        self.total, self.used = total, 0
        self.cond = threading.Condition()

    def acquire(self, pixels: int) -> int:
        need = min(pixels, self.total)
        with self.cond:
            self.cond.wait_for(lambda: self.used + need <= self.total)
            self.used += need
        return need

    def release(self, need: int) -> None:
        with self.cond:
            self.used -= need
            self.cond.notify_all()


def _tiff_pages(job: Job, first: Picture, colorizer: Colorizer, settings: Settings,
                max_pixels: int) -> Iterator[tuple]:
    """Every page of a multi-page TIFF, colorized one after another (one in memory)."""
    yield (colorize_picture(first, colorizer, settings), first.alpha, first.depth, first.meta)
    for page in range(1, first.pages):
        picture = read_image(job.src, max_pixels, page=page)
        yield (colorize_picture(picture, colorizer, settings), picture.alpha, picture.depth,
               picture.meta)


def _colorize_job(job: Job, picture: Picture, colorizer: Colorizer, settings: Settings,
                  quality: int, max_pixels: int = DEFAULT_MAX_PIXELS, threads: int = 1
                  ) -> Result:
    suffix = job.dst.suffix.lower()
    every_page = (picture.pages > 1 and suffix in (".tif", ".tiff")
                  and job.src.suffix.lower() in (".tif", ".tiff"))
    try:
        if every_page:  # a scanned book or document: a multi-page TIFF out
            lost = write_tiff_pages(job.dst, _tiff_pages(job, picture, colorizer, settings,
                                                         max_pixels), threads)
        else:
            rgb = colorize_picture(picture, colorizer, settings)
            data, lost = encode_picture(rgb, picture.alpha, picture.depth, suffix, quality,
                                        picture.meta, threads)
            del rgb
            write_atomic(job.dst, data)
    except ColorizeError as exc:
        return Result(job, "failed", str(exc), fatal=getattr(exc, "fatal", False))
    except (ValueError, MemoryError) as exc:
        return Result(job, "failed", f"{job.src}: {exc.__class__.__name__}: {exc}")
    notes = []
    if picture.pages > 1 and not every_page:
        if job.src.suffix.lower() == ".gif":
            notes.append(f"{picture.pages} frames (an animation); only the first was "
                         f"colorized (`colorize video` takes an animated GIF)")
        elif job.src.suffix.lower() in (".tif", ".tiff"):
            notes.append(f"{picture.pages} pages; only the first was colorized (a TIFF "
                         f"output, --format tif, keeps every page)")
        else:  # an animated WebP, say
            notes.append(f"{picture.pages} frames; only the first was colorized")
    if picture.note:
        notes.append(picture.note)
    if picture.profile:
        notes.append(f"read through its colour profile ({picture.profile}) and written as "
                     f"sRGB")
    if picture.depth == 16 and suffix not in SIXTEEN_BIT_SUFFIXES:
        notes.append(f"16 bits per channel written as 8 into {suffix} (PNG or TIFF keep 16)")
    if picture.alpha is not None and suffix not in ALPHA_SUFFIXES:
        notes.append(f"its transparency could not be written into {suffix} (PNG, TIFF or "
                     f"WebP keep it)")
    if lost:
        notes.append(f"its {' and '.join(lost)} could not be written into "
                     f"{job.dst.suffix.lower()} (PNG or JPEG keep them)")
    return Result(job, "done", f"{job.src}: {'; '.join(notes)}" if notes else "",
                  notes=tuple(notes))


def default_workers() -> int:
    """Images colorized at once: two where there are two cores or more (the full-resolution
    steps of one image keep ~1.4 cores busy: decoding ahead overlaps, the rest is serial)."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def run_jobs(jobs: Sequence[Job], colorizer: Colorizer, settings: Settings,
             overwrite: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS,
             quality: int = 95, workers: int | None = None) -> Iterator[Result]:
    """Colorize every job, yielding one Result each, in job order; a failure never stops the
    batch. Up to ``workers`` images at once (default: default_workers()), within
    PARALLEL_PIXELS; closing the iterator lets the images in flight finish and starts no
    more."""
    todo = []
    for job in jobs:
        if job.dst.exists() and not overwrite:
            yield Result(job, "skipped", "output exists")
        else:
            todo.append(job)
    workers = default_workers() if workers is None else max(1, workers)
    if workers == 1 or len(todo) < 2:
        for job, item in _prefetch(todo, max_pixels):
            if isinstance(item, ColorizeError):
                yield Result(job, "failed", str(item))
            else:
                # one image at a time: the cores are free to compress a TIFF together
                # (a 24 MP 16-bit scan: 3.8 s against 7.9 s with one thread; with two images
                # at once, one each was as fast: 8.5-9.3 s against 9.7 s for four 12 MP)
                yield _colorize_job(job, item, colorizer, settings, quality, max_pixels,
                                    threads=min(2, os.cpu_count() or 1))
        return
    budget = _PixelBudget(PARALLEL_PIXELS)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="colorize-worker")
    pending: deque[Future[Result]] = deque()

    def task(job: Job, picture: Picture, need: int) -> Result:
        # an image over half the budget never runs beside one of its size: a large scan
        # mostly has the cores to itself, so its TIFF is compressed on two threads as well
        threads = min(2, os.cpu_count() or 1) if need > PARALLEL_PIXELS // 2 else 1
        try:
            return _colorize_job(job, picture, colorizer, settings, quality, max_pixels,
                                 threads=threads)
        finally:
            budget.release(need)

    try:
        for job, item in _prefetch(todo, max_pixels, depth=1):
            if isinstance(item, ColorizeError):
                done: Future[Result] = Future()
                done.set_result(Result(job, "failed", str(item)))
                pending.append(done)
            else:
                need = budget.acquire(item.pixels.shape[0] * item.pixels.shape[1])
                pending.append(pool.submit(task, job, item, need))
            del item
            while pending and pending[0].done():
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
