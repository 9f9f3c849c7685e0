"""Test-time augmentation: average the model's colour over a mirrored input (and two more
working sizes), for a lower colour error at 2x (flip) or about 6x (full) the model time.

Averaging predictions that disagree in hue shortens the mean ab vector, which would mute the
colour; each averaged image is therefore scaled back to the mean chroma of its passes, so no
tuned constant is needed (on the 150 tuning photos the bundled `lite` keeps 0.81x the truth's
colourfulness: off 0.813x, flip 0.805x, full 0.809x).
"""

from __future__ import annotations

import numpy as np

from colorize.core.pipeline import resize_plane

TTA_MODES = ("off", "flip", "full")
# working-size factors of the `full` mode, each run as is and mirrored
FULL_SCALES = (0.875, 1.0, 1.125)


def check_mode(mode: str) -> str:
    mode = mode.lower()
    if mode not in TTA_MODES:
        raise ValueError(f"--tta must be one of {', '.join(TTA_MODES)}, not {mode!r}")
    return mode


def augment(colorizer, mode: str):
    """The colorizer itself for ``off``, otherwise an Augmented wrapper around it."""
    mode = check_mode(mode)
    return colorizer if mode == "off" else Augmented(colorizer, mode)


def _chroma(ab: np.ndarray) -> np.ndarray:
    """Mean ab vector length per image of (N, 2, H, W) -> (N,)."""
    return np.hypot(ab[:, 0], ab[:, 1]).mean(axis=(1, 2))


def _resize_ab(ab: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 2, h, w) -> (N, 2, height, width), bilinear."""
    return np.stack([resize_plane(np.ascontiguousarray(a.transpose(1, 2, 0)), width, height)
                     .transpose(2, 0, 1) for a in ab])


class Augmented:
    """Quacks like the Colorizer it wraps; predict() averages over the augmented passes."""

    def __init__(self, colorizer, mode: str):
        self.colorizer = colorizer
        self.mode = check_mode(mode)
        self.scales = FULL_SCALES if self.mode == "full" else (1.0,)

    def __getattr__(self, name):
        return getattr(self.colorizer, name)

    @property
    def passes(self) -> int:
        return 2 * len(self.scales)

    def _mirrored_pair(self, light: np.ndarray, z) -> list[np.ndarray]:
        flipped = np.ascontiguousarray(light[..., ::-1])
        return [self.colorizer.predict(light, z),
                np.ascontiguousarray(self.colorizer.predict(flipped, z)[..., ::-1])]

    def predict(self, light: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        """L (N, 1, H, W) -> ab (N, 2, H, W), the chroma-kept mean over the passes."""
        height, width = light.shape[2:]
        outs = []
        for factor in self.scales:
            if factor == 1.0:
                outs += self._mirrored_pair(light, z)
                continue
            h, w = self.colorizer.working_shape(height, width,
                                                int(round(max(height, width) * factor)))
            scaled = np.stack([resize_plane(plane[0], w, h) for plane in light])[:, None]
            outs += [_resize_ab(ab, width, height) for ab in self._mirrored_pair(scaled, z)]
        mean = np.mean(outs, axis=0)
        wanted = np.mean([_chroma(ab) for ab in outs], axis=0)
        gain = wanted / np.maximum(_chroma(mean), 1e-6)
        return (mean * gain[:, None, None, None]).astype(np.float32, copy=False)
