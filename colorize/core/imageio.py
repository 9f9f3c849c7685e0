"""Image reading and atomic writing: orientation, alpha, 16-bit, gray/RGB/palette/CMYK."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from colorize.core.errors import ImageReadError, ImageWriteError
from colorize.core.metadata import Metadata, encode, read_metadata

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
FORMAT_SUFFIX = {"jpg": ".jpg", "jpeg": ".jpg", "png": ".png", "tif": ".tif", "tiff": ".tif",
                 "bmp": ".bmp", "webp": ".webp"}
SIXTEEN_BIT_SUFFIXES = {".png", ".tif", ".tiff"}
# formats read but not written, and what is written in their place: JPEG 2000 (common in
# library and archive collections) comes out as PNG, which keeps 16 bits without loss
READ_ONLY_SUFFIXES = {".jp2": ".png"}
INPUT_SUFFIXES = IMAGE_SUFFIXES | set(READ_ONLY_SUFFIXES)
# read through OpenCV first, which keeps 16-bit colour where Pillow reduces it to 8 bits
_OPENCV_READ = SIXTEEN_BIT_SUFFIXES | {".jp2"}
ALPHA_SUFFIXES = {".png", ".tif", ".tiff", ".webp"}
DEFAULT_MAX_PIXELS = 200_000_000

# Pillow's own bomb guard is replaced by our limit, which is checked before decoding.
Image.MAX_IMAGE_PIXELS = None


@dataclass
class Picture:
    """A decoded image: luminance-ready pixels plus what the output must keep."""

    pixels: np.ndarray  # float32 in [0, 1]: (H, W) gray or (H, W, 3) RGB
    alpha: np.ndarray | None  # (H, W) in the source dtype, or None
    depth: int  # 8 or 16
    pages: int = 1  # pages (frames) in the file; only the first is decoded
    meta: Metadata | None = None  # resolution, descriptive EXIF, RGB colour profile

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an (H, W[, C]) array."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(arr)) if op else arr


def _check_pixels(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageReadError(path, "image has no pixels")
    if max_pixels and width * height > max_pixels:
        raise ImageReadError(
            path, f"{width}x{height} = {width * height / 1e6:.0f} MP exceeds the pixel limit "
                  f"of {max_pixels / 1e6:.0f} MP (--max-pixels)")


def _split_channels(arr: np.ndarray, bgr: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W[, C]) -> (gray or RGB, alpha or None), channel order fixed to RGB."""
    if arr.ndim == 2:
        return arr, None
    channels = arr.shape[2]
    if channels == 1:
        return arr[..., 0], None
    if channels == 2:
        return arr[..., 0], arr[..., 1]
    color = arr[..., :3][..., ::-1] if bgr else arr[..., :3]
    alpha = arr[..., 3] if channels == 4 else None
    return color, alpha


def _to_float(arr: np.ndarray) -> tuple[np.ndarray, int]:
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0, 16
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0, 8
    if arr.dtype == bool:
        return arr.astype(np.float32), 8
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(arr.astype(np.float32), 0, 1), 8
    return np.clip(arr.astype(np.float32) / 65535.0, 0, 1), 16


def _pil_to_array(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im).astype(np.uint16)
    if mode == "I":
        return np.clip(np.asarray(im), 0, 65535).astype(np.uint16)
    if mode == "F":
        return np.asarray(im, dtype=np.float32)
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    elif mode == "1":
        im = im.convert("L")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        im = im.convert("RGBA" if "A" in mode else "RGB")
    return np.asarray(im)


def read_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Decode an image file. Raises ImageReadError with a one-line reason on any failure."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            _check_pixels(path, im.width, im.height, max_pixels)
            orientation = int(im.getexif().get(0x0112, 1) or 1)
            meta = read_metadata(im, orientation)
            pages = int(getattr(im, "n_frames", 1) or 1)
            arr = None
            if path.suffix.lower() in _OPENCV_READ:
                # OpenCV keeps 16-bit colour, which Pillow reduces to 8 bits
                data = np.fromfile(path, dtype=np.uint8)
                decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
                if decoded is not None and decoded.dtype in (np.uint8, np.uint16):
                    color, alpha = _split_channels(decoded, bgr=True)
                    if im.mode == "P" and alpha is None and "transparency" in im.info:
                        decoded = None  # palette transparency: let Pillow expand it
                    else:
                        arr = (color, alpha)
            if arr is None:
                im.load()
                color, alpha = _split_channels(_pil_to_array(im), bgr=False)
            else:
                color, alpha = arr
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image or unsupported format") from None
    except (OSError, ValueError, SyntaxError, cv2.error) as exc:
        raise ImageReadError(path, f"cannot decode ({_short(exc)})") from None
    except MemoryError:
        raise ImageReadError(path, "not enough memory to decode") from None
    pixels, depth = _to_float(color)
    if alpha is not None and depth == 16 and alpha.dtype == np.uint8:
        alpha = alpha.astype(np.uint16) * 257
    pixels = _orient(pixels, orientation)
    if alpha is not None:
        alpha = _orient(alpha, orientation)
    return Picture(pixels=pixels, alpha=alpha, depth=depth, pages=pages, meta=meta)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return text[:160]


def output_path(src: Path, dst: Path, fmt: str | None) -> Path:
    return dst.with_suffix(FORMAT_SUFFIX[fmt]) if fmt else dst


def written_as(path: Path) -> Path:
    """The output name for an input name when no format is asked for: the same, except for
    formats that are read but not written (.jp2 -> .png)."""
    return path.with_suffix(READ_ONLY_SUFFIXES.get(path.suffix.lower(), path.suffix))


def encode_image(rgb: np.ndarray, alpha: np.ndarray | None, depth: int, suffix: str,
                 quality: int = 95) -> bytes:
    """Encode float RGB [0, 1] (+ alpha) at the given bit depth into the suffix's format."""
    return encode_picture(rgb, alpha, depth, suffix, quality)[0]


def encode_picture(rgb: np.ndarray, alpha: np.ndarray | None, depth: int, suffix: str,
                   quality: int = 95, meta: Metadata | None = None) -> tuple[bytes, list[str]]:
    """encode_image, keeping what the format can hold of the source's metadata; also returns
    what the source had and the output could not keep (names, for a note)."""
    suffix = suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"cannot write {suffix or 'a file without an extension'}: "
                         f"the output must end in one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    if depth == 16 and suffix not in SIXTEEN_BIT_SUFFIXES:
        depth = 8
    if depth == 16:
        out = np.rint(rgb * 65535.0).astype(np.uint16)
        bgr = out[..., ::-1]
    else:
        # rgb is in [0, 1]: one OpenCV pass scales, rounds half to even (as np.rint) and
        # saturates, and another swaps the channels: ~3x faster than numpy on a large scan
        out = cv2.convertScaleAbs(np.asarray(rgb, dtype=np.float32), alpha=255.0)
        bgr = cv2.cvtColor(out, cv2.COLOR_RGB2BGR, dst=out) if out.ndim == 3 else out
    if alpha is not None and suffix in ALPHA_SUFFIXES:
        a = alpha
        if depth == 16 and a.dtype == np.uint8:
            a = a.astype(np.uint16) * 257
        elif depth == 8 and a.dtype == np.uint16:
            a = (a // 257).astype(np.uint8)
        bgr = np.dstack([bgr, a.astype(out.dtype)])
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, quality]
    return encode(suffix, np.ascontiguousarray(bgr), params, meta)


def publish(tmp: str | Path, path: Path) -> None:
    """Rename a finished temporary file onto its final name with normal file permissions
    (mkstemp creates 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def write_atomic(path: Path, data: bytes) -> None:
    """Write data to path through a temporary file beside it and a rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise ImageWriteError(path, _short(exc)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        publish(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ImageWriteError(path, _short(exc)) from None
        raise


def is_partial(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(".part")
