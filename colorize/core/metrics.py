"""Colour-quality metrics on 8-bit RGB (no torch): PSNR, SSIM, ΔE76, CIEDE2000, colorfulness."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from colorize.core.color import rgb_to_lab


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of two uint8 RGB images, peak 255 (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM with a Gaussian window (σ = 1.5), data range 255, as in Wang et al. 2004."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=-1, data_range=255,
                                       gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def lab_of(rgb8: np.ndarray) -> np.ndarray:
    return rgb_to_lab(rgb8.astype(np.float32) / 255.0)


def delta_e76(lab_a: np.ndarray, lab_b: np.ndarray) -> np.ndarray:
    """Per-pixel CIE76 colour difference."""
    return np.sqrt(((lab_a.astype(np.float64) - lab_b.astype(np.float64)) ** 2).sum(-1))


def delta_e2000(lab_a: np.ndarray, lab_b: np.ndarray) -> np.ndarray:
    from skimage.color import deltaE_ciede2000

    return deltaE_ciede2000(lab_a.astype(np.float64), lab_b.astype(np.float64))


def colorfulness(rgb8: np.ndarray) -> float:
    """Hasler & Süsstrunk 2003: σ_rgyb + 0.3·μ_rgyb with rg = R−G, yb = ½(R+G)−B."""
    rgb = rgb8.astype(np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    return float(np.sqrt(rg.var() + yb.var()) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))


@dataclass
class Scores:
    """Per-image scores of one method against the truth."""

    ab_mse: float
    ab_mae: float
    mse_rgb: float
    psnr: float
    ssim: float
    de76: float
    de2000: float
    colorfulness: float
    truth_colorfulness: float


def score(output: np.ndarray, truth: np.ndarray, with_ssim: bool = True,
          with_de2000: bool = True) -> Scores:
    lab_o, lab_t = lab_of(output), lab_of(truth)
    dab = lab_o[..., 1:].astype(np.float64) - lab_t[..., 1:]
    return Scores(
        ab_mse=float((dab**2).mean()), ab_mae=float(np.abs(dab).mean()),
        mse_rgb=float(np.mean((output.astype(np.float64) - truth) ** 2)),
        psnr=psnr(output, truth),
        ssim=ssim(output, truth) if with_ssim else float("nan"),
        de76=float(delta_e76(lab_o, lab_t).mean()),
        de2000=float(delta_e2000(lab_o, lab_t).mean()) if with_de2000 else float("nan"),
        colorfulness=colorfulness(output), truth_colorfulness=colorfulness(truth),
    )


@dataclass
class Pooled:
    """Scores pooled over images: PSNR from the pooled MSE, the rest pixel-weighted means."""

    scores: list[tuple[int, Scores]] = field(default_factory=list)

    def add(self, pixels: int, s: Scores) -> None:
        self.scores.append((pixels, s))

    def summary(self) -> dict[str, float]:
        if not self.scores:
            return {}
        w = np.array([p for p, _ in self.scores], np.float64)
        w /= w.sum()

        def avg(key: str) -> float:
            pairs = zip(w, self.scores, strict=True)
            return float(sum(wi * getattr(s, key) for wi, (_, s) in pairs))

        mse = avg("mse_rgb")
        out = {k: avg(k) for k in ("ab_mse", "ab_mae", "ssim", "de76", "de2000")}
        out["psnr"] = float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))
        out["psnr_mean"] = float(np.mean([s.psnr for _, s in self.scores]))
        out["colorfulness"] = float(np.mean([s.colorfulness for _, s in self.scores]))
        out["truth_colorfulness"] = float(np.mean([s.truth_colorfulness
                                                   for _, s in self.scores]))
        out["colorfulness_ratio"] = out["colorfulness"] / max(out["truth_colorfulness"], 1e-9)
        out["images"] = len(self.scores)
        return out
