"""Safe media decoding and frame sampling for the watermark check.

Untrusted files arrive here. Every failure becomes a `MediaError` with a snake_case
code and a one-sentence message (no server paths); nothing decodes without a cap:
- the container is chosen by its magic bytes, never by probing every demuxer ffmpeg
  knows (that is how playlists and odd demuxers get reached), and a declared kind that
  disagrees with the content is refused;
- image dimensions are read from the header before the pixels (decompression bombs);
- video dimensions are checked before decoding, the total number of decoded frames is
  capped whatever the duration, and a wall-clock budget is checked after every frame.

Videos are not decoded end to end: for a handful of target times (spread over the clip
plus its last seconds, where TikTok's end card sits) the keyframe at or before each one
is found by a seek, and the keyframes are then decoded together by a frame-threaded
decoder (each stands alone, so they decode in parallel): one frame decode per target, no
B-frame delay. An appended end card starts a new segment and so a keyframe; a clip
with sparse keyframes yields fewer, never more, decoded frames. Clips short enough to
decode whole within the frame cap are read once in order instead. Frames are scaled straight to
the detector's input size by swscale (area filter) while converting to RGB.
"""

from __future__ import annotations

import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

__all__ = ["MediaError", "SampledFrames", "sample_frames"]

DEFAULT_SIZE = (256, 256)  # (height, width); the watermark detector's input size
MAX_FRAMES = 8  # frames returned per video (at most)
TIME_BUDGET_S = 5.0  # wall-clock seconds per media item
MAX_DECODED_FRAMES = 60  # frames decoded per video, whatever its length
MAX_FORWARD_PACKETS = 64  # packets read after a seek while looking for its keyframe
TAIL_OFFSETS_S = (0.4, 1.6)  # seconds before the end that are always sampled (end cards)
MAX_VIDEO_PIXELS = 4096 * 2304  # coded width x height (4K UHD and a little more)
MAX_IMAGE_PIXELS = 60_000_000  # declared in the header, checked before decoding
MAX_IMAGE_BYTES = 64 * 2**20
MAX_VIDEO_BYTES = 4 * 2**30
ORIGINAL_MAX_SIDE = 1280  # long side of the near-source copy kept per frame for reading small text
MILD_SHRINK = 0.75  # a near-source copy scaled by this or more is resized bilinearly (`_decode_image`)


class MediaError(Exception):
    """A media item that cannot be sampled: `code` is snake_case, `message` one sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _fit(w: int, h: int, max_side: int) -> tuple[int, int]:
    """(w, h) scaled down to fit `max_side` on the long side, kept even for yuv420p."""
    scale = min(1.0, max_side / max(w, h))
    return max(2, round(w * scale) // 2 * 2), max(2, round(h * scale) // 2 * 2)


_reformatters = threading.local()


def _reformat(frame, **kwargs):
    """`frame.reformat(**kwargs)` through one VideoReformatter per thread. It keeps swscale's context from frame to
    frame; PyAV's own `frame.reformat` / `to_ndarray` build a new one for every new frame (a third to three quarters
    of a 720p frame's conversion time). The pixels are the same. One swscale thread: by default a context starts a
    thread per core, and a context kept across a fork (the batch CLI's workers) would wait on threads the child
    does not have."""
    if not hasattr(_reformatters, "current"):
        _reformatters.current = VideoReformatter()
    return _reformatters.current.reformat(frame, threads=1, **kwargs)


class _VideoSource:
    """A decoded video frame kept as YUV (a quarter the memory of RGB), converted when read."""

    def __init__(self, frame) -> None:
        if max(frame.width, frame.height) > ORIGINAL_MAX_SIDE:  # bound what a 4K clip keeps in memory
            w, h = _fit(frame.width, frame.height, ORIGINAL_MAX_SIDE)
            frame = _reformat(frame, width=w, height=h, format="yuv420p", interpolation="AREA")
        self.frame = frame

    def rgb(self) -> np.ndarray:
        return _reformat(self.frame, format="rgb24").to_ndarray()


class _ImageSource:
    """An image file already checked by `sample_frames`, decoded again at higher resolution when read."""

    def __init__(self, path: Path, fmt: str, w: int, h: int) -> None:
        self.path, self.fmt, self.w, self.h = path, fmt, w, h

    def rgb(self) -> np.ndarray:
        tw, th = _fit(self.w, self.h, ORIGINAL_MAX_SIDE)
        # the near-source copy of a 1080x1350 photo shrinks by 0.95: there the area filter costs as much as the decode
        # (about 10 ms) and gives the same held-out results as a bilinear one (card)
        return _decode_image(self.path, self.fmt, self.w, self.h, (th, tw), bilinear_when_mild=True)


@dataclass(frozen=True)
class SampledFrames:
    frames: np.ndarray  # (N, H, W, 3) uint8 RGB at the requested size
    times_s: np.ndarray  # (N,) float seconds from the start; 0.0 for images
    duration_s: float  # 0.0 for images
    sources: tuple = ()  # per frame, what `original` reads; empty when nothing was kept

    def original(self, i: int) -> np.ndarray:
        """Frame i near source resolution (long side <= ORIGINAL_MAX_SIDE), RGB uint8: small text
        (a 40-pixel-wide mark) is legible there and not in `frames`. Converted on each call."""
        return self.sources[i].rgb() if self.sources else self.frames[i]


def _sniff(head: bytes) -> tuple[str, str] | None:
    """(kind, format) from magic bytes: ("image", "png"), ("video", "mov"), ..., or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "webp"
    if head[:2] == b"BM" and len(head) >= 26:
        return "image", "bmp"
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "video", "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", "avi"
    if head.startswith(b"FLV"):
        return "video", "flv"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "video", "mpegts"
    return None


def _describe_unknown(head: bytes) -> str:
    try:
        head.decode("utf-8")
        return "the file looks like text, not an image or a video"
    except UnicodeDecodeError:
        return "the file is not a recognised image or video format"


def _jpeg_size(f) -> tuple[int, int]:
    """Walk JPEG segments to the first start-of-frame marker; returns (width, height)."""
    f.seek(2)
    for _ in range(1000):  # a real JPEG reaches SOF within a few dozen segments
        byte = f.read(1)
        while byte == b"\xff":
            byte = f.read(1)
        if not byte:
            break
        marker = byte[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        seg = f.read(2)
        if len(seg) < 2:
            break
        length = struct.unpack(">H", seg)[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            data = f.read(5)
            if len(data) < 5:
                break
            h, w = struct.unpack(">HH", data[1:5])
            return w, h
        f.seek(length - 2, 1)
        if f.read(1) != b"\xff":
            break
        f.seek(-1, 1)
    raise MediaError("unreadable_media", "the JPEG header is corrupt or truncated")


def _image_size(path: Path, fmt: str, head: bytes) -> tuple[int, int]:
    """(width, height) declared in the image header, read without decoding pixels."""
    if fmt == "png" and len(head) >= 24 and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    if fmt == "gif" and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    if fmt == "bmp":
        w, h = struct.unpack("<ii", head[18:26])
        return abs(w), abs(h)
    if fmt == "webp" and len(head) >= 30:
        chunk = head[12:16]
        if chunk == b"VP8X":
            return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
        if chunk == b"VP8L":
            bits = int.from_bytes(head[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
        if chunk == b"VP8 ":
            w, h = struct.unpack("<HH", head[26:30])
            return w & 0x3FFF, h & 0x3FFF
    if fmt == "jpeg":
        with path.open("rb") as f:
            return _jpeg_size(f)
    raise MediaError("unreadable_media", f"the {fmt.upper()} header is corrupt or truncated")


def _sample_image(path: Path, fmt: str, head: bytes, size: tuple[int, int], max_pixels: int) -> SampledFrames:
    w, h = _image_size(path, fmt, head)
    if w <= 0 or h <= 0:
        raise MediaError("unreadable_media", f"the {fmt.upper()} header declares an empty image ({w}x{h})")
    if w * h > max_pixels:
        raise MediaError("media_too_large", f"the image is {w}x{h} pixels, over the limit of {max_pixels} pixels")
    rgb = _decode_image(path, fmt, w, h, size)
    return SampledFrames(rgb[None], np.zeros(1), 0.0, (_ImageSource(path, fmt, w, h),))


def _decode_image(path: Path, fmt: str, w: int, h: int, size: tuple[int, int], bilinear_when_mild: bool = False) -> np.ndarray:
    """The image resized to `size` (height, width) as RGB; JPEGs decode at 1/2, 1/4 or 1/8 scale
    when that still covers `size` (libjpeg scales while decoding: far cheaper than a full decode). The area filter
    resizes, or with `bilinear_when_mild` a bilinear one when the shrink is mild (MILD_SHRINK)."""
    flag = cv2.IMREAD_COLOR
    if fmt == "jpeg":
        for factor, reduced in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2)):
            if w // factor >= size[1] and h // factor >= size[0]:
                flag = reduced
                break
    img = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), flag)
    if img is None or img.ndim != 3 or img.shape[0] == 0:
        raise MediaError("unreadable_media", f"the {fmt.upper()} image data is corrupt or truncated")
    mild = size[0] >= MILD_SHRINK * img.shape[0] and size[1] >= MILD_SHRINK * img.shape[1]
    interpolation = cv2.INTER_LINEAR if bilinear_when_mild and mild else cv2.INTER_AREA
    return cv2.cvtColor(cv2.resize(img, (size[1], size[0]), interpolation=interpolation), cv2.COLOR_BGR2RGB)


def _target_times(duration: float, n: int) -> list[float]:
    """Spread over the clip plus the tail; near-duplicates (< 0.25 s apart) are merged."""
    tail = [duration - o for o in TAIL_OFFSETS_S if duration - o > 0] if duration > 2 * TAIL_OFFSETS_S[0] else []
    n_uniform = max(1, n - len(tail))
    times = sorted([(i + 0.5) * duration / n_uniform for i in range(n_uniform)] + tail)
    merged: list[float] = []
    for t in times:
        if not merged or t - merged[-1] >= 0.25:
            merged.append(t)
    return merged


class _VideoReader:
    """Bounded access to one video stream: keyframes decoded alone, or short forward runs."""

    def __init__(self, container, stream, size: tuple[int, int], deadline: float, max_decoded: int) -> None:
        self.container, self.stream, self.size = container, stream, size
        self.deadline, self.max_decoded, self.decoded = deadline, max_decoded, 0
        self.tb = float(stream.time_base) if stream.time_base else 1 / 90000
        self.start = float(stream.start_time * self.tb) if stream.start_time else 0.0

    def seconds(self, pts) -> float:
        """Seconds from the stream start of a timestamp in stream time-base units."""
        return round(max(0.0, float(pts * self.tb) - self.start), 4) if pts is not None else 0.0

    def _count(self) -> None:
        self.decoded += 1
        if time.perf_counter() > self.deadline:
            raise MediaError("media_timeout", "decoding the video took longer than its time budget")

    def rgb(self, frame) -> np.ndarray:
        return _reformat(frame, width=self.size[1], height=self.size[0], format="rgb24", interpolation="AREA").to_ndarray()

    def keyframe_packet(self, target: float) -> object | None:
        """The keyframe packet at or before `target` (found by one seek; nothing decoded yet)."""
        self.container.seek(int((self.start + target) / self.tb), stream=self.stream, backward=True, any_frame=False)
        for i, packet in enumerate(self.container.demux(self.stream)):
            if i >= MAX_FORWARD_PACKETS or packet.size == 0:
                return None
            if packet.is_keyframe:
                return packet
        return None

    def decode_keyframes(self, packets: list) -> list[tuple[float, object]]:
        """Decode keyframe packets as one stream: each stands alone, so a frame-threaded decoder
        works on several at once (one keyframe alone cannot be split across threads)."""
        cc = self.stream.codec_context
        cc.flush_buffers()
        out: list[tuple[float, object]] = []
        for packet in packets + [None]:  # None drains the frames still in the threads
            if packet is not None:
                self._count()
            try:
                out.extend((self.seconds(f.pts), f) for f in cc.decode(packet))
            except av.FFmpegError:
                continue  # a damaged keyframe: the others may still decode
        return out

    def forward_from(self, target: float, budget: int, seek: bool = True) -> list[tuple[float, object]]:
        """Decode from the keyframe before `target` (or the start) up to `budget` frames, stopping at `target`."""
        if seek:
            self.container.seek(int((self.start + target) / self.tb), stream=self.stream, backward=True, any_frame=False)
        self.stream.codec_context.flush_buffers()
        out: list[tuple[float, object]] = []
        try:
            for frame in self.container.decode(self.stream):
                self._count()
                out.append((self.seconds(frame.pts), frame))
                if out[-1][0] >= target or len(out) >= budget or self.decoded >= self.max_decoded:
                    break
        except av.FFmpegError:
            if not out:
                raise
        return out  # a stream damaged part-way still yields the frames before the damage


def _sample_video(path: Path, fmt: str, size: tuple[int, int], max_frames: int, deadline: float,
                  max_decoded: int, max_pixels: int, threads: int) -> SampledFrames:
    # skip_frame=all for the probe only: avformat_find_stream_info would otherwise decode the first
    # frame (a whole 720x1280 keyframe) just to learn what the container header already says
    with av.open(str(path), format=fmt, metadata_errors="ignore", stream_options=[{"skip_frame": "all"}]) as container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams})
            raise MediaError("unsupported_media", f"the file has no video stream (streams: {', '.join(kinds) or 'none'})")
        stream = container.streams.video[0]
        cc = stream.codec_context
        cc.thread_count = threads
        cc.thread_type = "FRAME"  # keyframes are decoded as a batch (decode_keyframes)
        cc.options = {"skip_loop_filter": "all"}  # deblocking is invisible after downscaling; ~30 % of decode time
        w, h = cc.width, cc.height
        if w <= 0 or h <= 0:
            raise MediaError("unreadable_media", "the video stream declares no frame size")
        if w * h > max_pixels:
            raise MediaError("media_too_large", f"the video is {w}x{h} pixels, over the limit of {max_pixels} pixels")
        reader = _VideoReader(container, stream, size, deadline, max_decoded)
        if stream.duration:
            duration = float(stream.duration * reader.tb)
        elif container.duration:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        fps = float(stream.average_rate) if stream.average_rate else 30.0
        picked: dict[float, object] = {}  # time -> decoded frame
        if duration * fps <= max_decoded:
            # short (or unknown-length) clip: one pass from the start, keep frames nearest the targets
            run = reader.forward_from(duration, max_decoded, seek=False)
            targets = _target_times(duration, max_frames) if duration > 0 else []
            chosen = {min(range(len(run)), key=lambda i: abs(run[i][0] - t)) for t in targets} or set(range(min(len(run), max_frames)))
            picked = {run[i][0]: run[i][1] for i in sorted(chosen)}
        else:
            # long clip: the keyframe before each target, found by seeks, then decoded together
            packets: dict[float, object] = {}
            for target in _target_times(duration, max_frames):
                if len(packets) >= max_decoded:
                    break
                try:
                    packet = reader.keyframe_packet(target)
                except av.FFmpegError:
                    continue  # a damaged stretch: the other targets may still decode
                if packet is not None:
                    packets.setdefault(reader.seconds(packet.pts), packet)  # long GOP: one keyframe, several targets
            picked = dict(reader.decode_keyframes(list(packets.values())))
        if not picked:
            raise MediaError("unreadable_media", "no video frame could be decoded (corrupt or truncated stream)")
        times = sorted(picked)
        return SampledFrames(np.stack([reader.rgb(picked[t]) for t in times]), np.asarray(times, dtype=np.float64),
                             round(max(duration, times[-1]), 4), tuple(_VideoSource(picked[t]) for t in times))


def sample_frames(path: Path, kind: str, *, max_frames: int = MAX_FRAMES, time_budget_s: float = TIME_BUDGET_S,
                  size: tuple[int, int] = DEFAULT_SIZE, max_decoded_frames: int = MAX_DECODED_FRAMES,
                  max_video_pixels: int = MAX_VIDEO_PIXELS, max_image_pixels: int = MAX_IMAGE_PIXELS,
                  threads: int = 2) -> SampledFrames:
    """Decode a few frames of one media item, resized to `size` (height, width).

    Args:
        path: the media file (already resolved inside the media root by the caller).
        kind: "video" or "image", as the post declares it; it must match the content.
        max_frames: frames returned for a video (spread over the clip plus its last seconds).
        time_budget_s: wall-clock budget; exceeding it raises `media_timeout`.
        max_decoded_frames: frames decoded per video at most, however long it is.
        threads: decoder threads (frame threading: the sampled keyframes decode in parallel).
    Raises:
        MediaError: unreadable_media, media_too_large, media_timeout or unsupported_media.
    """
    deadline = time.perf_counter() + time_budget_s
    if kind not in ("video", "image"):
        raise MediaError("unsupported_media", f"media type: expected 'video' or 'image', got {kind!r}")
    path = Path(path)
    try:
        n_bytes = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(512)
    except (FileNotFoundError, IsADirectoryError, PermissionError, OSError):
        raise MediaError("unreadable_media", "the media file does not exist or cannot be read") from None
    if n_bytes == 0:
        raise MediaError("unreadable_media", "the media file is empty (0 bytes)")
    limit = MAX_IMAGE_BYTES if kind == "image" else MAX_VIDEO_BYTES
    if n_bytes > limit:
        raise MediaError("media_too_large", f"the file is {n_bytes} bytes, over the {kind} limit of {limit} bytes")
    sniffed = _sniff(head)
    if sniffed is None:
        raise MediaError("unsupported_media", _describe_unknown(head))
    actual, fmt = sniffed
    if actual != kind:
        raise MediaError("unsupported_media", f"the media is declared as {kind} but the file is {actual} data ({fmt})")
    try:
        if kind == "image":
            return _sample_image(path, fmt, head, size, max_image_pixels)
        return _sample_video(path, fmt, size, max_frames, deadline, max_decoded_frames, max_video_pixels, threads)
    except MediaError:
        raise
    except av.FFmpegError as exc:  # ffmpeg messages carry the path: keep only the error's kind
        raise MediaError("unreadable_media", f"the {fmt} container could not be read ({type(exc).__name__})") from None
    except (OSError, ValueError, IndexError, struct.error, EOFError, cv2.error, MemoryError) as exc:
        raise MediaError("unreadable_media", f"the {fmt} data could not be decoded ({type(exc).__name__})") from None
