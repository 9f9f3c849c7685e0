"""Temporal quality of a colorized clip: flow warp error and colour distribution consistency."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from colorize.core.smoothing import warp


def flow_with_mask(cur_gray: np.ndarray, prev_gray: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Flow cur -> prev on ground-truth luma, and a forward-backward non-occlusion mask."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    fwd = dis.calc(cur_gray, prev_gray, None)
    bwd = dis.calc(prev_gray, cur_gray, None)
    back = warp(bwd, fwd)
    err = np.sum((fwd + back) ** 2, axis=-1)
    mag = np.sum(fwd**2, axis=-1) + np.sum(back**2, axis=-1)
    return fwd, err < 0.01 * mag + 0.5


def warp_error(abs_: Sequence[np.ndarray], grays: Sequence[np.ndarray]) -> tuple[float, float]:
    """(mean squared ab change along the flow over non-occluded pixels, that / mean |ab|²)."""
    total, count = 0.0, 0
    for t in range(1, len(abs_)):
        flow, mask = flow_with_mask(grays[t], grays[t - 1])
        warped = warp(abs_[t - 1], flow)
        diff = np.sum((abs_[t] - warped) ** 2, axis=-1)
        total += float(diff[mask].sum())
        count += int(mask.sum())
    raw = total / max(count, 1)
    energy = float(np.mean([np.mean(np.sum(a**2, axis=-1)) for a in abs_]))
    return raw, raw / max(energy, 1e-9)


def _js(p: np.ndarray, q: np.ndarray) -> float:
    p = p / max(p.sum(), 1e-12)
    q = q / max(q.sum(), 1e-12)
    m = 0.5 * (p + q)

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / b[nz])))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def cdc(frames_rgb: Sequence[np.ndarray], distances: Sequence[int] = (1, 2, 4)) -> float:
    """Colour distribution consistency: JS divergence of per-channel 256-bin histograms
    between frames t and t+d, averaged over channels, frames and d."""
    hists = [[np.bincount(f[..., c].ravel(), minlength=256).astype(np.float64)
              for c in range(3)] for f in frames_rgb]
    values = []
    for d in distances:
        per_d = [np.mean([_js(hists[t][c], hists[t + d][c]) for c in range(3)])
                 for t in range(len(hists) - d)]
        if per_d:
            values.append(float(np.mean(per_d)))
    return float(np.mean(values)) if values else 0.0
