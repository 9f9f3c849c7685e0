"""Tune the decoding of a bins + regression model (mix weight, annealing temperature,
confidence power, chroma knee and gain).

The network runs once per validation photo; each (mix, T) pair is then decoded and scored
at full resolution with the same merge as inference. The chosen pair is the most accurate
(lowest ΔE76) among those whose colorfulness reaches ``min_colorfulness`` x the truth's;
if none does, the most colourful one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from colorize.core.color import L_CENTER, L_SCALE
from colorize.core.imageio import read_image
from colorize.core.metrics import colorfulness, delta_e76, lab_of
from colorize.core.pipeline import luminance_of, merge, resize_plane
from colorize.training.models.base import ColorModel


@dataclass
class Candidate:
    mix: float
    temperature: float
    conf_power: float
    psnr: float
    de76: float
    colorfulness_ratio: float
    gain: float = 1.0
    knee: float = 0.0


def set_decoding(model: ColorModel, mix: float, temperature: float, conf_power: float,
                 gain: float = 1.0, knee: float = 0.0) -> None:
    """Put a decoding into a bins + regression model: what its forward pass and export use."""
    model.mix.fill_(mix)
    model.temperature.fill_(temperature)
    model.conf_power = float(conf_power)
    model.gain = float(gain)
    model.knee = float(knee)


def with_decoding(ckpt: dict, mix: float, temperature: float, conf_power: float,
                  gain: float = 1.0, knee: float = 0.0, **extra) -> dict:
    """The checkpoint with a decoding recorded: ``conf_power``, ``gain`` and ``knee`` in the
    model args (they are constructor arguments) and the five values, plus ``extra``, under
    ``decoding``."""
    return {**ckpt, "model_args": {**ckpt["model_args"], "conf_power": conf_power,
                                   "gain": gain, "knee": knee},
            "decoding": {"mix": mix, "temperature": temperature, "conf_power": conf_power,
                         "gain": gain, "knee": knee, **extra}}


def _working(light: np.ndarray, size: int, multiple: int = 32) -> np.ndarray:
    h, w = light.shape
    scale = size / max(h, w)
    wh = max(multiple, int(round(h * scale / multiple)) * multiple)
    ww = max(multiple, int(round(w * scale / multiple)) * multiple)
    return resize_plane(light, ww, wh)


@torch.no_grad()
def tune_decoding(model: ColorModel, files: Sequence[Path], size: int = 256,
                  mixes: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
                  temperatures: Sequence[float] = (0.2, 0.3, 0.38, 0.5),
                  powers: Sequence[float] = (0.0, 0.5, 1.0),
                  min_colorfulness: float = 0.8, gains: bool = True,
                  knees: Sequence[float] = (0.0,)) -> tuple[Candidate, list[Candidate]]:
    """Score every (mix, T, power, knee) at full resolution; with ``gains``, each one also at
    the chroma gain (on a 0.01 grid, rounded up) that brings it to ``min_colorfulness``,
    since colourfulness scales about linearly with the gain. The answer: the lowest ΔE76
    among those colourful enough (else the most colourful)."""
    model.eval()
    cached = []
    for path in files:
        pic = read_image(path)
        if pic.pixels.ndim == 2:
            continue
        truth = np.rint(pic.pixels * 255).astype(np.uint8)
        light = luminance_of(pic)
        small = _working(light, size)
        x = torch.from_numpy((small - L_CENTER) / L_SCALE)[None, None].float()
        cached.append((light, small.shape, model(x), truth))
    truth_cf = float(np.mean([colorfulness(t) for *_, t in cached]))
    results = []
    old = (model.mix.clone(), model.temperature.clone(), model.conf_power, model.gain,
           model.knee)

    def score(decoded: list[np.ndarray], gain: float) -> Candidate:
        # a gain on the graph's ab before its (linear) upsampling is this saturation in merge
        mse, de, cf = [], [], []
        for (light, _, _, truth), ab in zip(cached, decoded, strict=True):
            rgb = np.rint(merge(light, ab, gain) * 255).astype(np.uint8)
            mse.append(np.mean((rgb.astype(np.float64) - truth) ** 2))
            de.append(delta_e76(lab_of(rgb), lab_of(truth)).mean())
            cf.append(colorfulness(rgb))
        return Candidate(mix, temp, power, float(10 * np.log10(255**2 / np.mean(mse))),
                         float(np.mean(de)), float(np.mean(cf)) / truth_cf, gain, knee)

    for mix, temp, power, knee in itertools.product(mixes, temperatures, powers, knees):
        if mix == 0 and (temp != temperatures[0] or power != powers[0]):
            continue  # neither matters without the bins
        set_decoding(model, mix, temp, power, knee=knee)
        decoded = [F.interpolate(model.decode(out), size=shape, mode="bilinear",
                                 align_corners=False)[0].permute(1, 2, 0).numpy()
                   for _, shape, out, _ in cached]
        plain = score(decoded, 1.0)
        results.append(plain)
        if not gains or plain.colorfulness_ratio <= 0:
            continue
        gain = math.ceil(round(min_colorfulness / plain.colorfulness_ratio * 100, 6)) / 100
        for _ in range(3):  # gamut fitting can make it a little less than linear
            if gain == 1.0:
                break
            scaled = score(decoded, gain)
            results.append(scaled)
            if scaled.colorfulness_ratio >= min_colorfulness:
                break
            gain = round(gain + 0.01, 2)
    model.mix.copy_(old[0])
    model.temperature.copy_(old[1])
    model.conf_power, model.gain, model.knee = old[2], old[3], old[4]
    vivid = [c for c in results if c.colorfulness_ratio >= min_colorfulness]
    best = (min(vivid, key=lambda c: c.de76) if vivid
            else max(results, key=lambda c: c.colorfulness_ratio))
    return best, results
