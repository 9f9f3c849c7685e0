"""run_jobs with two workers: same files and order as one worker, memory-bounded, stoppable."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from colorize.core import batch
from colorize.core.batch import Job, run_jobs
from colorize.core.pipeline import Settings
from colorize.core.session import Colorizer
from tests.helpers import gradient_gray


def spy_on(monkeypatch, owner, name: str, key: str) -> list:
    """Wrap owner.name; the returned list collects each call's keyword ``key``."""
    seen: list = []
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        seen.append(kwargs.get(key))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return seen


@pytest.fixture
def photos(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    sizes = [(60, 80), (30, 30), (90, 40), (20, 70), (64, 64), (50, 50)]
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(gradient_gray(h, w)).save(src / f"p{i}.png")
    (src / "p3.png").write_bytes(b"not a png")  # a failure in the middle
    return sorted(src.iterdir())


def test_two_workers_write_the_same_files_in_job_order(photos, tmp_path, tiny_model):
    col = Colorizer(tiny_model, device="cpu")
    outs = {}
    for workers in (1, 2):
        jobs = [Job(p, tmp_path / f"out{workers}" / p.name) for p in photos]
        results = list(run_jobs(jobs, col, Settings(), workers=workers))
        assert [r.job for r in results] == jobs
        outs[workers] = [(r.job.src.name, r.status) for r in results]
    assert outs[1] == outs[2]
    assert [s for _, s in outs[2]] == ["done"] * 3 + ["failed"] + ["done"] * 2
    for p in photos:
        one, two = tmp_path / "out1" / p.name, tmp_path / "out2" / p.name
        assert one.exists() == two.exists()
        if one.exists():
            assert one.read_bytes() == two.read_bytes()


def fake_colorize(calls, active, peak, delay=0.05):
    lock = threading.Lock()

    def colorize_picture(picture, colorizer, settings):
        with lock:
            calls.append(picture.pixels.shape)
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(delay)
        with lock:
            active[0] -= 1
        return np.zeros((*picture.pixels.shape[:2], 3), np.float32)

    return colorize_picture


@pytest.mark.parametrize(("budget", "expected_peak"), [(1_500, 1), (100_000, 2)])
def test_images_run_together_only_within_the_pixel_budget(tmp_path, monkeypatch, tiny_model,
                                                          budget, expected_peak):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        Image.fromarray(gradient_gray(30, 30)).save(src / f"p{i}.png")  # 900 pixels each
    calls, active, peak = [], [0], [0]
    monkeypatch.setattr(batch, "colorize_picture", fake_colorize(calls, active, peak))
    monkeypatch.setattr(batch, "PARALLEL_PIXELS", budget)
    jobs = [Job(p, tmp_path / "out" / p.name) for p in sorted(src.iterdir())]
    results = list(run_jobs(jobs, Colorizer(tiny_model, device="cpu"), Settings(), workers=2))
    assert [r.status for r in results] == ["done"] * 6 and len(calls) == 6
    assert peak[0] == expected_peak


def test_closing_the_results_starts_no_more_images(tmp_path, monkeypatch, tiny_model):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        Image.fromarray(gradient_gray(30, 30)).save(src / f"p{i:02d}.png")
    calls, active, peak = [], [0], [0]
    monkeypatch.setattr(batch, "colorize_picture", fake_colorize(calls, active, peak, 0.1))
    jobs = [Job(p, tmp_path / "out" / p.name) for p in sorted(src.iterdir())]
    results = run_jobs(jobs, Colorizer(tiny_model, device="cpu"), Settings(), workers=2)
    first = next(results)
    assert first.status == "done"
    results.close()  # what Ctrl-C in `colorize folder` does
    started = len(calls)
    time.sleep(0.3)
    assert len(calls) == started <= 4  # the first, the one beside it, at most two queued
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(written) == started and not [n for n in written if n.startswith(".")]


def test_folder_workers_option(photos, tmp_path, tiny_model, monkeypatch):
    from typer.testing import CliRunner

    from colorize.cli.app import app

    seen = spy_on(monkeypatch, batch, "run_jobs", "workers")
    src = photos[0].parent
    for flag, expected in ((["--workers", "1"], 1), ([], None)):
        out = tmp_path / f"out{len(seen)}"
        r = CliRunner().invoke(app, ["folder", str(src), "-o", str(out), "--model",
                                     str(tiny_model), *flag])
        assert r.exit_code == 1 and "p3.png" in r.output  # the broken file, nothing else
        assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p1.png", "p2.png",
                                                          "p4.png", "p5.png"]
        assert seen[-1] == expected


def test_a_tiff_is_compressed_by_two_threads_where_its_image_has_the_cores(
        tmp_path, monkeypatch, tiny_model):
    import tifffile

    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        Image.fromarray(gradient_gray(40, 48)).save(src / f"s{i}.tif")
    seen = spy_on(monkeypatch, tifffile, "imwrite", "maxworkers")
    monkeypatch.setattr(batch.os, "cpu_count", lambda: 2)
    col = Colorizer(tiny_model)
    # one at a time; two small ones together; two over half the pixel budget (large scans,
    # which never run beside each other)
    for workers, budget, want in ((1, 25_000_000, 2), (2, 25_000_000, 1), (2, 3000, 2)):
        monkeypatch.setattr(batch, "PARALLEL_PIXELS", budget)
        jobs = [Job(p, tmp_path / f"out{workers}_{budget}" / p.name)
                for p in sorted(src.iterdir())]
        seen.clear()
        results = list(run_jobs(jobs, col, Settings(), workers=workers))
        assert [r.status for r in results] == ["done", "done"]
        assert seen == [want, want], (workers, seen)
        with tifffile.TiffFile(jobs[0].dst) as tif:  # the same file either way
            assert tif.pages[0].shape == (40, 48, 3)
