"""Outputs keep their source's resolution, descriptive EXIF and RGB colour profile."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image, ImageCms
from typer.testing import CliRunner

from colorize.cli.app import app
from colorize.core import metadata
from colorize.core.imageio import encode_picture, read_image
from tests.helpers import gradient_gray

runner = CliRunner()
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def archive_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010E] = "Harbour, 1931"
    exif[0x013B] = "A. Person"
    exif[0x8298] = "(c) The Archive"
    exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "1931:05:01 10:00:00"
    sub[0x927C] = b"vendor maker note"
    exif.get_ifd(0x8825)[1] = "N"
    return exif


def run_folder(src, dst, tiny_model, *extra):
    result = runner.invoke(app, ["folder", str(src), "-o", str(dst), "--model", str(tiny_model),
                                 *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_jpeg_keeps_caption_dates_gps_dpi_and_profile(tmp_path, tiny_model):
    src = tmp_path / "in"
    src.mkdir()
    gray = Image.fromarray(gradient_gray(48, 64)).convert("RGB")
    # turned on reading (orientation 6): the output is upright, so its DPI turns with it
    gray.save(src / "a.jpg", exif=archive_exif(orientation=6), dpi=(600, 300), icc_profile=SRGB)
    out = run_folder(src, tmp_path / "out", tiny_model)
    assert "note" not in out
    with Image.open(tmp_path / "out" / "a.jpg") as im:
        assert im.size == (48, 64)  # turned upright
        exif = im.getexif()
        assert exif[0x010E] == "Harbour, 1931" and exif[0x013B] == "A. Person"
        assert exif[0x8298] == "(c) The Archive"
        assert 0x0112 not in exif  # the pixels are upright now: no orientation to apply
        sub = exif.get_ifd(0x8769)
        assert sub[0x9003] == "1931:05:01 10:00:00" and 0x927C not in sub
        assert exif.get_ifd(0x8825)[1] == "N"
        # the JFIF header and the EXIF both say it (Pillow's "dpi" reads only one of them)
        assert im.info["jfif_unit"] == 1 and im.info["jfif_density"] == (300, 600)
        assert (exif[0x011A], exif[0x011B], exif[0x0128]) == (300, 600, 2)
        assert im.info["icc_profile"] == SRGB
        assert not np.allclose(np.asarray(im)[..., 0], np.asarray(im)[..., 2])  # colorized


def test_bmp_and_webp_keep_dpi(tmp_path, tiny_model):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(gradient_gray(40, 56)).save(src / "scan.bmp", dpi=(300, 300))
    Image.fromarray(gradient_gray(40, 56)).convert("RGB").save(src / "photo.jpg", dpi=(200, 200))
    out = run_folder(src, tmp_path / "out", tiny_model)
    assert "note" not in out
    assert read_image(tmp_path / "out" / "scan.bmp").meta.dpi == pytest.approx((300, 300), 0.01)
    webp = tmp_path / "photo.webp"
    result = runner.invoke(app, ["image", str(src / "photo.jpg"), "-o", str(webp), "--model",
                                 str(tiny_model)])
    assert result.exit_code == 0, result.output
    meta = read_image(webp).meta  # read back from the EXIF, where WebP keeps it
    assert meta.dpi == pytest.approx((200, 200)) and meta.ifd0 == {}
    with Image.open(webp) as im:
        exif = im.getexif()
        assert (exif[0x011A], exif[0x011B], exif[0x0128]) == (200, 200, 2)


@pytest.mark.parametrize("depth", [8, 16])
def test_png_keeps_dpi_and_bit_depth(tmp_path, tiny_model, depth):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(gradient_gray(40, 56, depth=depth)).save(src / "scan.png", dpi=(1200, 1200))
    run_folder(src, tmp_path / "out", tiny_model)
    pic = read_image(tmp_path / "out" / "scan.png")
    assert pic.depth == depth
    assert pic.meta.dpi == pytest.approx((1200, 1200), abs=0.01)


@pytest.mark.parametrize("depth", [8, 16])
def test_tiff_keeps_dpi_text_tags_profile_and_depth(tmp_path, tiny_model, depth):
    src = tmp_path / "in"
    src.mkdir()
    rgb = np.stack([gradient_gray(40, 56, depth=depth)] * 3, axis=-1)
    if depth == 8:
        Image.fromarray(rgb).save(src / "scan.tif", dpi=(400, 400), icc_profile=SRGB,
                                  tiffinfo={0x010E: "a caption", 0x013B: "A. Person",
                                            0x0131: "ScanSoft 2.1"})
    else:  # Pillow writes no 16-bit RGB: tifffile, as the output is written
        import tifffile

        tifffile.imwrite(src / "scan.tif", rgb, photometric="rgb", resolution=(400, 400),
                         resolutionunit="INCH", description="a caption", iccprofile=SRGB,
                         extratags=[(0x013B, "s", 0, "A. Person", True)], metadata=None)
    out = run_folder(src, tmp_path / "out", tiny_model)
    assert "note" not in out
    pic = read_image(tmp_path / "out" / "scan.tif")
    assert pic.depth == depth and pic.pixels.ndim == 3
    assert pic.meta.dpi == pytest.approx((400, 400)) and pic.meta.icc == SRGB
    assert pic.meta.ifd0[0x010E] == "a caption" and pic.meta.ifd0[0x013B] == "A. Person"
    if depth == 8:
        assert pic.meta.ifd0[0x0131] == "ScanSoft 2.1"


def test_rgba_tiff_keeps_dpi_and_names_what_it_lost(tmp_path, tiny_model):
    src = tmp_path / "in"
    src.mkdir()
    rgba = np.dstack([np.stack([gradient_gray(40, 56)] * 3, axis=-1),
                      np.full((40, 56), 200, np.uint8)])
    Image.fromarray(rgba).save(src / "cut.tif", dpi=(400, 400), tiffinfo={0x010E: "a caption"})
    Image.fromarray(rgba).save(src / "plain.tif", dpi=(400, 400))
    out = run_folder(src, tmp_path / "out", tiny_model)
    for name in ("cut.tif", "plain.tif"):
        pic = read_image(tmp_path / "out" / name)
        assert pic.meta.dpi == pytest.approx((400, 400)) and pic.alpha is not None
    assert "cut.tif: its EXIF could not be written into .tif" in out
    assert "plain.tif: its" not in out  # nothing to lose, nothing to say


def test_text_beyond_ascii_comes_out_as_it_went_in(tmp_path, tiny_model):
    """Pillow reads EXIF text as Latin-1 and writes non-ASCII back as "?"."""
    caption = "Hafen, Köln 1931".encode()
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(gradient_gray(40, 56)).convert("RGB").save(
        src / "a.jpg", exif=_exif_with_caption(caption))
    Image.fromarray(gradient_gray(40, 56)).save(src / "b.tif", tiffinfo={0x010E: caption})
    run_folder(src, tmp_path / "out", tiny_model)
    for name in ("a.jpg", "b.tif"):
        data = (tmp_path / "out" / name).read_bytes()
        assert caption in data and b"K??ln" not in data


def _exif_with_caption(text: bytes) -> bytes:
    """An EXIF block holding ImageDescription as these bytes (Pillow's writer would turn
    anything beyond ASCII into "?")."""
    value = text + b"\0"
    entry = struct.pack(">HHII", 0x010E, 2, len(value), 8 + 2 + 12 + 4)
    return b"Exif\0\0MM\0*" + struct.pack(">IH", 8, 1) + entry + struct.pack(">I", 0) + value


def test_tiff_layout_tags_do_not_travel_into_a_jpeg(tmp_path):
    path = tmp_path / "scan.tif"
    Image.fromarray(gradient_gray(40, 56)).save(path, tiffinfo={0x010E: "a caption"})
    pic = read_image(path)
    data, lost = encode_picture(pic.pixels[..., None].repeat(3, axis=2), None, 8, ".jpg",
                                meta=pic.meta)
    assert lost == []
    (tmp_path / "out.jpg").write_bytes(data)
    with Image.open(tmp_path / "out.jpg") as im:
        exif = im.getexif()
        assert exif[0x010E] == "a caption"
        assert not {0x0100, 0x0101, 0x0111, 0x0117, 0x0103} & set(exif)  # sizes, strips


def test_gray_profile_is_dropped_and_nothing_to_keep_is_none(tmp_path):
    gray_profile = SRGB[:16] + b"GRAY" + SRGB[20:]
    path = tmp_path / "g.jpg"
    Image.fromarray(gradient_gray(40, 56)).save(path, icc_profile=gray_profile)
    assert read_image(path).meta.icc is None
    bare = tmp_path / "bare.png"
    Image.fromarray(gradient_gray(40, 56)).save(bare)
    assert not read_image(bare).meta


def test_without_opencv_metadata_support_the_loss_is_named(tmp_path, monkeypatch):
    path = tmp_path / "a.jpg"
    Image.fromarray(gradient_gray(40, 56)).convert("RGB").save(
        path, exif=archive_exif(), dpi=(300, 300), icc_profile=SRGB)
    pic = read_image(path)
    rgb = np.repeat(pic.pixels[..., :1] if pic.pixels.ndim == 3 else pic.pixels[..., None], 3, 2)
    monkeypatch.setattr(metadata, "_HAS_METADATA", False)
    _, lost = encode_picture(rgb, None, 8, ".jpg", meta=pic.meta)
    assert lost == ["EXIF", "ICC profile", "resolution"]
    _, lost = encode_picture(rgb, None, 8, ".png", meta=pic.meta)
    assert lost == ["EXIF", "ICC profile"]  # PNG's resolution is its own pHYs chunk


XMP = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
       '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
       'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
       'xmlns:dc="http://purl.org/dc/elements/1.1/" '
       'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6" '
       'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:ColorMode="1" '
       'photoshop:ICCProfile="Gray Gamma 2.2">'
       '<dc:description>Hafen, Köln 1931</dc:description></rdf:Description></rdf:RDF>'
       '</x:xmpmeta><?xpacket end="w"?>').encode()


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "tif"])
def test_xmp_travels_into_every_format_and_says_what_the_pixels_are_now(tmp_path, tiny_model, fmt):
    src = tmp_path / "in"
    src.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(gradient_gray(40, 56)).convert("RGB").save(src / "a.jpg", exif=exif,
                                                               xmp=XMP)
    out = run_folder(src, tmp_path / "out", tiny_model, "--format", fmt)
    assert "note" not in out
    path = tmp_path / "out" / f"a.{fmt}"
    with Image.open(path) as im:
        assert im.size == (40, 56)  # turned upright
        xmp = im.info.get("xmp") or (im.tag_v2.get(700) if fmt == "tif" else None)
    if fmt == "png":  # UTF-8 iTXt, which Pillow hands back as text
        xmp = path.read_bytes()
        assert b"iTXtXML:com.adobe.xmp\0\0\0\0\0" in xmp
    assert "Hafen, Köln 1931".encode() in xmp
    assert b'tiff:Orientation="1"' in xmp and b'tiff:Orientation="6"' not in xmp
    # RGB now (Photoshop's mode 3), and the gray profile it named is not in the output
    assert b'photoshop:ColorMode="3"' in xmp and b"Gray Gamma" not in xmp


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_exif_chunks_hold_the_tiff_structure_alone(tmp_path, tiny_model, fmt):
    """PNG's eXIf and WebP's EXIF chunk start at the byte-order mark; libpng calls an
    eXIf chunk that starts with JPEG's "Exif\\0\\0" invalid."""
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(gradient_gray(40, 56)).convert("RGB").save(src / "a.jpg",
                                                               exif=archive_exif())
    run_folder(src, tmp_path / "out", tiny_model, "--format", fmt)
    data = (tmp_path / "out" / f"a.{fmt}").read_bytes()
    tag = b"eXIf" if fmt == "png" else b"EXIF"
    start = data.index(tag) + 4 + (0 if fmt == "png" else 4)  # WebP: then a 4-byte size
    assert data[start:start + 2] in (b"MM", b"II")
    assert read_image(tmp_path / "out" / f"a.{fmt}").meta.ifd0[0x010E] == "Harbour, 1931"


def test_an_adobe_rgb_photo_comes_out_as_srgb_and_its_exif_says_so(tmp_path, tiny_model):
    from tests.helpers import ADOBE_RGB_COLORANTS, icc_gamma, icc_profile

    adobe = icc_profile("RGB ", [icc_gamma(563 / 256)] * 3, ADOBE_RGB_COLORANTS,
                        name="Adobe RGB-like")
    exif = archive_exif()
    exif.get_ifd(0x8769)[0xA001] = 0xFFFF  # "uncalibrated": what Adobe RGB cameras write
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(gradient_gray(48, 64)).convert("RGB").save(src / "a.jpg", exif=exif,
                                                               icc_profile=adobe)
    out = run_folder(src, tmp_path / "out", tiny_model)
    assert "read through its colour profile (Adobe RGB-like)" in out.replace("\n", " ")
    with Image.open(tmp_path / "out" / "a.jpg") as im:
        assert not im.info.get("icc_profile")
        sub = im.getexif().get_ifd(0x8769)
        assert sub[0xA001] == 1 and sub[0x9003] == "1931:05:01 10:00:00"
