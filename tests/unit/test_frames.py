"""service.frames: real H.264 files made here with PyAV, and every kind of bad file."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from service.frames import MediaError, SampledFrames, sample_frames

W, H, FPS = 320, 180, 30  # tiny landscape clip: fast to encode, still real H.264
SIZE = (64, 64)


def write_video(path: Path, seconds: float, w: int = W, h: int = H, fps: int = FPS, audio: bool = False,
                gop: int | None = None, end_color: tuple | None = None) -> Path:
    """A moving gradient; the last second is a flat colour when `end_color` is given (an 'end card')."""
    n = int(seconds * fps)
    with av.open(str(path), "w") as out:
        opts = {"crf": "28", "preset": "ultrafast"}
        if gop:
            opts["g"] = str(gop)
        vs = out.add_stream("libx264", rate=fps, options=opts)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        xs = np.linspace(0, 255, w, dtype=np.float32)
        for i in range(n):
            img = np.empty((h, w, 3), np.uint8)
            img[:] = ((xs + i * 4) % 256).astype(np.uint8)[None, :, None]
            if end_color is not None and i >= n - fps:
                img[:] = end_color
            for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    return path


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        st = out.add_stream("aac", rate=16000)
        samples = np.zeros((1, 1024), np.float32)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for pkt in st.encode(frame):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


def png_header(w: int, h: int) -> bytes:
    """A PNG signature and IHDR declaring w x h, with no pixel data (a decompression-bomb header)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("media") / "clip.mp4", 2.0, end_color=(200, 30, 30))


@pytest.fixture(scope="module")
def jpg(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("media") / "photo.jpg"
    img = np.zeros((600, 800, 3), np.uint8)
    img[:, :400] = (0, 0, 255)  # BGR red on the left half
    cv2.imwrite(str(path), img)
    return path


def test_video_sampled_frames_shape_and_times(clip):
    s = sample_frames(clip, "video", size=SIZE, max_frames=6)
    assert isinstance(s, SampledFrames)
    assert s.frames.dtype == np.uint8 and s.frames.shape[1:] == (*SIZE, 3)
    assert 2 <= len(s.frames) <= 6 and len(s.times_s) == len(s.frames)
    assert np.all(np.diff(s.times_s) > 0) and 0 <= s.times_s[0] and s.times_s[-1] <= s.duration_s + 1e-6
    assert abs(s.duration_s - 2.0) < 0.1


def test_video_tail_is_sampled(clip):
    s = sample_frames(clip, "video", size=SIZE, max_frames=6)
    assert s.times_s[-1] >= 1.2  # the last second (the 'end card') is always looked at
    assert s.frames[-1, ..., 0].mean() > 150 and s.frames[-1, ..., 1].mean() < 80


def test_long_video_samples_keyframes_across_clip_and_tail(tmp_path):
    path = write_video(tmp_path / "long.mp4", 6.0, gop=15, end_color=(30, 200, 30))  # 180 frames > the cap
    s = sample_frames(path, "video", size=SIZE, max_frames=8, max_decoded_frames=60)
    assert 5 <= len(s.frames) <= 8
    assert s.times_s[0] < 1.0 and s.times_s[-1] >= 5.0  # spread over the clip, tail included
    assert s.frames[-1, ..., 1].mean() > 150  # the 'end card' colour


def test_long_gop_video_is_capped(tmp_path):
    path = write_video(tmp_path / "long.mp4", 6.0, gop=600)  # a single keyframe: seeking cannot help
    t0 = time.perf_counter()
    s = sample_frames(path, "video", size=SIZE, max_frames=8, max_decoded_frames=40)
    assert time.perf_counter() - t0 < 2.0
    assert 1 <= len(s.frames) <= 8


def test_original_frames_near_source_resolution(tmp_path, jpg):
    """`original(i)` gives frame i at source resolution, capped at ORIGINAL_MAX_SIDE on the long side."""
    path = write_video(tmp_path / "long.mp4", 6.0, gop=15, end_color=(30, 200, 30))
    s = sample_frames(path, "video", size=SIZE)
    assert len(s.sources) == len(s.frames) and s.original(len(s.frames) - 1).shape == (H, W, 3)
    assert s.original(len(s.frames) - 1)[..., 1].mean() > 150  # the same frame as frames[-1], not a neighbour
    big = sample_frames(write_video(tmp_path / "big.mp4", 0.3, w=1920, h=1080), "video", size=SIZE)
    assert big.original(0).shape == (720, 1280, 3)
    image = sample_frames(jpg, "image", size=SIZE)
    assert image.frames.shape == (1, *SIZE, 3) and image.original(0).shape == (600, 800, 3)
    assert image.original(0)[:, :400, 0].mean() > 200  # RGB: the red half stays red


def test_image_near_source_copy_filter_follows_the_shrink(tmp_path):
    """An image's near-source copy is resized bilinearly when it shrinks mildly (a 1080x1350 photo to 1024x1280: the
    area filter would cost as much as the decode) and by the area filter when it shrinks more; the detector's input
    frame always by the area filter."""
    rng = np.random.default_rng(5)
    for (w, h), mild in (((1080, 1350), True), ((2000, 2600), False)):
        rgb = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 1.5)
        path = tmp_path / f"photo{w}.png"  # PNG: no reduced decoding, so the expected pixels are easy to make
        cv2.imwrite(str(path), rgb[..., ::-1])
        s = sample_frames(path, "image", size=SIZE)
        target = (round(w * 1280 / h) // 2 * 2, 1280)
        copy = {flt: cv2.resize(rgb, target, interpolation=flt) for flt in (cv2.INTER_LINEAR, cv2.INTER_AREA)}
        assert np.array_equal(s.original(0), copy[cv2.INTER_LINEAR if mild else cv2.INTER_AREA])
        assert not np.array_equal(copy[cv2.INTER_LINEAR], copy[cv2.INTER_AREA])
        assert np.array_equal(s.frames[0], cv2.resize(rgb, SIZE[::-1], interpolation=cv2.INTER_AREA))


def test_image_sampled_as_one_frame(jpg):
    s = sample_frames(jpg, "image", size=SIZE)
    assert s.frames.shape == (1, *SIZE, 3) and s.times_s.tolist() == [0.0] and s.duration_s == 0.0
    assert s.frames[0, :, :20, 0].mean() > 200 and s.frames[0, :, :20, 2].mean() < 50  # RGB order


def test_png_image(tmp_path):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.full((100, 50, 3), 128, np.uint8))
    assert sample_frames(path, "image", size=SIZE).frames.shape == (1, *SIZE, 3)


@pytest.mark.parametrize("make, kind, code, match", [
    (lambda p: p.write_bytes(b""), "video", "unreadable_media", "empty"),
    (lambda p: p.write_bytes(b""), "image", "unreadable_media", "empty"),
    (lambda p: p.write_text("hello, this is not a video\n" * 20), "video", "unsupported_media", "text"),
    (lambda p: p.write_text("definitely not a jpeg"), "image", "unsupported_media", "text"),
    (lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "video", "unsupported_media", "not a recognised"),
    (lambda p: p.write_bytes(png_header(100_000, 100_000)), "image", "media_too_large", "100000x100000"),
    (lambda p: p.write_bytes(png_header(100_000, 100_000)), "video", "unsupported_media", "declared as video"),
    (lambda p: p.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF"), "image", "unreadable_media", "JPEG"),
])
def test_bad_files(tmp_path, make, kind, code, match):
    path = tmp_path / ("x.mp4" if kind == "video" else "x.jpg")
    make(path)
    with pytest.raises(MediaError, match=match) as err:
        sample_frames(path, kind, size=SIZE)
    assert err.value.code == code
    assert str(tmp_path) not in err.value.message


def test_image_named_mp4(tmp_path, jpg):
    path = tmp_path / "photo.mp4"
    path.write_bytes(jpg.read_bytes())
    with pytest.raises(MediaError, match="declared as video but the file is image data") as err:
        sample_frames(path, "video")
    assert err.value.code == "unsupported_media"


def test_video_declared_as_image(tmp_path, clip):
    with pytest.raises(MediaError, match="declared as image") as err:
        sample_frames(clip, "image")
    assert err.value.code == "unsupported_media"


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="does not exist") as err:
        sample_frames(tmp_path / "nope.mp4", "video")
    assert err.value.code == "unreadable_media" and "nope" not in err.value.message


@pytest.mark.parametrize("keep", [0.02, 0.3, 0.7])
def test_truncated_video(tmp_path, clip, keep):
    data = clip.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * keep)])
    try:  # a cut file may still hold decodable frames (moov first); if not, a clear error
        s = sample_frames(path, "video", size=SIZE)
        assert len(s.frames) >= 1
    except MediaError as err:
        assert err.code == "unreadable_media" and str(tmp_path) not in err.message


def test_corrupt_video_payload(tmp_path, clip):
    data = bytearray(clip.read_bytes())
    rng = np.random.default_rng(1)
    for i in rng.integers(2000, len(data), 300):  # flip bytes inside the coded frames
        data[i] ^= 0xFF
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(bytes(data))
    try:
        s = sample_frames(path, "video", size=SIZE)
        assert s.frames.shape[1:] == (*SIZE, 3)
    except MediaError as err:
        assert err.code in {"unreadable_media", "unsupported_media"}


def test_corrupt_image_payload(tmp_path, jpg):
    data = jpg.read_bytes()
    path = tmp_path / "bad.png"
    path.write_bytes(png_header(64, 64) + b"\x00" * 50)
    with pytest.raises(MediaError) as err:
        sample_frames(path, "image")
    assert err.value.code == "unreadable_media"
    path.write_bytes(data[:200])  # JPEG cut before its start-of-frame marker
    with pytest.raises(MediaError, match="JPEG") as err:
        sample_frames(path, "image")


def test_audio_only(tmp_path):
    path = write_audio_only(tmp_path / "sound.mp4")
    with pytest.raises(MediaError, match="no video stream") as err:
        sample_frames(path, "video")
    assert err.value.code == "unsupported_media"


def test_video_too_large(tmp_path, clip):
    with pytest.raises(MediaError, match="over the limit") as err:
        sample_frames(clip, "video", max_video_pixels=100 * 100)
    assert err.value.code == "media_too_large"


def test_time_budget(clip):
    with pytest.raises(MediaError, match="time budget") as err:
        sample_frames(clip, "video", time_budget_s=0.0)
    assert err.value.code == "media_timeout"


def test_unknown_kind(clip):
    with pytest.raises(MediaError, match="expected 'video' or 'image'"):
        sample_frames(clip, "audio")


def test_shared_reformatter_gives_pyav_pixels_across_sizes_and_threads():
    """`_reformat` keeps one swscale context per thread; frames of other sizes and formats, in any order and from
    other threads at once, still convert exactly as PyAV's own `frame.reformat` does. (PyAV's own call is the
    reference only, made here in one thread: on one frame from two threads at once it can crash, since each frame
    keeps its own lazily made converter.)"""
    from concurrent.futures import ThreadPoolExecutor

    from service.frames import _reformat

    rng = np.random.default_rng(3)
    frames = [av.VideoFrame.from_ndarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), format="rgb24").reformat(format="yuv420p")
              for h, w in ((64, 48), (120, 200), (64, 48))]
    jobs = [(f, kw) for f in frames for kw in (dict(format="rgb24"), dict(width=32, height=32, format="rgb24", interpolation="AREA"),
                                               dict(width=16, height=24, format="yuv420p"))]
    want = [f.reformat(**kw).to_ndarray() for f, kw in jobs]

    def ours(_) -> list[np.ndarray]:
        return [_reformat(f, **kw).to_ndarray() for _ in range(20) for f, kw in jobs][-len(jobs):]

    with ThreadPoolExecutor(3) as pool:
        for got in [ours(0)] + list(pool.map(ours, range(3))):
            for a, b in zip(got, want):
                assert a.shape == b.shape and np.array_equal(a, b)


def _convert_in_child(frame, queue) -> None:
    from service.frames import _reformat

    queue.put(_reformat(frame, width=32, height=32, format="rgb24", interpolation="AREA").to_ndarray().shape)


def test_shared_reformatter_survives_a_fork():
    """The batch CLI forks its workers. A converter kept from before the fork must still work in the child: swscale
    worker threads (its default) would not exist there, and the child would wait on them for ever."""
    import multiprocessing

    from service.frames import _reformat

    frame = av.VideoFrame.from_ndarray(np.zeros((720, 1280, 3), np.uint8), format="rgb24").reformat(format="yuv420p")
    _reformat(frame, width=32, height=32, format="rgb24", interpolation="AREA")  # the parent's converter now exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_convert_in_child, args=(frame, queue))
    child.start()
    child.join(20)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0 and queue.get(timeout=5) == (32, 32, 3)
