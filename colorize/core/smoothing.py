"""Temporal smoothing of predicted chroma so video colours do not flicker.

All work happens at the model's working size: optical flow on the low-resolution luma,
warping of the previous smoothed ab, and a per-pixel confidence from forward-backward
consistency so that moving and disoccluded regions take the new prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MODES = ("none", "ema", "flow")


def luma_u8(light: np.ndarray) -> np.ndarray:
    """CIELAB L (0-100) -> uint8 for OpenCV's optical flow."""
    return np.clip(light * 2.55, 0, 255).astype(np.uint8)


def is_scene_cut(prev: np.ndarray | None, cur: np.ndarray, threshold: float) -> bool:
    """A hard cut: mean |Δ| of 32x32 luma thumbnails (0-1 scale) above threshold."""
    if prev is None or threshold <= 0:
        return prev is None
    a = cv2.resize(prev, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    b = cv2.resize(cur, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    return float(np.abs(a - b).mean()) / 255.0 > threshold


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample image at x + flow(x): brings the previous frame onto the current one."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


class FlowEstimator:
    """OpenCV DIS optical flow plus a forward-backward consistency confidence."""

    def __init__(self, sigma: float = 1.0):
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.sigma = sigma

    def flow(self, cur: np.ndarray, prev: np.ndarray) -> np.ndarray:
        return self.dis.calc(cur, prev, None)

    def flow_and_confidence(self, cur: np.ndarray, prev: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray]:
        fwd = self.flow(cur, prev)  # cur -> prev
        bwd = self.flow(prev, cur)  # prev -> cur
        back = warp(bwd, fwd)
        err = np.sum((fwd + back) ** 2, axis=-1)
        mag = np.sum(fwd**2, axis=-1) + np.sum(back**2, axis=-1)
        conf = np.exp(-err / (self.sigma**2 + 0.01 * mag))
        return fwd, conf.astype(np.float32)


@dataclass
class SmootherConfig:
    mode: str = "flow"
    strength: float = 0.8
    cut_threshold: float = 0.15


class Smoother:
    """Stateful ab smoother fed frame by frame at working size; reset at scene cuts."""

    def __init__(self, config: SmootherConfig):
        if config.mode not in MODES:
            raise ValueError(f"unknown smoothing {config.mode!r}; choose {', '.join(MODES)}")
        if not 0 <= config.strength < 1:
            raise ValueError("smoothing strength must be in [0, 1)")
        self.cfg = config
        self.flow = FlowEstimator() if config.mode == "flow" else None
        self.prev_luma: np.ndarray | None = None
        self.prev_ab: np.ndarray | None = None
        self.cuts = 0

    def reset(self) -> None:
        self.prev_luma = None
        self.prev_ab = None

    def __call__(self, light: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """light (h, w) CIELAB L, ab (h, w, 2) -> smoothed ab (h, w, 2)."""
        luma = luma_u8(light)
        if self.prev_luma is not None and is_scene_cut(self.prev_luma, luma,
                                                       self.cfg.cut_threshold):
            self.cuts += 1
            self.reset()
        alpha = self.cfg.strength
        if self.cfg.mode == "none" or self.prev_ab is None or alpha == 0:
            out = ab
        elif self.cfg.mode == "ema":
            out = alpha * self.prev_ab + (1 - alpha) * ab
        else:
            flow, conf = self.flow.flow_and_confidence(luma, self.prev_luma)
            warped = warp(self.prev_ab, flow)
            weight = (alpha * conf)[..., None]
            out = weight * warped + (1 - weight) * ab
        self.prev_luma = luma
        self.prev_ab = out.astype(np.float32)
        return self.prev_ab
