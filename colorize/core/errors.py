"""Errors the inference library raises; the CLI turns each into one line."""

from __future__ import annotations

import errno
from pathlib import Path


class ColorizeError(Exception):
    """Base class: the message is a complete one-line explanation."""


class ImageReadError(ColorizeError):
    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# write errors that every later output would meet too: a batch stops at the first
FATAL_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


class ImageWriteError(ColorizeError):
    def __init__(self, path: Path, reason: str, code: int | None = None):
        super().__init__(f"{path}: cannot write ({reason})")
        self.path = path
        self.reason = reason
        self.fatal = code in FATAL_WRITE_ERRNOS  # disk full, quota, read-only file system


class ModelError(ColorizeError):
    """A model file that cannot be used (missing, malformed, bad metadata)."""


class ProviderError(ColorizeError):
    """A requested execution provider that ONNX Runtime does not have."""


class VideoError(ColorizeError):
    """A video that cannot be read, colorized or written."""
