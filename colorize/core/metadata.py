"""What an output image keeps of its source's metadata: resolution (DPI), the descriptive
EXIF (caption, author, copyright, dates, GPS), the XMP packet and an RGB colour profile.

Scans carry their scanning resolution, and archive photos their captions and dates; a
colorized copy that drops them prints at the wrong size and loses its description. The
resolution goes wherever the format keeps it (JFIF and EXIF, pHYs, TIFF tags, the BMP info
header, WebP's EXIF). Not kept: the EXIF thumbnail (it shows the gray original), maker notes
(their offsets break when moved), the orientation (the pixels are turned upright on reading)
and a gray ICC profile (it cannot describe an RGB image; the output is then untagged, which
viewers take as sRGB).

Text tags are carried as the bytes the source holds: Pillow decodes EXIF text as Latin-1
and would write anything beyond ASCII back as "?", which turned a UTF-8 "Köln" into "K??ln".
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from colorize.core.dpx import DpxHeader

# IFD0 tags that describe the picture rather than the file's layout (a TIFF's IFD0 also
# holds its strips, sizes and compression, which must not travel into another file)
_DESCRIPTIVE = (
    0x010E,  # ImageDescription
    0x010F,  # Make
    0x0110,  # Model
    0x0131,  # Software
    0x0132,  # DateTime
    0x013B,  # Artist
    0x8298,  # Copyright
)
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
# Exif sub-IFD tags left out: maker note, interoperability pointer, pixel dimensions (the
# pixels may have been turned), and the sub-IFD's own offsets
_EXIF_DROP = {0x927C, 0xA005, 0xA002, 0xA003}
# Exif sub-IFD tags that say nothing about the picture (versions, colour space, component
# order): not worth a note where a format cannot keep the sub-IFD
_EXIF_BOILERPLATE = {0x9000, 0xA000, 0xA001, 0x9101}
_X_RES, _Y_RES, _RES_UNIT = 0x011A, 0x011B, 0x0128
_COLOR_SPACE = 0xA001  # Exif ColorSpace: 1 = sRGB, 0xFFFF = uncalibrated
_TURNED = {5, 6, 7, 8}  # EXIF orientations that swap width and height

# formats whose OpenCV encoder writes EXIF and ICC chunks (cv2.imencodeWithMetadata, in
# recent OpenCV, 5.0 here). Without it the loss is named in a note. TIFF goes through
# tifffile, which writes the tags as TIFF tags (OpenCV's TIFF writer takes only the DPI)
_OPENCV_METADATA = {".jpg", ".jpeg", ".png", ".webp"}
_HAS_METADATA = hasattr(cv2, "imencodeWithMetadata")
_TIFF = {".tif", ".tiff"}


@dataclass(frozen=True)
class Metadata:
    dpi: tuple[float, float] | None = None
    # descriptive EXIF, text as raw bytes: IFD0's tags, the Exif sub-IFD's, the GPS IFD's
    ifd0: dict[int, object] = field(default_factory=dict)
    exif_ifd: dict[int, object] = field(default_factory=dict)
    gps_ifd: dict[int, object] = field(default_factory=dict)
    icc: bytes | None = None  # an RGB ICC profile
    xmp: bytes | None = None  # the XMP packet (where DAM software keeps captions, keywords)
    dpx: DpxHeader | None = None  # a DPX source's header: what a DPX output keeps of it

    @property
    def has_exif(self) -> bool:
        return bool(self.ifd0 or self.exif_ifd or self.gps_ifd)

    def __bool__(self) -> bool:
        return bool(self.dpi or self.has_exif or self.icc or self.xmp)


def read_metadata(im: Image.Image, orientation: int = 1, keep_profile: bool = True
                  ) -> Metadata:
    """What of an open Pillow image's metadata an output should keep. ``keep_profile``
    False: the pixels were converted out of the profile's space (colorize.core.icc)."""
    dpi = _dpi(im)
    if dpi and orientation in _TURNED:
        dpi = (dpi[1], dpi[0])
    icc = im.info.get("icc_profile") or None
    if icc is not None and (icc[16:20] != b"RGB " or not keep_profile):
        icc = None
    try:
        src = im.getexif()
        ifd0 = {t: _raw(src[t]) for t in _DESCRIPTIVE if src.get(t) not in (None, "", b"")}
        exif_ifd = {t: _raw(v) for t, v in src.get_ifd(_EXIF_IFD).items()
                    if t not in _EXIF_DROP}
        gps_ifd = {t: _raw(v) for t, v in src.get_ifd(_GPS_IFD).items()}
    except Exception:  # malformed EXIF is common in the wild: keep the image, not the tags
        ifd0, exif_ifd, gps_ifd = {}, {}, {}
    if _COLOR_SPACE in exif_ifd:
        # the output's pixels are sRGB (read through the source's profile where that was
        # another one): an "uncalibrated" (0xFFFF, what Adobe RGB cameras write) is not true
        exif_ifd[_COLOR_SPACE] = 1
    return Metadata(dpi=dpi, ifd0=ifd0, exif_ifd=exif_ifd, gps_ifd=gps_ifd, icc=icc,
                    xmp=_read_xmp(im, keeps_profile=icc is not None))


def _xmp_property(name: bytes) -> re.Pattern[bytes]:
    """A simple XMP property in either form: name="v" or <name>v</name>."""
    n = re.escape(name)
    return re.compile(rb'(\s' + n + rb'=")[^"]*(")|(<' + n + rb'>)[^<]*(</' + n + rb'>)')


# what the XMP says of the pixels that the output changed: they are upright (orientation 1)
# and RGB (Photoshop's colour mode 3, TIFF's photometric 2, three samples)
_XMP_NOW = [(_xmp_property(name), value) for name, value in (
    (b"tiff:Orientation", b"1"), (b"photoshop:ColorMode", b"3"),
    (b"tiff:PhotometricInterpretation", b"2"), (b"tiff:SamplesPerPixel", b"3"))]
_XMP_PROFILE = _xmp_property(b"photoshop:ICCProfile")


def _set_property(xmp: bytes, pattern: re.Pattern[bytes], value: bytes | None) -> bytes:
    def put(m: re.Match[bytes]) -> bytes:
        if value is None:
            return b""
        if m.group(1) is not None:
            return m.group(1) + value + m.group(2)
        return m.group(3) + value + m.group(4)

    return pattern.sub(put, xmp)


def _read_xmp(im: Image.Image, keeps_profile: bool) -> bytes | None:
    """The raw XMP packet: JPEG, WebP and (newer Pillow) TIFF put it in info["xmp"], PNG
    under its iTXt keyword, TIFF in tag 700. What it says of the pixels is brought up to
    date (a viewer that read the old orientation would turn them again), and the name of a
    colour profile that is not kept (a gray one) is taken out."""
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if not xmp and hasattr(im, "tag_v2"):
        xmp = im.tag_v2.get(700)
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if not isinstance(xmp, bytes) or not xmp.strip(b"\0 \n"):
        return None
    for pattern, value in _XMP_NOW:
        xmp = _set_property(xmp, pattern, value)
    if not keeps_profile:
        xmp = _set_property(xmp, _XMP_PROFILE, None)
    return xmp


def _dpi(im: Image.Image) -> tuple[float, float] | None:
    """Pillow's reading of the resolution, else the EXIF one (Pillow's WebP reader and a
    JPEG whose JFIF header gives only an aspect ratio leave it there)."""
    raw = im.info.get("dpi")
    try:
        if not raw:
            exif = im.getexif()
            unit = {2: 1.0, 3: 2.54}.get(int(exif.get(_RES_UNIT, 2)))
            if unit and _X_RES in exif and _Y_RES in exif:
                raw = (float(exif[_X_RES]) * unit, float(exif[_Y_RES]) * unit)
        if raw and float(raw[0]) > 1 and float(raw[1]) > 1:
            return float(raw[0]), float(raw[1])
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        pass
    return None


def _raw(value: object) -> object:
    """Text back to the bytes it was read from (Pillow decodes EXIF text as Latin-1)."""
    if isinstance(value, str) and not value.isascii():
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            return value.encode("utf-8")
    return value


def _exif_bytes(meta: Metadata, with_dpi: bool) -> bytes | None:
    """The EXIF block ("Exif\\0\\0" + TIFF structure); with_dpi also puts the resolution
    there (where JPEG and WebP readers find it)."""
    if not (meta.has_exif or (with_dpi and meta.dpi)):
        return None
    exif = Image.Exif()
    for tag, value in meta.ifd0.items():
        exif[tag] = value
    if with_dpi and meta.dpi:
        exif[_X_RES], exif[_Y_RES], exif[_RES_UNIT] = meta.dpi[0], meta.dpi[1], 2
    if meta.exif_ifd:
        exif.get_ifd(_EXIF_IFD).update(meta.exif_ifd)
    if meta.gps_ifd:
        exif.get_ifd(_GPS_IFD).update(meta.gps_ifd)
    return exif.tobytes()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with(png: bytes, dpi: tuple[float, float] | None, xmp: bytes | None) -> bytes:
    """Insert pHYs (pixels per metre) and an iTXt XMP packet after IHDR. OpenCV's PNG writer
    has no option for the resolution, and writes XMP as Latin-1 tEXt, where the PNG
    specification asks for UTF-8 iTXt (a UTF-8 caption read back as mojibake)."""
    chunks = b""
    if dpi:
        chunks += _png_chunk(b"pHYs", struct.pack(">IIB", round(dpi[0] / 0.0254),
                                                  round(dpi[1] / 0.0254), 1))
    if xmp:
        # keyword, no compression, empty language tag and translated keyword, the text
        chunks += _png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp)
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length + type, IHDR data, CRC
    return png[:ihdr_end] + chunks + png[ihdr_end:]


def encode(suffix: str, img: np.ndarray, params: list[int], meta: Metadata | None,
           threads: int = 1) -> tuple[bytes, list[str]]:
    """Encode img (OpenCV channel order) with what the format can keep of meta; a TIFF's
    strips are compressed by ``threads`` threads.

    Returns the bytes and the names of the metadata that the source had and the output
    lost (for a note)."""
    meta = meta or Metadata()
    suffix = suffix.lower()
    if suffix in _TIFF and (img.ndim == 2 or img.shape[2] == 3):
        return _tiff(img, meta, threads)
    params = list(params)
    if suffix in _TIFF and meta.dpi:
        params += [cv2.IMWRITE_TIFF_XDPI, round(meta.dpi[0]), cv2.IMWRITE_TIFF_YDPI,
                   round(meta.dpi[1]), cv2.IMWRITE_TIFF_RESUNIT, 2]
    # JPEG and WebP readers find the resolution in the EXIF block
    dpi_in_exif = suffix in (".jpg", ".jpeg", ".webp")
    exif = _exif_bytes(meta, with_dpi=dpi_in_exif)
    if exif and suffix in (".png", ".webp"):
        # their EXIF chunks hold the TIFF structure alone; OpenCV writes what it is given,
        # and libpng calls a PNG eXIf chunk that starts with "Exif\0\0" invalid
        exif = exif.removeprefix(b"Exif\0\0")
    xmp = None  # PNG's goes in by hand (below)
    if meta.xmp and suffix in (".jpg", ".jpeg"):
        xmp = _XMP_JPEG_HEADER + meta.xmp
    elif meta.xmp and suffix == ".webp":
        xmp = meta.xmp
    chunks = [(kind, data) for kind, data in
              (("EXIF", exif), ("ICC profile", meta.icc), ("XMP", xmp)) if data]
    lost: list[str] = []
    if chunks and suffix in _OPENCV_METADATA and _HAS_METADATA:
        kinds = {"EXIF": cv2.IMAGE_METADATA_EXIF, "ICC profile": cv2.IMAGE_METADATA_ICCP,
                 "XMP": getattr(cv2, "IMAGE_METADATA_XMP", None)}
        ok, buf = cv2.imencodeWithMetadata(
            suffix, img, [kinds[k] for k, _ in chunks],
            [np.frombuffer(d, dtype=np.uint8) for _, d in chunks], params)
    else:
        lost = [k for k, had in (("EXIF", meta.has_exif), ("ICC profile", meta.icc),
                                 ("XMP", meta.xmp and suffix != ".png")) if had]
        if meta.dpi and dpi_in_exif:
            lost.append("resolution")
        ok, buf = cv2.imencode(suffix, img, params)
    if not ok:
        raise ValueError(f"OpenCV cannot encode {suffix}")
    data = buf.tobytes()
    if suffix == ".png" and (meta.dpi or meta.xmp):
        data = _png_with(data, meta.dpi, meta.xmp)
    elif suffix in (".jpg", ".jpeg") and meta.dpi:
        data = _jfif_with_dpi(data, meta.dpi)
    elif suffix == ".bmp" and meta.dpi:
        data = _bmp_with_dpi(data, meta.dpi)
    return data, lost


def _bmp_with_dpi(bmp: bytes, dpi: tuple[float, float]) -> bytes:
    """Fill the info header's pixels per metre (OpenCV writes 0)."""
    if bmp[:2] != b"BM" or struct.unpack("<I", bmp[14:18])[0] < 40:
        return bmp
    ppm = struct.pack("<ii", round(dpi[0] / 0.0254), round(dpi[1] / 0.0254))
    return bmp[:38] + ppm + bmp[46:]


# an XMP packet's APP1 segment starts with this namespace (OpenCV writes what it is given)
_XMP_JPEG_HEADER = b"http://ns.adobe.com/xap/1.0/\0"


# IFD0 tags tifffile writes through its own arguments; the others go in as extra tags
_TIFF_ARGS = {0x010E: "description"}


def _tiff_args(img: np.ndarray, meta: Metadata, threads: int = 1
               ) -> tuple[np.ndarray, dict, list[str]]:
    """tifffile's arguments for one page: the pixels in TIFF channel order, Deflate with a
    horizontal predictor (as small as OpenCV's LZW and about as fast), the resolution, the
    IFD0 text tags, the colour profile and the XMP; and what the page cannot keep."""
    kwargs: dict = {"software": False, "metadata": None}  # no tifffile name or JSON
    extratags = []
    for tag, value in meta.ifd0.items():
        text = value if isinstance(value, bytes) else str(value).encode("ascii", "replace")
        if tag in _TIFF_ARGS:
            kwargs[_TIFF_ARGS[tag]] = text
        else:
            extratags.append((tag, "s", 0, text, True))
    if meta.dpi:
        kwargs.update(resolution=meta.dpi, resolutionunit="INCH")
    if meta.icc and img.ndim == 3:
        kwargs["iccprofile"] = meta.icc
    if meta.xmp:
        extratags.append((700, "B", len(meta.xmp), meta.xmp, True))  # XMLPacket
    if img.ndim == 3 and img.shape[2] == 4:  # BGRA -> RGBA, alpha not premultiplied
        img = img[..., [2, 1, 0, 3]]
        kwargs["extrasamples"] = ("unassalpha",)
    elif img.ndim == 3:
        img = img[..., ::-1]
    kwargs.update(photometric="rgb" if img.ndim == 3 else "minisblack", compression="zlib",
                  compressionargs={"level": 3}, predictor=True, rowsperstrip=64,
                  maxworkers=threads,
                  extratags=extratags)
    said = set(meta.exif_ifd) - _EXIF_BOILERPLATE
    lost = ["Exif dates and GPS"] if said or meta.gps_ifd else []
    return img, kwargs, lost


def _tiff(img: np.ndarray, meta: Metadata, threads: int = 1) -> tuple[bytes, list[str]]:
    """A gray or RGB TIFF written by tifffile with what it can keep of meta. (RGBA stays
    with OpenCV: its TIFF reader premultiplies an alpha marked unassociated, which is what
    tifffile writes, so the file would not read back the same.)"""
    import tifffile

    img, kwargs, lost = _tiff_args(img, meta, threads)
    buf = io.BytesIO()
    tifffile.imwrite(buf, img, **kwargs)
    return buf.getvalue(), lost


def tiff_page(writer, img: np.ndarray, meta: Metadata, threads: int = 1) -> list[str]:
    """One page of a multi-page TIFF (tifffile.TiffWriter), RGB or RGBA in OpenCV channel
    order; returns what it cannot keep."""
    img, kwargs, lost = _tiff_args(img, meta, threads)
    writer.write(img, contiguous=False, **kwargs)
    return lost


def _jfif_with_dpi(jpeg: bytes, dpi: tuple[float, float]) -> bytes:
    """Set the JFIF header's density, which many readers take before the EXIF resolution
    (OpenCV writes an aspect ratio of 1:1 there, no unit)."""
    if jpeg[2:4] != b"\xff\xe0" or jpeg[6:11] != b"JFIF\x00":
        return jpeg
    x, y = (min(65535, max(1, round(v))) for v in dpi)
    return jpeg[:13] + struct.pack(">BHH", 1, x, y) + jpeg[18:]
