from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from colorize.cli.app import app
from colorize.core.color import gray_to_l, lab_to_rgb
from colorize.core.smoothing import Smoother, SmootherConfig, spread_of
from colorize.core.video import ChromaMaker, area_shrink
from tests.helpers import add_subtitles, make_clip, probe, subtitles_of

runner = CliRunner()
LOSSLESS = ["--crf", "0", "--preset", "ultrafast"]


def run_video(src, dst, model, *extra):
    return runner.invoke(app, ["video", str(src), "-o", str(dst), "--model", str(model),
                               *LOSSLESS, *extra])


def test_frames_pts_audio_and_luma_kept(tmp_path, tiny_model):
    src = tmp_path / "in.mp4"
    make_clip(src, frames=30, vfr=True, cut_at=15)
    dst = tmp_path / "out.mp4"
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    a, b = probe(src), probe(dst)
    assert b["pts"] == a["pts"] and len(b["pts"]) == 30
    assert b["audio_packets"] == a["audio_packets"] > 0
    assert b["audio_codecs"] == ["aac"]
    for ya, yb in zip(a["luma"], b["luma"], strict=True):
        np.testing.assert_array_equal(ya, yb)
    rgb = b["frames"][5].to_ndarray(format="rgb24").astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 2  # colorized
    summary = " ".join(r.output.split())
    assert "30 frames," in summary and "1 scene cut," in summary


def test_scrambled_source_timestamps_are_put_back_in_order(tmp_path, tiny_model):
    src = tmp_path / "bframes.mp4"
    make_clip(src, frames=30, audio=None, pts_as_dts=True)
    decoded = probe(src)["pts"]
    assert len(decoded) > 20 and decoded != sorted(decoded)  # really scrambled
    dst = tmp_path / "out.mp4"
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    assert "out-of-order pts" in r.output
    assert probe(dst)["pts"] == sorted(decoded)


def test_odd_size_and_rotation(tmp_path, tiny_model):
    src = tmp_path / "odd.mp4"
    make_clip(src, frames=10, width=65, height=47, pix_fmt="yuv444p", rotation=90, audio=None)
    dst = tmp_path / "out.mp4"
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    b = probe(dst)
    assert (b["width"], b["height"]) == (65, 47)
    assert b["rotation"] == probe(src)["rotation"] == 90


@pytest.mark.parametrize(("src_name", "audio", "dst_name", "label", "codec"), [
    ("pcm.mov", "pcm_s16le", "out.mp4", "AAC", "aac"),
    # PCM in AVI (DV captures) leaves its channel order unnamed ("1 channels"), which the
    # AAC encoder refused: the usual layout for the count is named for it
    ("pcm.avi", "pcm_s16le", "out.mp4", "AAC", "aac"),
    # WebM holds Opus or Vorbis only: AAC there was a traceback from add_stream
    ("aac.mp4", "aac", "out.webm", "Opus", "opus"),
])
def test_audio_the_container_cannot_hold_is_transcoded(tmp_path, tiny_model, src_name, audio,
                                                       dst_name, label, codec):
    src, dst = tmp_path / src_name, tmp_path / dst_name
    make_clip(src, frames=24, audio=audio)
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    assert f"transcoded to {label}" in r.output
    b = probe(dst)
    assert b["audio_codecs"] == [codec] and b["audio_packets"] > 0
    assert len(b["pts"]) == 24
    with av.open(str(src)) as a_in, av.open(str(dst)) as a_out:
        seconds = [sum(f.samples for f in c.decode(audio=0)) / c.streams.audio[0].rate
                   for c in (a_in, a_out)]
    # the encoder's priming (AAC: 1024 samples) is skipped by the file's timestamps; what may
    # be left is the last frame's padding, under 1024 samples (0.064 s at 16 kHz); the
    # priming played as well made this 0.104 s long
    assert seconds[1] == pytest.approx(seconds[0], abs=0.065)


@pytest.mark.parametrize(("src_name", "audio", "dst_name", "codec"), [
    # FFmpeg decodes MP3 with a decoder named "mp3float": the copy check must use the codec
    ("mp3.mkv", "libmp3lame", "out.mp4", "mp3"),
    # AVI holds AAC: copied, not re-encoded from AAC to AAC
    ("aac.mp4", "aac", "out.avi", "aac"),
])
def test_audio_the_container_holds_is_copied_not_transcoded(tmp_path, tiny_model, src_name,
                                                            audio, dst_name, codec):
    src, dst = tmp_path / src_name, tmp_path / dst_name
    make_clip(src, frames=12, audio=audio)
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    assert "transcoded" not in r.output
    a, b = probe(src), probe(dst)
    assert b["audio_codecs"] == [codec] and b["audio_packets"] == a["audio_packets"] > 0
    with av.open(str(dst)) as c:
        assert sum(f.samples for f in c.decode(audio=0)) > 0


def test_subtitles_a_container_cannot_hold_are_dropped_with_a_note(tmp_path, tiny_model):
    src = tmp_path / "subs.mkv"
    make_clip(src, frames=8, audio=None, subtitle=True)  # an ASS stream: MP4 holds none
    dst = tmp_path / "out.mp4"
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    assert re.search(r"dropped subtitle stream #1 \(\w+\): a mp4 file cannot hold it; \.mkv "
                     r"keeps it", " ".join(r.output.split()))
    assert probe(dst)["subtitles"] == 0


def _chapters(path):
    with av.open(str(path)) as c:
        return [(round(float(ch["start"] * ch["time_base"]), 3),
                 round(float(ch["end"] * ch["time_base"]), 3), ch["metadata"].get("title"))
                for ch in c.chapters()]


def test_subtitles_and_chapters_kept_and_cut_with_the_segment(tmp_path, tiny_model):
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=24)  # a frame every 41 ms, AAC audio
    src = tmp_path / "film.mkv"
    add_subtitles(clip, src, [(0.0, 0.3, "first line"), (0.5, 0.9, "second line")],
                  chapters=[(0.0, 0.5, "opening"), (0.5, 0.984, "ending")])
    cues, marks = subtitles_of(src), _chapters(src)
    assert [c[1] for c in cues] == ["first line", "second line"] and len(marks) == 2
    dst = tmp_path / "out.mkv"
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    assert "2 subtitles, 2 chapters" in r.output and "dropped" not in r.output
    assert subtitles_of(dst) == cues and _chapters(dst) == marks
    assert probe(dst)["audio_packets"] > 0

    # a segment: its first frame becomes time 0, and the cues and chapters move with it
    part = tmp_path / "part.mkv"
    r = run_video(src, part, tiny_model, "--start", "0.45", "--end", "0.8")
    assert r.exit_code == 0, r.output
    a = probe(src)
    t0 = min(t for t in (float(p * a["time_base"]) for p in a["pts"]) if t >= 0.45)
    assert subtitles_of(part) == [(round(cues[1][0] - t0, 3), "second line")]
    cut = round(marks[1][0] - t0, 3)
    assert _chapters(part) == [(0.0, cut, "opening"), (cut, round(0.8 - t0, 3), "ending")]

    # MP4 holds chapters, and no SRT text: dropped with a note naming the way to keep it
    mp4 = tmp_path / "out.mp4"
    r = run_video(src, mp4, tiny_model)
    assert r.exit_code == 0, r.output
    assert "a mp4 file cannot hold it; .mkv keeps it" in " ".join(r.output.split())
    assert subtitles_of(mp4) == [] and [c[2] for c in _chapters(mp4)] == ["opening", "ending"]


def test_bad_inputs_clear_errors_and_no_output(tmp_path, tiny_model):
    src = tmp_path / "in.mp4"
    make_clip(src, frames=20)
    trunc = tmp_path / "trunc.mp4"
    trunc.write_bytes(src.read_bytes()[:300])
    r = run_video(trunc, tmp_path / "o1.mp4", tiny_model)
    assert r.exit_code != 0 and "trunc.mp4" in r.output
    assert not (tmp_path / "o1.mp4").exists()

    import av

    audio_only = tmp_path / "audio.m4a"
    with av.open(str(audio_only), "w") as c:
        s = c.add_stream("aac", rate=16000)
        s.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate = 16000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    r = run_video(audio_only, tmp_path / "o2.mp4", tiny_model)
    assert r.exit_code == 1 and "no video stream" in r.output

    # FFmpeg would open a single picture as a one-frame video; that is a mistake to name
    for name in ("still.png", "still.jpg"):
        assert cv2.imwrite(str(tmp_path / name), np.full((32, 48), 128, np.uint8))
        r = run_video(tmp_path / name, tmp_path / "o3.mp4", tiny_model)
        assert r.exit_code == 1 and "a still image, not a video" in r.output, r.output
        assert not (tmp_path / "o3.mp4").exists()


def test_video_into_a_folder_keeps_the_name_and_never_replaces_its_input(tmp_path,
                                                                          tiny_model):
    src = tmp_path / "film.mkv"
    make_clip(src, frames=4)
    before = src.read_bytes()
    folder = tmp_path / "colored"
    folder.mkdir()
    r = run_video(src, folder, tiny_model)
    assert r.exit_code == 0, r.output
    assert [p.name for p in folder.iterdir()] == ["film.mkv"]
    r = run_video(src, tmp_path, tiny_model, "--overwrite")
    assert r.exit_code == 2 and "is the input" in r.output
    assert src.read_bytes() == before


def test_frames_never_replace_their_input_folder(tmp_path, tiny_model):
    seq = tmp_path / "seq"
    seq.mkdir()
    for i in range(2):
        assert cv2.imwrite(str(seq / f"f{i}.png"), np.full((32, 48), 90 + i, np.uint8))
    before = {p.name: p.read_bytes() for p in seq.iterdir()}
    r = runner.invoke(app, ["frames", str(seq), "-o", str(seq), "--model", str(tiny_model),
                            "--overwrite"])
    assert r.exit_code == 2 and "is the input folder" in r.output, r.output
    assert {p.name: p.read_bytes() for p in seq.iterdir()} == before


def test_an_animated_gif_is_a_video_source(tmp_path, tiny_model):
    from PIL import Image

    frames = [Image.fromarray(np.full((32, 48), v, np.uint8)) for v in (60, 120, 180)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100)
    out = tmp_path / "out"
    out.mkdir()
    r = run_video(tmp_path / "a.gif", out, tiny_model)  # into a folder: a.mp4, not a.gif
    assert r.exit_code == 0, r.output
    assert len(probe(out / "a.mp4")["frames"]) == 3


def test_existing_output_not_overwritten(tmp_path, tiny_model):
    src = tmp_path / "in.mp4"
    make_clip(src, frames=6, audio=None)
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"keep")
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 1 and dst.read_bytes() == b"keep"


def _stream_tags(path) -> dict:
    import av

    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        return {"codec": cc.name, "pix_fmt": cc.pix_fmt, "colorspace": int(cc.colorspace),
                "color_primaries": int(cc.color_primaries), "color_trc": int(cc.color_trc),
                "color_range": int(cc.color_range)}


def test_webm_gets_vp9_and_a_full_range_source_keeps_its_levels(tmp_path, tiny_model):
    # MJPEG frames are full range (yuvj420p); VP9 takes no yuvj420p, so the output is
    # yuv420p flagged full range, with the luma codes carried over unconverted
    src = tmp_path / "mjpeg.mkv"
    make_clip(src, frames=10, codec="mjpeg", pix_fmt="yuvj420p", audio=None)
    dst = tmp_path / "out.webm"
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    tags = _stream_tags(dst)
    assert tags["codec"] == "vp9" and tags["pix_fmt"] == "yuv420p" and tags["color_range"] == 2
    a, b = probe(src), probe(dst)
    assert len(b["pts"]) == 10
    for ya, yb in zip(a["luma"], b["luma"], strict=True):  # VP9 at crf 0: near lossless
        assert np.abs(ya.astype(int) - yb.astype(int)).mean() < 1.0


def test_colour_tags_are_kept(tmp_path, tiny_model):
    src = tmp_path / "tagged.mp4"
    tags = {"colorspace": 1, "color_primaries": 1, "color_trc": 1}  # BT.709 throughout
    make_clip(src, frames=6, audio=None, tags=tags)
    dst = tmp_path / "out.mp4"
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    out = _stream_tags(dst)
    assert {k: out[k] for k in tags} == tags == {k: _stream_tags(src)[k] for k in tags}


def test_avi_output_keeps_frames_in_display_order(tmp_path, tiny_model):
    # AVI stores no presentation times; with x264's B-frames a decoder's guessed times
    # come out scrambled
    src = tmp_path / "in.mp4"
    make_clip(src, frames=20, audio=None)
    dst = tmp_path / "out.avi"
    r = runner.invoke(app, ["video", str(src), "-o", str(dst), "--model", str(tiny_model)])
    assert r.exit_code == 0, r.output
    pts = probe(dst)["pts"]
    assert len(pts) == 20 and pts == sorted(pts)


@pytest.mark.parametrize(("args", "message"), [
    (["--codec", "nosuchcodec"], "unknown video encoder 'nosuchcodec'"),
    (["--codec", "png"], "png takes none of 8- or 10-bit YUV"),
    (["--crf", "60"], "libx264 takes 0-51"),
    # DV takes only its broadcast sizes: FFmpeg refuses to open it for this clip's 64x48
    (["--codec", "dvvideo"], "FFmpeg's dvvideo encoder would not start with what this video"),
])
def test_bad_encoder_settings_one_line_error(tmp_path, tiny_model, args, message):
    src = tmp_path / "in.mp4"
    make_clip(src, frames=4, audio=None)
    dst = tmp_path / "out.mov"
    r = runner.invoke(app, ["video", str(src), "-o", str(dst), "--model", str(tiny_model),
                            *args])
    assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "tiny.onnx"]


def _encode(container, stream, images) -> None:
    """Encode RGB images (pts 0, 1, ...) into stream and flush it."""
    import av

    for i, img in enumerate(images):
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=stream.pix_fmt)
        frame.pts = i
        for p in stream.encode(frame):
            container.mux(p)
    for p in stream.encode(None):
        container.mux(p)


def test_the_film_is_colorized_not_a_thumbnail_stream_ahead_of_it(tmp_path, tiny_model):
    import av

    src = tmp_path / "thumb.mkv"
    with av.open(str(src), "w") as c:
        thumb = c.add_stream("mjpeg", rate=1)
        thumb.width, thumb.height, thumb.pix_fmt = 32, 32, "yuvj420p"
        film = c.add_stream("libx264", rate=25)
        film.width, film.height, film.pix_fmt = 64, 48, "yuv420p"
        for stream, count, size in ((thumb, 1, (32, 32)), (film, 12, (48, 64))):
            _encode(c, stream, [np.full((*size, 3), 20 * i, np.uint8) for i in range(count)])
    dst = tmp_path / "out.mkv"
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    assert "dropped video stream #0 (mjpeg 32x32); colorized #1" in r.output
    b = probe(dst)
    assert len(b["pts"]) == 12 and (b["width"], b["height"]) == (64, 48)


def test_interlaced_source_stays_interlaced(tmp_path, tiny_model):
    import av

    src = tmp_path / "tv.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = {"flags": "+ilme+ildct", "x264-params": "bff=1", "qp": "0"}
        images = [np.zeros((48, 64, 3), np.uint8) for _ in range(8)]
        for i, img in enumerate(images):
            img[::2] = 30 * i  # the two fields differ, as in a moving interlaced picture
        _encode(c, s, images)
    dst = tmp_path / "out.mp4"
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    assert "interlaced source (bottom field first) kept interlaced" in r.output
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        order = a.streams.video[0].codec_context.field_order
        assert order == 3 and b.streams.video[0].codec_context.field_order == order
        assert all(f.interlaced_frame for f in b.decode(video=0))
    b = probe(dst)
    assert len(b["pts"]) == 8


def test_container_that_cannot_hold_the_codec(tmp_path, tiny_model):
    src = tmp_path / "in.mp4"
    make_clip(src, frames=4, audio=None)
    r = runner.invoke(app, ["video", str(src), "-o", str(tmp_path / "o.webm"), "--model",
                            str(tiny_model), "--codec", "libx264"])
    assert r.exit_code == 1 and "webm file cannot hold libx264" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "tiny.onnx"]


def jitter(seq) -> float:
    """Mean absolute ab change from one frame to the next."""
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(seq[:-1], seq[1:], strict=True)]))


def test_smoothing_reduces_flicker_and_resets_at_cut():
    rng = np.random.default_rng(0)
    light = np.full((32, 32), 50, np.float32)
    light[8:24, 8:24] = 70  # texture so the flow is defined
    base = np.dstack([np.full((32, 32), 20.0), np.full((32, 32), -10.0)]).astype(np.float32)
    for mode in ("ema", "flow"):
        sm = Smoother(SmootherConfig(mode, 0.8, 0.15))
        raw, smooth = [], []
        for _ in range(20):
            ab = base + rng.normal(0, 8, base.shape).astype(np.float32)
            raw.append(ab)
            smooth.append(sm(light, ab))
        assert jitter(smooth[5:]) < 0.5 * jitter(raw[5:])
    # after a hard cut, nothing of the old colour is carried over
    sm = Smoother(SmootherConfig("flow", 0.9, 0.15))
    for _ in range(5):
        sm(light, base)
    other = np.zeros_like(base)
    out = sm(light * 0.2, other)
    assert sm.cuts == 1 and np.abs(out).max() == 0


def test_flow_smoothing_steadies_hue_without_washing_colour_out():
    light = np.full((48, 64), 40, np.float32)
    light[::4] = 60  # stripes so the flow is defined
    red = np.dstack([np.full((48, 64), 30.0), np.zeros((48, 64))]).astype(np.float32)
    yellow = red[..., ::-1].copy()
    outs = {}
    for mode in ("ema", "flow"):
        sm = Smoother(SmootherConfig(mode, 0.9, 0.15))
        outs[mode] = [sm(light, red if i % 2 else yellow) for i in range(30)][-1]
    chroma = {m: float(np.hypot(o[..., 0], o[..., 1]).mean()) for m, o in outs.items()}
    assert chroma["flow"] > 0.95 * 30  # the two hues average, the chroma stays
    assert chroma["ema"] < 0.8 * 30  # plain vector averaging shrinks it


def test_spread_restoration_keeps_the_frame_lively_and_steady():
    # a static scene whose per-frame prediction errors change every frame: averaging them
    # over time pulls every pixel towards the frame's mean colour (a duller video)
    rng = np.random.default_rng(2)
    light = cv2.GaussianBlur(rng.uniform(30, 70, (48, 64)).astype(np.float32), (0, 0), 2)
    truth = np.dstack([np.tile(np.linspace(-20, 20, 64, dtype=np.float32), (48, 1)),
                       np.full((48, 64), 10, np.float32)])
    raws = [truth + rng.normal(0, 6, truth.shape).astype(np.float32) for _ in range(40)]
    spread, change = {}, {}
    for restore in (False, True):
        sm = Smoother(SmootherConfig("flow", 0.9, 0.15, restore_spread=restore))
        outs = [sm(light, ab) for ab in raws]
        spread[restore] = np.mean([spread_of(o)[1] for o in outs[20:]])
        change[restore] = jitter(outs[20:])
    raw_spread = np.mean([spread_of(r)[1] for r in raws])

    assert spread[False] < 0.9 * raw_spread
    assert abs(spread[True] - raw_spread) < 0.03 * raw_spread
    assert change[True] < 0.5 * jitter(raws)  # the gain itself does not bring flicker back


def test_flow_smoothing_does_not_smear_a_moving_object():
    rng = np.random.default_rng(1)
    texture = rng.uniform(20, 40, (64, 96)).astype(np.float32)
    texture = cv2.GaussianBlur(texture, (0, 0), 1.5)
    background = np.array([-10.0, -30.0], np.float32)
    box_colour = np.array([40.0, 30.0], np.float32)
    sm = Smoother(SmootherConfig("flow", 0.95, 0.15))
    for t in range(12):
        x0 = 10 + 4 * t
        light = texture.copy()
        light[20:44, x0:x0 + 16] = 85
        ab = np.broadcast_to(background, (64, 96, 2)).copy()
        ab[20:44, x0:x0 + 16] = box_colour
        out = sm(light, ab)
    vacated = out[24:40, x0 - 4:x0 - 1]  # where the box was one frame ago
    assert np.abs(vacated - background).max(axis=-1).mean() < 8
    inside = out[24:40, x0 + 3:x0 + 13]
    assert np.abs(inside - box_colour).max(axis=-1).mean() < 8


def test_interrupt_leaves_nothing_under_final_name(tmp_path, tiny_model):
    src = tmp_path / "long.mp4"
    make_clip(src, frames=400, width=320, height=240, audio=None)
    dst = tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "colorize", "video", str(src), "-o", str(dst),
                             "--model", str(tiny_model), "--preset", "veryslow"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(tmp_path.glob(".out.partial*")):
        time.sleep(0.05)
    assert list(tmp_path.glob(".out.partial*")), "encoding never started"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert not dst.exists()
    assert not list(tmp_path.glob(".out.partial*"))


@pytest.mark.parametrize("mode", ["none", "ema", "flow"])
def test_frames_command(tmp_path, tiny_model, mode):
    from PIL import Image

    from tests.helpers import gradient_gray

    src = tmp_path / "seq"
    src.mkdir()
    for i in range(4):
        Image.fromarray(np.roll(gradient_gray(24, 32), i, axis=1)).save(src / f"f{i:04d}.png")
    dst = tmp_path / "out"
    r = runner.invoke(app, ["frames", str(src), "-o", str(dst), "--model", str(tiny_model),
                            "--smooth", mode])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in dst.iterdir()) == [f"f{i:04d}.png" for i in range(4)]


def test_frames_of_a_folder_without_images_is_one_error_line(tmp_path, tiny_model):
    (tmp_path / "seq").mkdir()
    (tmp_path / "seq" / "readme.txt").write_text("x")
    r = runner.invoke(app, ["frames", str(tmp_path / "seq"), "-o", str(tmp_path / "out"),
                            "--model", str(tiny_model)])
    assert r.exit_code == 1 and r.output.startswith("error: no images in"), r.output
    assert not (tmp_path / "out").exists()


def test_segment_start_end(tmp_path, tiny_model):
    src = tmp_path / "in.mp4"
    info = make_clip(src, frames=30)  # a frame every 41 ms
    dst = tmp_path / "seg.mp4"
    r = run_video(src, dst, tiny_model, "--start", "0.3", "--end", "0.9")
    assert r.exit_code == 0, r.output
    expected = [p for p in info["pts"] if 300 <= p < 900]
    b = probe(dst)
    assert len(b["pts"]) == len(expected)
    assert b["pts"][0] == 0 and b["audio_packets"] > 0
    late = tmp_path / "late.mp4"
    r = run_video(src, late, tiny_model, "--start", "5")
    assert r.exit_code == 1 and not late.exists()
    assert "no video frames between --start and --end (the video lasts 1.2" in r.output
    assert r.output.startswith("error:"), r.output  # no blank line from a bar never drawn


def test_ten_bit_input_stays_ten_bit(tmp_path, tiny_model):
    from colorize.core.session import Colorizer
    from colorize.core.video import VideoOptions, colorize_video

    src = tmp_path / "ten.mkv"
    make_clip(src, frames=8, pix_fmt="yuv420p10le", audio=None)
    dst = tmp_path / "out.mp4"
    # x264's crf 0 is lossless at 8 bits only: qp 0 (the API's lossless switch) at 10
    report = colorize_video(src, dst, Colorizer(str(tiny_model)), VideoOptions(lossless=True))
    assert report.frames == 8 and not report.notes
    assert _stream_tags(dst)["pix_fmt"] == "yuv420p10le"
    a, b = probe(src), probe(dst)
    # MKV -> MP4: the muxer picks its own time scale; every frame's time is kept
    assert [p * b["time_base"] for p in b["pts"]] == [p * a["time_base"] for p in a["pts"]]
    for ya, yb in zip(a["luma"], b["luma"], strict=True):  # all ten bits, untouched
        assert ya.dtype == np.uint16 and ya.max() > 255
        np.testing.assert_array_equal(ya, yb)
    rgb = b["frames"][3].to_ndarray(format="rgb24").astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 2  # colorized


def test_ten_bit_input_into_an_eight_bit_encoder(tmp_path, tiny_model):
    src = tmp_path / "ten.mkv"
    make_clip(src, frames=6, pix_fmt="yuv420p10le", audio=None)
    dst = tmp_path / "out.mp4"
    r = run_video(src, dst, tiny_model, "--codec", "mpeg4")
    assert r.exit_code == 0, r.output
    assert "10-bit input (yuv420p10le) written as 8-bit yuv420p" in r.output
    assert _stream_tags(dst)["pix_fmt"] == "yuv420p" and len(probe(dst)["pts"]) == 6


def test_eight_bit_switch_for_a_ten_bit_source(tmp_path, tiny_model):
    src = tmp_path / "ten.mkv"
    make_clip(src, frames=6, pix_fmt="yuv420p10le", audio=None)
    dst = tmp_path / "out.mp4"
    r = run_video(src, dst, tiny_model, "--8-bit")
    assert r.exit_code == 0, r.output
    assert "10-bit input (yuv420p10le) written as 8-bit yuv420p (--8-bit)" in r.output
    assert _stream_tags(dst)["pix_fmt"] == "yuv420p"
    r = run_video(src, tmp_path / "p.mov", tiny_model, "--8-bit", "--codec", "prores_ks")
    assert r.exit_code == 1 and "prores_ks takes no 8-bit YUV" in r.output


def test_eight_bit_input_into_a_ten_bit_only_encoder(tmp_path, tiny_model):
    # ProRes takes 10-bit 4:2:2 or 4:4:4 only: 8-bit 4:2:0 frames are brought to it
    src = tmp_path / "in.mp4"
    make_clip(src, frames=6, audio=None)
    dst = tmp_path / "out.mov"
    r = run_video(src, dst, tiny_model, "--codec", "prores_ks")
    assert r.exit_code == 0, r.output
    assert "8-bit input (yuv420p) written as 10-bit yuv422p10le" in r.output
    assert _stream_tags(dst)["pix_fmt"] == "yuv422p10le"
    a, b = probe(src), probe(dst)
    for ya, yb in zip(a["luma"], b["luma"], strict=True):  # ProRes is lossy: close, x4
        assert np.abs(ya.astype(float) * 4 - yb).mean() < 4


def test_eval_video_compares_modes(tmp_path, tiny_model):
    import json

    pytest.importorskip("skimage")
    src = tmp_path / "in.mp4"
    make_clip(src, frames=12, audio=None)
    out = tmp_path / "v.json"
    r = runner.invoke(app, ["eval", "--model", str(tiny_model), "--video", str(src),
                            "--json", str(out), "--smooth-strength", "0.9"])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert res["frames"] == 12
    for mode in ("none", "ema", "flow"):
        assert {"psnr", "de76", "colorfulness", "warp_error_norm", "cdc"} <= set(res[mode])
    assert res["flow"]["warp_error_norm"] <= res["none"]["warp_error_norm"]
    assert "warp_error_norm" in res["truth"]
    # the gray baseline: the decoded luma with neutral chroma, scored the same way
    assert res["gray"]["colorfulness"] < 1.0 < res["truth"]["colorfulness"]
    assert res["gray"]["psnr"] > 10 and res["gray"]["de76"] > 0


@pytest.mark.parametrize("bits", [8, 10])
@pytest.mark.parametrize("full_range", [False, True])
def test_chroma_maker_fast_paths_match_the_formulas(full_range, bits):
    rng = np.random.default_rng(3)
    kr, kb = 0.2126, 0.0722
    cm = ChromaMaker(kr, kb, full_range, bits)
    top, step = (1 << bits) - 1, 1 << (bits - 8)
    y = rng.integers(0, top + 1, (90, 160)).astype(np.uint8 if bits == 8 else np.uint16)
    small = area_shrink(y, (64, 36))
    assert np.array_equal(cm.light(y, (64, 36)), gray_to_l(cm.luma_to_unit(small)))
    # the luma codes' range: black and white of the format
    black, white = (0, top) if full_range else (16 * step, 235 * step)
    assert cm.luma_to_unit(np.array([black, white])).tolist() == [0.0, 1.0]
    light = rng.uniform(5, 95, (36, 64)).astype(np.float32)
    ab = rng.normal(0, 15, (36, 64, 2)).astype(np.float32)
    u, v = cm.planes(light, ab, (80, 45))
    assert u.dtype == v.dtype == y.dtype
    rgb = lab_to_rgb(np.dstack([light, ab]))
    luma = kr * rgb[..., 0] + (1 - kr - kb) * rgb[..., 1] + kb * rgb[..., 2]
    scale = float(top) if full_range else 224.0 * step
    mid = 128 * step
    ref_u = cv2.resize(0.5 * (rgb[..., 2] - luma) / (1 - kb) * scale + mid, (80, 45))
    ref_v = cv2.resize(0.5 * (rgb[..., 0] - luma) / (1 - kr) * scale + mid, (80, 45))
    # quantised before the upsampling (<= 0.5) and after it (<= 0.5, plus fixed-point error)
    assert np.abs(u - ref_u).max() <= 1.25 and np.abs(v - ref_v).max() <= 1.25
    for fast, ref in ((u, ref_u), (v, ref_v)):  # and unbiased
        assert abs(float(fast.mean()) - float(ref.mean())) < 0.05


def test_area_shrink_is_an_area_average_through_a_whole_factor():
    rng = np.random.default_rng(4)
    # smooth content, as luma at working size is: the two-stage filter must match one area
    # resize to within a code value or so
    y = cv2.GaussianBlur(rng.integers(0, 256, (720, 1280), dtype=np.uint8), (0, 0), 3)
    direct = cv2.resize(y, (256, 128), interpolation=cv2.INTER_AREA).astype(np.float32)
    shrunk = area_shrink(y, (256, 128))
    assert shrunk.shape == (128, 256) and shrunk.dtype == np.uint8
    assert np.abs(shrunk - direct).mean() < 1.0
    # a whole ratio, or no common factor: exactly OpenCV's single area resize
    for size, src in (((256, 144), y), ((100, 50), y[:719, :1279])):
        assert np.array_equal(area_shrink(src, size),
                              cv2.resize(src, size, interpolation=cv2.INTER_AREA))
    # constant stays constant (weights sum to one in both stages)
    assert np.all(area_shrink(np.full((720, 1280), 77, np.uint8), (256, 128)) == 77)


def test_video_restores_opencv_threads_after_success_and_failure(tmp_path, tiny_model):
    from colorize.core.errors import VideoError
    from colorize.core.session import Colorizer
    from colorize.core.video import VideoOptions, colorize_video

    src = tmp_path / "in.mp4"
    make_clip(src, frames=12, audio=None)
    col = Colorizer(tiny_model, device="cpu")
    before = cv2.getNumThreads()
    opts = VideoOptions(preset="ultrafast", cv_threads=1)
    seen = []
    report = colorize_video(src, tmp_path / "out.mp4", col, opts,
                            on_progress=lambda done, total: seen.append(cv2.getNumThreads()))
    assert report.frames == 12 and set(seen) == {1}  # one thread while it ran
    assert cv2.getNumThreads() == before
    cancel = threading.Event()
    cancel.set()  # fails inside the run, after the input opened
    with pytest.raises(VideoError, match="interrupted"):
        colorize_video(src, tmp_path / "out2.mp4", col, opts, cancel=cancel)
    assert cv2.getNumThreads() == before and not (tmp_path / "out2.mp4").exists()


def test_frame_order_reads_numbers_as_numbers():
    from colorize.core.frames import frame_order

    names = ["scan10.tif", "scan9.tif", "scan1.tif", "scan100.tif", "scan2b.tif"]
    assert [p.name for p in sorted(map(Path, names), key=frame_order)] == [
        "scan1.tif", "scan2b.tif", "scan9.tif", "scan10.tif", "scan100.tif"]
    padded = [f"f{i:04d}.png" for i in (3, 12, 1)]
    assert sorted(map(Path, padded), key=frame_order) == sorted(map(Path, padded))


@pytest.mark.parametrize("mode", ["ema", "flow"])
def test_smoother_starts_afresh_when_the_frame_size_changes(mode):
    smoother = Smoother(SmootherConfig(mode, 0.9, cut_threshold=0))
    light = np.tile(np.linspace(20, 80, 40, dtype=np.float32), (24, 1))
    ab = np.full((24, 40, 2), 10, np.float32)
    smoother(light[:, :32], ab[:, :32])
    out = smoother(light, ab * 2)  # same scene, 8 columns wider: nothing to blend with
    assert out.shape == (24, 40, 2)
    np.testing.assert_allclose(out, ab * 2, atol=1e-4)


def _raw_h264(path, width: int, height: int, frames: int) -> bytes:
    import av

    with av.open(str(path), "w", format="h264") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        _encode(c, s, [np.full((height, width, 3), 12 * i, np.uint8) for i in range(frames)])
    return path.read_bytes()


def test_raw_stream_without_timestamps_and_a_size_change(tmp_path, tiny_model):
    # a raw H.264 elementary stream carries no timestamps; two joined ones change size
    joined = tmp_path / "joined.h264"
    joined.write_bytes(_raw_h264(tmp_path / "a.h264", 64, 48, 8)
                       + _raw_h264(tmp_path / "b.h264", 80, 64, 6))
    dst = tmp_path / "out.mp4"
    r = run_video(joined, dst, tiny_model)
    assert r.exit_code == 0, r.output
    assert "14 frames had no timestamp: stamped at the stream's frame rate (25 fps)" in r.output
    assert "6 frames of 80x64 scaled to the output's 64x48" in r.output
    b = probe(dst)
    assert (b["width"], b["height"]) == (64, 48) and len(b["pts"]) == 14
    times = [float(p * b["time_base"]) for p in b["pts"]]
    assert np.allclose(np.diff(times), 0.04)


def test_eval_refuses_what_has_no_colour_truth_and_says_why(tmp_path, tiny_model):
    clip = tmp_path / "gray.mp4"
    make_clip(clip, frames=6, audio=None, pix_fmt="gray")
    r = runner.invoke(app, ["eval", "--model", str(tiny_model), "--video", str(clip)])
    assert r.exit_code == 1 and "the clip has no colour" in r.output
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "g.png"), np.full((40, 40), 90, np.uint8))
    r = runner.invoke(app, ["eval", "--model", str(tiny_model), "--data", str(photos)])
    assert r.exit_code == 1
    assert "no image could be evaluated:" in r.output and "gray image, no colour truth" in r.output


def test_timecodes_move_with_the_segment_and_drop_frame_ones_are_not_guessed():
    from fractions import Fraction

    from colorize.core.streams import shift_timecode

    assert shift_timecode("01:00:00:00", 0.2, Fraction(25)) == "01:00:00:05"
    assert shift_timecode("00:59:59:24", 2.0, Fraction(25)) == "01:00:01:24"
    assert shift_timecode("23:59:59:23", 1 / 24, Fraction(24)) == "00:00:00:00"
    # 29.97 counts 30 frames a second: 6 s of it is 180 frames, 6 s of codes
    assert shift_timecode("10:00:00:00", 6.006, Fraction(30000, 1001)) == "10:00:06:00"
    assert shift_timecode("01:00:00;00", 1.0, Fraction(30000, 1001)) is None
    assert shift_timecode("reel 4", 1.0, Fraction(25)) is None


def _film_with_tags(path, rate, timecode):
    with av.open(str(path), "w") as c:
        c.metadata["title"] = "Holiday 1962"
        v = c.add_stream("libx264", rate=rate)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.options = {"qp": "0", "preset": "ultrafast"}
        v.metadata["timecode"] = timecode
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        a.metadata["language"] = "fra"
        images = [np.zeros((48, 64, 3), np.uint8) for _ in range(12)]
        for i, img in enumerate(images):
            img[..., 0], img[..., 2] = 20 * i, 200 - 10 * i
        _encode(c, v, images)
        samples = np.zeros((1, 8000), np.float32)
        af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        af.sample_rate, af.pts = 16000, 0
        for p in [*a.encode(af), *a.encode(None)]:
            c.mux(p)


def _tags(path):
    with av.open(str(path)) as c:
        lower = lambda d: {k.lower(): v for k, v in d.items()}  # noqa: E731  MKV: upper case
        return lower(c.metadata), [(s.type, lower(s.metadata)) for s in c.streams]


@pytest.mark.parametrize("suffix", [".mov", ".mkv"])
def test_titles_languages_and_the_timecode_kept(tmp_path, tiny_model, suffix):
    src = tmp_path / "film.mov"
    _film_with_tags(src, 25, "01:00:00:00")
    dst = tmp_path / f"out{suffix}"
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    assert "dropped" not in r.output  # the source's timecode track rides on the video's tags
    top, streams = _tags(dst)
    assert top["title"] == "Holiday 1962"
    kinds = dict((t, m) for t, m in reversed(streams))
    assert kinds["video"]["timecode"] == "01:00:00:00" and kinds["audio"]["language"] == "fra"
    assert ("data" in kinds) == (suffix == ".mov")  # MOV writes a timecode track from it

    part = tmp_path / f"part{suffix}"
    r = run_video(src, part, tiny_model, "--start", "0.2")  # 5 frames in at 25 fps
    assert r.exit_code == 0, r.output
    assert dict(_tags(part)[1])["video"]["timecode"] == "01:00:00:05"


def test_a_timecode_a_timecode_track_cannot_carry_is_left_out_not_the_film(tmp_path,
                                                                          tiny_model):
    src = tmp_path / "fast.mkv"
    _film_with_tags(src, 1000, "01:00:00:00")  # a frame a millisecond: 1000 fps
    with av.open(str(src)) as c:
        assert c.streams.video[0].average_rate == 1000
    dst = tmp_path / "out.mov"
    r = run_video(src, dst, tiny_model)
    assert r.exit_code == 0, r.output
    assert "timecode 01:00:00:00 left out: a timecode track cannot run at 1000 fps" in r.output
    assert "timecode" not in dict(_tags(dst)[1])["video"]
    r = run_video(src, tmp_path / "out.mkv", tiny_model)  # a Matroska tag has no such limit
    assert r.exit_code == 0 and "left out" not in r.output
    assert dict(_tags(tmp_path / "out.mkv")[1])["video"]["timecode"] == "01:00:00:00"


def test_libx264_is_held_to_avx2_on_an_avx512_cpu(monkeypatch):
    from colorize.core import streams

    monkeypatch.setattr(streams, "_avx512", lambda: True)
    assert streams.repeatable("libx264", {"crf": "18"}) == {"crf": "18",
                                                           "x264-params": "asm=avx2"}
    assert streams.repeatable("libx264", {"x264-params": "tff=1"})["x264-params"] == (
        "tff=1:asm=avx2")
    assert streams.repeatable("libx265", {"crf": "18"}) == {"crf": "18"}
    monkeypatch.setattr(streams, "_avx512", lambda: False)
    assert streams.repeatable("libx264", {"crf": "18"}) == {"crf": "18"}


def test_the_same_clip_gives_the_same_bytes_every_run(tmp_path, tiny_model):
    # without the AVX2 hold, 20 runs of this on an AVX-512 machine gave 5 different files
    from colorize.core.session import Colorizer
    from colorize.core.video import VideoOptions, colorize_video

    src = tmp_path / "clip.mp4"
    make_clip(src, frames=6, audio=None)
    model = Colorizer(str(tiny_model), device="cpu")
    outs = set()
    for i in range(6):
        dst = tmp_path / f"out{i}.mp4"
        colorize_video(src, dst, model, VideoOptions())
        outs.add(dst.read_bytes())
    assert len(outs) == 1


def test_batch_size_changes_neither_frames_nor_colours(tmp_path, tiny_model):
    """13 frames in batches of 1, 3 and the default: a last, partial batch is flushed, frames
    stay in order with their own times, and the colours agree (lossless output)."""
    from colorize.core.session import Colorizer
    from colorize.core.video import VideoOptions, colorize_video

    src = tmp_path / "in.mkv"
    make_clip(src, frames=13, audio=None)
    col = Colorizer(tiny_model, device="cpu")
    default = VideoOptions().batch
    assert 13 % default and 13 % 3
    chroma = {}
    for batch in (1, 3, default):
        dst = tmp_path / f"b{batch}.mkv"
        report = colorize_video(src, dst, col, VideoOptions(lossless=True, batch=batch))
        info = probe(dst)
        assert report.frames == 13 and info["pts"] == probe(src)["pts"]
        chroma[batch] = np.stack([f.to_ndarray()[48:] for f in info["frames"]])  # U, V rows
    colourful = chroma[1].astype(int) - 128
    assert np.abs(colourful).mean() > 2  # colorized, not gray
    for batch in (3, default):  # ONNX Runtime may round a batch differently: within a code
        assert np.abs(chroma[batch].astype(int) - chroma[1]).max() <= 1


def _gray_frames(folder: Path, count: int) -> list[Path]:
    """count different gray PNG frames (each its own coloured pattern, reduced to gray)."""
    from tests.helpers import color_image

    folder.mkdir()
    paths = []
    for i in range(count):
        gray = cv2.cvtColor(color_image(40, 56, seed=i), cv2.COLOR_RGB2GRAY)
        paths.append(folder / f"f{i:04d}.png")
        cv2.imwrite(str(paths[-1]), gray)
    return paths


@pytest.mark.parametrize("in_line", [False, True])
def test_frames_read_ahead_and_written_behind_keep_each_frame_its_own_colour(
        tmp_path, tiny_model, monkeypatch, in_line):
    """Frames are read and written in threads of their own (or, frames too large for that,
    in line): each output must still be its own frame's colorization, results in the
    frames' order, with a broken frame and a frame already done among them."""
    import colorize.core.frames as frames_mod
    from colorize.core.frames import colorize_sequence
    from colorize.core.imageio import read_image
    from colorize.core.pipeline import Settings, colorize_picture
    from colorize.core.session import Colorizer

    paths = _gray_frames(tmp_path / "seq", 7)
    paths[3].write_bytes(b"not a png")
    dst = tmp_path / "out"
    dst.mkdir()
    (dst / "f0005.png").write_bytes(b"done before")
    if in_line:  # every frame counts as too large to hold two at once
        monkeypatch.setattr(frames_mod, "OVERLAP_PIXELS", 100)
    col = Colorizer(tiny_model, device="cpu")
    results = list(colorize_sequence(tmp_path / "seq", dst, col, SmootherConfig("none")))
    assert [(r.path.name, r.status) for r in results] == [
        ("f0000.png", "done"), ("f0001.png", "done"), ("f0002.png", "done"),
        ("f0003.png", "failed"), ("f0004.png", "done"), ("f0005.png", "skipped"),
        ("f0006.png", "done")]
    assert (dst / "f0005.png").read_bytes() == b"done before"
    for i in (0, 1, 2, 4, 6):
        # with no smoothing, a frame comes out as the image on its own would
        alone = colorize_picture(read_image(paths[i]), col, Settings(saturation=1.0))
        expected = np.clip(np.rint(alone * 255), 0, 255).astype(np.uint8)
        got = cv2.cvtColor(cv2.imread(str(dst / paths[i].name)), cv2.COLOR_BGR2RGB)
        assert np.abs(got.astype(int) - expected).max() <= 1, paths[i].name
        assert np.abs(got[..., 0].astype(int) - got[..., 2]).mean() > 1  # colorized


def test_frames_write_error_ends_the_run_at_that_frame(tmp_path, tiny_model):
    from colorize.core.errors import ColorizeError
    from colorize.core.frames import colorize_sequence
    from colorize.core.session import Colorizer

    _gray_frames(tmp_path / "seq", 5)
    dst = tmp_path / "out"
    (dst / "f0002.png").mkdir(parents=True)  # its file cannot be written
    col = Colorizer(tiny_model, device="cpu")
    done = []
    with pytest.raises(ColorizeError, match="f0002.png: cannot write"):
        for result in colorize_sequence(tmp_path / "seq", dst, col, SmootherConfig(),
                                        overwrite=True):
            done.append(result.path.name)
    assert done == ["f0000.png", "f0001.png"]
    # the frames after it are not written, and nothing half-written is left
    assert sorted(p.name for p in dst.iterdir()) == ["f0000.png", "f0001.png", "f0002.png"]


def _displayed_rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
    return [np.rot90(f.to_ndarray(format="rgb24"), round(f.rotation / 90)).astype(int)
            for f in frames]


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_a_clip_stored_turned_is_colorized_as_it_is_displayed(tmp_path, tiny_model, rotation):
    # a phone stores a portrait clip sideways with a display rotation: the model must see
    # the picture upright, so the colour comes out as for the same clip stored upright
    common = dict(frames=6, width=64, height=48, pix_fmt="yuv444p", audio=None)
    make_clip(tmp_path / "up.mp4", **common)
    make_clip(tmp_path / "turned.mp4", rotation=rotation, turned=True, **common)
    for name in ("up", "turned"):
        r = run_video(tmp_path / f"{name}.mp4", tmp_path / f"{name}_out.mp4", tiny_model)
        assert r.exit_code == 0, r.output
    src = _displayed_rgb(tmp_path / "turned.mp4")
    np.testing.assert_array_equal(src[0], _displayed_rgb(tmp_path / "up.mp4")[0])
    up = _displayed_rgb(tmp_path / "up_out.mp4")
    turned = _displayed_rgb(tmp_path / "turned_out.mp4")
    assert len(up) == len(turned) == 6
    for a, b in zip(up, turned, strict=True):
        assert a.shape == b.shape == (48, 64, 3)
        assert np.abs(a - b).mean() < 0.5
    assert "colorized upright" in r.output


def test_eval_video_shows_the_model_a_turned_clip_as_it_is_displayed(tmp_path, tiny_model):
    # `colorize eval --video` must measure what `colorize video` does: the model sees the
    # frames of a clip stored sideways upright, the same pictures as for the upright clip
    from colorize.core.session import Colorizer
    from colorize.core.video_eval import evaluate_clip

    class Recording:
        def __init__(self, colorizer):
            self.colorizer, self.seen = colorizer, []

        def __getattr__(self, name):
            return getattr(self.colorizer, name)

        def predict(self, light, z=None):
            self.seen.append(np.array(light))
            return self.colorizer.predict(light, z)

    common = dict(frames=6, width=64, height=48, audio=None)
    make_clip(tmp_path / "up.mp4", **common)
    make_clip(tmp_path / "turned.mp4", rotation=90, turned=True, **common)
    seen = {}
    for name in ("up", "turned"):
        rec = Recording(Colorizer(tiny_model, device="cpu"))
        evaluate_clip(rec, tmp_path / f"{name}.mp4", modes=("none",))
        seen[name] = np.concatenate(rec.seen)
    assert seen["up"].shape == seen["turned"].shape == (6, 1, 24, 32)
    np.testing.assert_allclose(seen["turned"], seen["up"], atol=0.5)
