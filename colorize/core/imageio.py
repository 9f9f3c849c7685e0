"""Image reading and atomic writing: orientation, alpha, 16-bit, gray/RGB/palette/CMYK."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from colorize.core import dpx
from colorize.core.errors import ImageReadError, ImageWriteError
from colorize.core.icc import srgb_of
from colorize.core.metadata import Metadata, encode, read_metadata, tiff_page

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".dpx"}
FORMAT_SUFFIX = {"jpg": ".jpg", "jpeg": ".jpg", "png": ".png", "tif": ".tif", "tiff": ".tif",
                 "bmp": ".bmp", "webp": ".webp", "dpx": ".dpx"}
SIXTEEN_BIT_SUFFIXES = {".png", ".tif", ".tiff", ".dpx"}
# formats read but not written, and what is written in their place: JPEG 2000 (common in
# library and archive collections), the PNM family (what scanner software such as SANE's
# scanimage writes; 16-bit PGM included), GIF (old web scans; a colour GIF would have to
# be cut to 256 colours) and AVIF (read by Pillow where its build has libavif) come out as
# PNG, which keeps 16 bits without loss; .jfif is JPEG
READ_ONLY_SUFFIXES = {".jp2": ".png", ".pgm": ".png", ".ppm": ".png", ".pbm": ".png",
                      ".pnm": ".png", ".gif": ".png", ".jfif": ".jpg", ".avif": ".png"}
# HEIC/HEIF (what iPhones save, photos of old prints among them): read through pillow-heif
# where it is installed (the optional extra colorize[heic]), written as JPEG
HEIF_SUFFIXES = {".heic", ".heif"}
HAS_HEIF = importlib.util.find_spec("pillow_heif") is not None
if HAS_HEIF:
    READ_ONLY_SUFFIXES.update(dict.fromkeys(HEIF_SUFFIXES, ".jpg"))
INPUT_SUFFIXES = IMAGE_SUFFIXES | set(READ_ONLY_SUFFIXES)
# read through OpenCV first, which keeps 16-bit colour where Pillow reduces it to 8 bits
_OPENCV_READ = SIXTEEN_BIT_SUFFIXES | {".jp2", ".pgm", ".ppm", ".pnm"}
ALPHA_SUFFIXES = {".png", ".tif", ".tiff", ".webp", ".dpx"}
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
    profile: str | None = None  # the embedded profile the pixels were converted to sRGB from
    note: str | None = None  # how the reader took the codes, where the user should know

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


_PNM = {".pgm", ".ppm", ".pnm"}


def _pnm_maxval(path: Path) -> int | None:
    """The maximum code a binary or plain PGM/PPM header declares (None: not one)."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if head[:2] not in (b"P2", b"P3", b"P5", b"P6"):
        return None
    fields: list[bytes] = []
    for line in head[2:].split(b"\n"):
        fields += line.split(b"#", 1)[0].split()
        if len(fields) >= 3:
            return int(fields[2])
    return None


def _full_range(codes: np.ndarray, path: Path) -> np.ndarray:
    """A PGM/PPM whose maxval is not its type's top (12-bit scanner data declares 4095)
    spread over the full range: OpenCV returns the codes as stored, which would read as a
    far too dark image (Pillow scales them, but to 8 bits for colour)."""
    if path.suffix.lower() not in _PNM:
        return codes
    try:
        maxval = _pnm_maxval(path)
    except (OSError, ValueError):
        return codes
    top = np.iinfo(codes.dtype).max
    if not maxval or maxval == top or maxval > top:
        return codes
    scaled = np.minimum(codes, maxval).astype(np.float32)  # float32: half float64's memory
    scaled *= np.float32(top / maxval)
    return np.rint(scaled, out=scaled).astype(codes.dtype)


def _white_is_zero(path: Path, im: Image.Image, page: int
                   ) -> tuple[np.ndarray, None] | None:
    """A gray TIFF page stored "min-is-white" (photometric 0: code 0 is white), 8 or 16
    bits: its codes, inverted. OpenCV and Pillow invert such 8-bit pages but return 16-bit
    ones as stored, which would read as a negative; tifffile gives the stored codes at
    every depth, so both depths take this one path."""
    tags = getattr(im, "tag_v2", None)
    if tags is None or tags.get(262) != 0 or tags.get(277, 1) != 1:
        return None
    bits = tags.get(258, 1)
    bits = bits[0] if isinstance(bits, tuple) else bits
    if bits not in (8, 16):
        return None  # bilevel (fax) pages: Pillow reads them the right way round
    import tifffile

    codes = tifffile.imread(path, key=page)
    top = np.iinfo(codes.dtype).max
    return (top - codes).astype(codes.dtype, copy=False), None


@functools.cache
def _opencv_orients_tiff() -> bool:
    """Whether OpenCV's TIFF reader turns a page by its Orientation tag itself. OpenCV 5.0
    does, even with IMREAD_UNCHANGED (which leaves a JPEG's EXIF orientation alone), so the
    turn must then not be applied a second time: found once, on a 2x1 TIFF made in memory."""
    import io

    buf = io.BytesIO()
    im = Image.fromarray(np.array([[0, 255]], np.uint8))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(buf, format="TIFF", exif=exif)
    decoded = cv2.imdecode(np.frombuffer(buf.getvalue(), np.uint8), cv2.IMREAD_UNCHANGED)
    return decoded is not None and decoded.shape[:2] == (2, 1)


@functools.cache
def _heif_opener() -> None:
    """Teach Pillow HEIF, once, on the first HEIF file (the import takes ~60 ms)."""
    import pillow_heif

    pillow_heif.register_heif_opener()


def read_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS, page: int = 0) -> Picture:
    """Decode an image file (its ``page``-th page or frame). Raises ImageReadError with a
    one-line reason on any failure."""
    path = Path(path)
    if path.suffix.lower() == ".dpx":
        return _read_dpx(path, max_pixels)
    if HAS_HEIF and path.suffix.lower() in HEIF_SUFFIXES:
        _heif_opener()
    try:
        with Image.open(path) as im:
            if page:
                for key in ("dpi", "resolution", "icc_profile", "xmp", "exif"):
                    im.info.pop(key, None)  # seek() leaves what an earlier page said
                im.seek(page)
            _check_pixels(path, im.width, im.height, max_pixels)
            orientation = int(im.getexif().get(0x0112, 1) or 1)
            turn = orientation  # what is left to do to the decoded pixels
            pages = int(getattr(im, "n_frames", 1) or 1)
            arr = _white_is_zero(path, im, page)
            if arr is None and path.suffix.lower() in _OPENCV_READ:
                # OpenCV keeps 16-bit colour, which Pillow reduces to 8 bits
                if pages > 1:
                    # one page from the file, not the whole book read into memory per page
                    ok, mats = cv2.imreadmulti(str(path), page, 1, flags=cv2.IMREAD_UNCHANGED)
                    decoded = mats[0] if ok and len(mats) == 1 else None
                else:
                    decoded = cv2.imdecode(np.fromfile(path, dtype=np.uint8),
                                           cv2.IMREAD_UNCHANGED)
                if decoded is not None and decoded.dtype in (np.uint8, np.uint16):
                    decoded = _full_range(decoded, path)
                    if turn != 1 and im.format == "TIFF" and _opencv_orients_tiff():
                        turn = 1  # OpenCV has turned the page already
                    color, alpha = _split_channels(decoded, bgr=True)
                    if alpha is None and (im.mode in ("LA", "RGBA", "PA") or (
                            im.mode == "P" and "transparency" in im.info)):
                        # an alpha OpenCV drops (gray + alpha TIFF) or palette
                        # transparency: Pillow reads it
                        decoded = None
                    else:
                        arr = (color, alpha)
            if arr is None:
                im.load()
                color, alpha = _split_channels(_pil_to_array(im), bgr=False)
            else:
                color, alpha = arr
            # a profile that says the codes mean other tones or colours than sRGB's
            srgb, profile = srgb_of(color, im.info.get("icc_profile"))
            meta = read_metadata(im, orientation, keep_profile=srgb is None)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image or unsupported format") from None
    except EOFError:
        raise ImageReadError(path, f"has no page {page + 1}") from None
    except (OSError, ValueError, SyntaxError, cv2.error) as exc:
        raise ImageReadError(path, f"cannot decode ({_short(exc)})") from None
    except MemoryError:
        raise ImageReadError(path, "not enough memory to decode") from None
    if srgb is not None:
        pixels, depth = srgb, 16 if color.dtype == np.uint16 else 8
    else:
        pixels, depth = _to_float(color)
    del color
    if alpha is not None and depth == 16 and alpha.dtype == np.uint8:
        alpha = alpha.astype(np.uint16) * 257
    pixels = _orient(pixels, turn)
    if alpha is not None:
        alpha = _orient(alpha, turn)
    return Picture(pixels=pixels, alpha=alpha, depth=depth, pages=pages, meta=meta,
                   profile=profile)


def _read_dpx(path: Path, max_pixels: int) -> Picture:
    """A DPX film scan, through FFmpeg; its transfer and colorimetric codes ride along in the
    metadata for a DPX output (colorize.core.dpx)."""
    try:
        data = path.read_bytes()
        header = dpx.read_header(data)
        _check_pixels(path, header.width, header.height, max_pixels)
        color, alpha = dpx.decode(data)
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(path, "not enough memory to decode") from None
    except Exception as exc:  # FFmpeg's errors, a short or damaged header
        raise ImageReadError(path, f"cannot decode ({_short(exc)})") from None
    del data
    pixels, depth = _to_float(color)
    return Picture(pixels=pixels, alpha=alpha, depth=depth,
                   meta=Metadata(dpx=header),
                   note=header.note)


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
                   quality: int = 95, meta: Metadata | None = None, threads: int = 1
                   ) -> tuple[bytes, list[str]]:
    """encode_image, keeping what the format can hold of the source's metadata; also returns
    what the source had and the output could not keep (names, for a note). ``threads``
    compress a TIFF (2 halve a large scan's write where nothing else needs the cores)."""
    suffix = suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"cannot write {suffix or 'a file without an extension'}: "
                         f"the output must end in one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    if suffix == ".dpx":  # in RGB order, alpha apart: as FFmpeg's encoder takes them
        codes = output_pixels(rgb, None, depth, suffix, bgr_order=False)
        lost = [k for k, had in (("EXIF", meta and meta.has_exif), ("ICC profile", meta and
                                 meta.icc), ("XMP", meta and meta.xmp),
                                 ("resolution", meta and meta.dpi)) if had]
        return dpx.encode(codes, None if alpha is None else alpha_as(alpha, codes.dtype),
                          like=meta.dpx if meta is not None else None), lost
    bgr = output_pixels(rgb, alpha, depth, suffix)
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, quality]
    return encode(suffix, bgr, params, meta, threads)


def output_pixels(rgb: np.ndarray, alpha: np.ndarray | None, depth: int, suffix: str,
                  bgr_order: bool = True) -> np.ndarray:
    """Float RGB [0, 1] (+ alpha) -> the integer pixels to encode, in OpenCV channel order
    (BGR / BGRA; RGB with ``bgr_order`` False), at the depth the format can hold."""
    if depth == 16 and suffix not in SIXTEEN_BIT_SUFFIXES:
        depth = 8
    if depth == 16:
        out = np.rint(rgb * 65535.0).astype(np.uint16)
        bgr = out[..., ::-1] if bgr_order else out
    else:
        # rgb is in [0, 1]: one OpenCV pass scales, rounds half to even (as np.rint) and
        # saturates, and another swaps the channels: ~3x faster than numpy on a large scan
        out = cv2.convertScaleAbs(np.asarray(rgb, dtype=np.float32), alpha=255.0)
        if bgr_order and out.ndim == 3:
            out = cv2.cvtColor(out, cv2.COLOR_RGB2BGR, dst=out)
        bgr = out
    if alpha is not None and suffix in ALPHA_SUFFIXES:
        bgr = np.dstack([bgr, alpha_as(alpha, out.dtype)])
    return np.ascontiguousarray(bgr)


def alpha_as(alpha: np.ndarray, dtype) -> np.ndarray:
    """An 8- or 16-bit alpha plane at the other depth (or as it is)."""
    if dtype == np.uint16 and alpha.dtype == np.uint8:
        return alpha.astype(np.uint16) * 257
    if dtype == np.uint8 and alpha.dtype == np.uint16:
        return (alpha // 257).astype(np.uint8)
    return alpha.astype(dtype, copy=False)


def publish(tmp: str | Path, path: Path) -> None:
    """Rename a finished temporary file onto its final name with normal file permissions
    (mkstemp creates 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A file opened beside path that becomes path when the block ends (flushed, synced,
    renamed); on any failure it is removed, and an OSError becomes an ImageWriteError."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise ImageWriteError(path, _short(exc), exc.errno) from None
    try:
        with open(tmp, "wb") as fh:  # a named handle: tifffile asks for its name
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        publish(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ImageWriteError(path, _short(exc), exc.errno) from None
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write data to path through a temporary file beside it and a rename."""
    with _atomic_file(path) as fh:
        fh.write(data)


def write_tiff_pages(path: Path, pages: Iterator[tuple[np.ndarray, np.ndarray | None, int,
                                                      Metadata | None]],
                     threads: int = 1) -> list[str]:
    """A multi-page TIFF, one (rgb, alpha, depth, meta) page at a time, written through a
    temporary file beside path and a rename, so only one page is in memory and a failure
    on any page leaves nothing under the final name. Returns what the pages' sources had
    and the file could not keep (names, for a note)."""
    import tifffile

    lost: set[str] = set()
    with _atomic_file(path) as fh, tifffile.TiffWriter(fh) as writer:
        for rgb, alpha, depth, meta in pages:
            pixels = output_pixels(rgb, alpha, depth, Path(path).suffix.lower())
            del rgb
            lost.update(tiff_page(writer, pixels, meta or Metadata(), threads))
    return sorted(lost)


def is_partial(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(".part")
