"""Quantised ab space of Zhang et al. 2016: in-gamut bins, soft encoding, rebalancing, decoding."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

GRID = 10.0
AB_RANGE = 110.0


def _lab_to_linear_rgb(lab: np.ndarray) -> np.ndarray:
    """Unclipped Lab (D65) -> linear sRGB, to test gamut membership."""
    light, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (light + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0

    def finv(t: np.ndarray) -> np.ndarray:
        return np.where(t > 6.0 / 29.0, t**3, 3 * (6.0 / 29.0) ** 2 * (t - 4.0 / 29.0))

    xyz = np.stack([0.95047 * finv(fx), finv(fy), 1.08883 * finv(fz)], axis=-1)
    m = np.array([[3.2404542, -1.5371385, -0.4985314],
                  [-0.9692660, 1.8760108, 0.0415560],
                  [0.0556434, -0.2040259, 1.0572252]])
    return xyz @ m.T


def in_gamut_bins(grid: float = GRID) -> np.ndarray:
    """Centres (Q, 2) of the ab grid cells that hold an sRGB colour for some lightness.

    A cell counts when any of 5x5 sample points inside it is in gamut at some L, which is
    how the paper arrives at Q = 313 for a grid of 10.
    """
    centres = np.arange(-AB_RANGE, AB_RANGE + 1e-6, grid)
    aa, bb = np.meshgrid(centres, centres, indexing="ij")
    ab = np.stack([aa.ravel(), bb.ravel()], axis=-1)
    offs = np.linspace(-grid / 2, grid / 2, 5)
    oa, ob = np.meshgrid(offs, offs, indexing="ij")
    offsets = np.stack([oa.ravel(), ob.ravel()], axis=-1)
    lights = np.linspace(0.5, 99.5, 100)
    ok = np.zeros(len(ab), dtype=bool)
    for off in offsets:
        pts = ab + off
        lab = np.concatenate(
            [np.repeat(lights[None, :, None], len(ab), 0),
             np.repeat(pts[:, None, :], len(lights), 1)], axis=-1)
        rgb = _lab_to_linear_rgb(lab)
        ok |= np.all((rgb >= -1e-6) & (rgb <= 1 + 1e-6), axis=-1).any(axis=1)
    return ab[ok].astype(np.float32)


def soft_encode(ab: torch.Tensor, centres: torch.Tensor, k: int = 5, sigma: float = 5.0
                ) -> torch.Tensor:
    """ab (N, 2, H, W) in CIELAB units -> soft targets (N, Q, H, W) over the k nearest bins."""
    n, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    d2 = torch.cdist(flat, centres).pow(2)
    dist, idx = d2.topk(k, dim=1, largest=False)
    wts = torch.exp(-dist / (2 * sigma**2))
    wts = wts / wts.sum(dim=1, keepdim=True)
    out = torch.zeros(flat.shape[0], centres.shape[0], dtype=ab.dtype, device=ab.device)
    out.scatter_(1, idx, wts)
    return out.reshape(n, h, w, -1).permute(0, 3, 1, 2)


def smooth_prior(counts: np.ndarray, centres: np.ndarray, sigma: float = 5.0) -> np.ndarray:
    """Empirical bin probabilities smoothed by a Gaussian over ab distance."""
    p = counts / max(counts.sum(), 1e-12)
    d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2 * sigma**2))
    kernel /= kernel.sum(axis=1, keepdims=True)
    sm = kernel.T @ p
    return sm / sm.sum()


def rebalance_weights(prior: np.ndarray, lam: float = 0.5) -> np.ndarray:
    """w ∝ ((1 − λ)·p + λ/Q)^−1, normalised so that E_p[w] = 1."""
    q = len(prior)
    w = 1.0 / ((1 - lam) * prior + lam / q)
    return (w / (prior * w).sum()).astype(np.float32)


def annealed_mean(logits: torch.Tensor, centres: torch.Tensor, temperature: float
                  ) -> torch.Tensor:
    """logits (N, Q, H, W) -> ab (N, 2, H, W): mean of softmax(log p / T) over the bin centres.

    softmax(log_softmax(x) / T) is softmax(x / T): the per-pixel log-normaliser cancels. The
    bins go last before the softmax and the expectation is a MatMul: in ONNX Runtime a
    softmax over the channel axis of NCHW transposes internally and cost 70 % of the lite
    model's time; over the last axis it is a contiguous row.
    """
    probs = F.softmax(logits.permute(0, 2, 3, 1) / temperature, dim=-1)
    return torch.matmul(probs, centres.to(probs.dtype)).permute(0, 3, 1, 2)


def rebalanced_cross_entropy(logits: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor,
                             class_weights: torch.Tensor) -> torch.Tensor:
    """Soft-encoded cross-entropy, each pixel weighted by its nearest bin's rebalancing weight.

    ab (N, 2, h, w) is in CIELAB units at the logits' resolution.
    """
    soft = soft_encode(ab.float(), centres)
    logp = F.log_softmax(logits.float(), dim=1)
    pix_w = class_weights[soft.argmax(dim=1)]
    return (-(soft * logp).sum(dim=1) * pix_w).mean()


def ab_prior(files, centres: np.ndarray, limit: int = 3000, size: int = 64) -> np.ndarray:
    """Smoothed empirical distribution of ab bins over (a sample of) the training photos."""
    from colorize.core.color import AB_SCALE
    from colorize.training.data import center_resize, load_rgb, to_tensors

    step = max(1, len(files) // limit)
    counts = np.zeros(centres.shape[0], dtype=np.float64)
    for path in list(files)[::step]:
        try:
            _, ab = to_tensors(center_resize(load_rgb(path), size))
        except OSError:
            continue
        flat = ab.permute(1, 2, 0).reshape(-1, 2).numpy() * AB_SCALE
        idx = ((flat[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        counts += np.bincount(idx, minlength=len(centres))
    return smooth_prior(counts, centres)
