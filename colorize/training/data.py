"""Training data: a folder of colour photos -> seeded split -> augmented (L, ab) tensors."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from colorize.core.color import AB_SCALE, L_CENTER, L_SCALE, rgb_to_lab
from colorize.core.imageio import INPUT_SUFFIXES

NORMALIZATION = {"l_center": L_CENTER, "l_scale": L_SCALE, "ab_scale": AB_SCALE}


def list_images(root: Path) -> list[Path]:
    """Every image file under root, recursively, in a stable order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in INPUT_SUFFIXES and p.is_file())
    if not files:
        raise FileNotFoundError(f"no images found under {root}")
    return files


def chroma_of(path: Path) -> float:
    """Mean ab magnitude of a small decode of the image (0 for gray or unreadable files)."""
    img = cv2.imread(str(path), cv2.IMREAD_REDUCED_COLOR_4)
    if img is None:
        try:
            rgb = _read_other(path)
        except OSError:
            return 0.0
    else:
        rgb = img[..., ::-1]
    lab = rgb_to_lab(rgb.astype(np.float32) / 255.0)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def _read_other(path: Path) -> np.ndarray:
    """8-bit RGB of a file OpenCV cannot read (HEIC, AVIF, GIF, ...), through the
    inference reader (Pillow and its plugins)."""
    from colorize.core.errors import ColorizeError
    from colorize.core.imageio import read_image

    try:
        pixels = read_image(path).pixels
    except ColorizeError as exc:
        raise OSError(str(exc)) from None
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return np.rint(pixels * 255.0).astype(np.uint8)


@dataclass
class Split:
    train: list[Path]
    val: list[Path]
    test: list[Path]


def split_files(files: list[Path], seed: int, fractions: tuple[float, float] = (0.7, 0.15)
                ) -> Split:
    order = list(files)
    random.Random(seed).shuffle(order)
    n_train = int(round(len(order) * fractions[0]))
    n_val = int(round(len(order) * fractions[1]))
    if len(order) >= 3:
        n_train = max(1, min(n_train, len(order) - 2))
        n_val = max(1, n_val)
    return Split(order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:])


def load_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        return _read_other(path)  # OSError if it cannot be read at all
    return img[..., ::-1]


def random_resized_crop(img: np.ndarray, size: int, rng: random.Random,
                        scale: tuple[float, float], ratio: tuple[float, float] = (3 / 4, 4 / 3)
                        ) -> np.ndarray:
    h, w = img.shape[:2]
    area = h * w
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            y = rng.randint(0, h - ch)
            x = rng.randint(0, w - cw)
            crop = img[y:y + ch, x:x + cw]
            break
    else:
        side = min(h, w)
        crop = img[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    interp = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def center_resize(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    side = min(h, w)
    crop = img[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def to_tensors(rgb_u8: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    lab = rgb_to_lab(rgb_u8.astype(np.float32) / 255.0)
    light = (lab[..., 0] - L_CENTER) / L_SCALE
    ab = np.clip(lab[..., 1:] / AB_SCALE, -1.0, 1.0)
    return (torch.from_numpy(np.ascontiguousarray(light[None])),
            torch.from_numpy(np.ascontiguousarray(ab.transpose(2, 0, 1))))


class ColorDataset(Dataset):
    """(L, ab) pairs, normalised; augmented when ``train`` is True."""

    def __init__(self, files: list[Path], size: int, train: bool, seed: int = 0,
                 scale: tuple[float, float] = (0.3, 1.0), max_rotation: float = 5.0):
        self.files = list(files)
        self.size = size
        self.train = train
        self.seed = seed
        self.scale = scale
        self.max_rotation = max_rotation
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.files)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rgb = load_rgb(self.files[index])
        if not self.train:
            return to_tensors(center_resize(rgb, self.size))
        rng = random.Random(hash((self.seed, self.epoch, index)))
        if self.max_rotation > 0 and rng.random() < 0.3:
            angle = rng.uniform(-self.max_rotation, self.max_rotation)
            h, w = rgb.shape[:2]
            m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            rgb = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REFLECT_101)
        crop = random_resized_crop(rgb, self.size, rng, self.scale)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        return to_tensors(crop)
