"""Measure a colorizer on colour photos: desaturate, colorize, score against the truth."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from colorize.core.color import lab_to_rgb
from colorize.core.errors import ColorizeError
from colorize.core.imageio import Picture, encode_image, read_image, write_atomic
from colorize.core.metrics import Pooled, Scores, score
from colorize.core.pipeline import Settings, colorize_picture, luminance_of
from colorize.core.session import Colorizer


@dataclass
class EvalResult:
    model: Pooled = field(default_factory=Pooled)
    gray: Pooled = field(default_factory=Pooled)
    rows: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    sheet_rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)


def spread(files: Sequence[Path], limit: int | None) -> list[Path]:
    """At most ``limit`` files evenly spaced over the list (folders are often sorted by
    source, so the first N would all be of one kind)."""
    files = list(files)
    if not limit or limit >= len(files):
        return files
    step = len(files) / limit
    return [files[int(i * step)] for i in range(limit)]


def held_out(files: Sequence[Path], limit: int | None, exclude: int) -> list[Path]:
    """Like spread(files, limit), but never one of spread(files, exclude): the photos that
    `colorize eval --limit exclude` scores stay out of tuning."""
    held = set(spread(files, exclude)) if exclude else set()
    return spread([f for f in files if f not in held], limit)


def to_u8(rgb: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def gray_baseline(picture: Picture) -> np.ndarray:
    light = luminance_of(picture)
    lab = np.zeros((*light.shape, 3), np.float32)
    lab[..., 0] = light
    return lab_to_rgb(lab)


def evaluate_images(colorizer: Colorizer, files: Sequence[Path], settings: Settings,
                    sheet_count: int = 0, with_de2000: bool = True,
                    on_image: Callable[[Path], None] | None = None) -> EvalResult:
    result = EvalResult()
    for path in files:
        try:
            pic = read_image(path)
        except ColorizeError as exc:
            result.failures.append(str(exc))
            continue
        if pic.pixels.ndim == 2:
            result.failures.append(f"{path}: gray image, no colour truth")
            continue
        truth = to_u8(pic.pixels)
        out = to_u8(colorize_picture(pic, colorizer, settings))
        gray = to_u8(gray_baseline(pic))
        s_model: Scores = score(out, truth, with_de2000=with_de2000)
        s_gray: Scores = score(gray, truth, with_de2000=with_de2000)
        pixels = truth.shape[0] * truth.shape[1]
        result.model.add(pixels, s_model)
        result.gray.add(pixels, s_gray)
        result.rows.append({"image": str(path), "model": vars(s_model), "gray": vars(s_gray)})
        if len(result.sheet_rows) < sheet_count:
            result.sheet_rows.append((gray, out, truth))
        if on_image:
            on_image(path)
    return result


def contact_sheet(rows: Sequence[tuple[np.ndarray, ...]], path: Path, height: int = 160) -> None:
    """gray | output | truth, one image per row, written atomically as PNG."""
    lines = []
    for images in rows:
        resized = [cv2.resize(im, (max(1, int(im.shape[1] * height / im.shape[0])), height),
                              interpolation=cv2.INTER_AREA) for im in images]
        sep = np.full((height, 4, 3), 255, np.uint8)
        parts = []
        for im in resized:
            parts += [im, sep]
        lines.append(np.hstack(parts[:-1]))
    width = max(line.shape[1] for line in lines)
    padded = [np.pad(line, ((0, 4), (0, width - line.shape[1]), (0, 0)), constant_values=255)
              for line in lines]
    sheet = np.vstack(padded).astype(np.float32) / 255.0
    write_atomic(path, encode_image(sheet, None, 8, ".png"))
