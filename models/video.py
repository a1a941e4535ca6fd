"""Video probing and range-limited decoding to small gray frames (PyAV; FFmpeg bundled)."""
from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from bridge.errors import InputError

log = logging.getLogger("foley.video")

#: Analysis frame width; height follows the aspect ratio (rounded to even).
ANALYSIS_WIDTH = 256


@dataclass(frozen=True)
class VideoInfo:
    path: str
    fps: float
    duration_s: float
    width: int
    height: int
    has_audio: bool
    frame_count: int
    start_s: float = 0.0  # stream start time; media time 0 is the first frame
    #: Degrees the stored picture is turned counterclockwise for display (phone video's display
    #: matrix). ``width`` and ``height`` are the DISPLAY size; decoded frames come upright.
    rotation: int = 0

    def to_json(self) -> dict:
        return {"path": self.path, "fps": self.fps, "duration_s": self.duration_s, "width": self.width,
                "height": self.height, "has_audio": self.has_audio, "rotation": self.rotation}

    @property
    def stored_size(self) -> tuple[int, int]:
        """(width, height) as the frames are stored in the file, before the display rotation."""
        return (self.height, self.width) if self.rotation % 180 else (self.width, self.height)


def upright(image: np.ndarray, info: VideoInfo) -> np.ndarray:
    """A decoded frame (stored orientation, any channels) turned as the file asks it to be displayed."""
    k = (info.rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k) if k else image)


def decode_size(info: VideoInfo, width: int) -> tuple[int, int]:
    """The (width, height) to ask the decoder for, in stored orientation, so that the upright frame
    has :func:`analysis_size`."""
    w, h = analysis_size(info, width)
    return (h, w) if info.rotation % 180 else (w, h)


def _rotation(container: object, vs: object) -> int:
    """The display rotation (counterclockwise degrees, a multiple of 90) read from the first frame."""
    import av

    try:
        for frame in container.decode(vs):  # type: ignore[attr-defined]
            return int(round(float(getattr(frame, "rotation", 0) or 0) / 90.0)) * 90 % 360
    except (av.error.FFmpegError, ValueError):
        return 0
    return 0


def _open(path: str):
    import av

    if not os.path.exists(path):
        raise InputError(f"video {path!r} does not exist")
    if os.path.isdir(path):
        raise InputError(f"video {path!r} is a folder, not a video file")
    if os.path.getsize(path) == 0:
        raise InputError(f"video {path!r} is empty (0 bytes)")
    try:
        return av.open(path)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path!r} is not a readable video: {exc}") from None


#: The facts of the last PROBES_KEPT videos probed, by path, size, modification time and file: a job opened
#: through the Python API probes its video when it is opened and again when it runs (each probe opens the
#: file and decodes a frame, about 0.1 s for 1080p H.264).
PROBES_KEPT = 32


def probe(path: str) -> VideoInfo:
    """Read a video's stream facts. Raises InputError for anything that is not a usable video. A file
    probed before and unchanged since (same size, modification time and file) is not read again."""
    path = os.path.abspath(path)
    try:
        st = os.stat(path)
    except OSError:
        return _probe(path)   # _open says what is wrong
    return _probe_file(path, st.st_size, st.st_mtime_ns, st.st_ino)


@functools.lru_cache(maxsize=PROBES_KEPT)
def _probe_file(path: str, size: int, mtime_ns: int, inode: int) -> VideoInfo:
    """:func:`_probe`, remembered by the file's identity (an error is not remembered)."""
    return _probe(path)


def _probe(path: str) -> VideoInfo:
    container = _open(path)
    try:
        if not container.streams.video:
            raise InputError(f"{path!r} has no video stream")
        vs = container.streams.video[0]
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 0.0
        if fps <= 0:
            raise InputError(f"{path!r}: cannot tell the video frame rate")
        start = float(vs.start_time * vs.time_base) if vs.start_time is not None else 0.0
        if vs.duration is not None:
            duration = float(vs.duration * vs.time_base)
        elif container.duration is not None:
            # Matroska's duration counts from timestamp 0, not from the first frame: a stream that
            # starts at 10 s would otherwise read 10 s too long. Other containers give their span.
            duration = container.duration / 1_000_000
            if "matroska" in (container.format.name or ""):
                duration -= start
        else:
            duration = 0.0
        frames = vs.frames or int(round(duration * fps))
        if duration <= 0 or frames <= 0:
            raise InputError(f"{path!r} has a zero-length video stream")
        width, height = vs.codec_context.width, vs.codec_context.height
        rotation = _rotation(container, vs)
        if rotation % 180:
            width, height = height, width
        return VideoInfo(path=path, fps=fps, duration_s=duration, width=width, height=height,
                         has_audio=bool(container.streams.audio), frame_count=frames, start_s=start,
                         rotation=rotation)
    finally:
        container.close()


def analysis_size(info: VideoInfo, width: int = ANALYSIS_WIDTH) -> tuple[int, int]:
    w = min(width, info.width)
    h = max(2, int(round(info.height * w / info.width / 2)) * 2)
    return w, h


#: The colour frame store (:class:`models.stills.FrameStore`) the decoding pass fills, set by :func:`keeping`.
_KEEP: contextvars.ContextVar[Any] = contextvars.ContextVar("foley_keep_colour", default=None)


@contextlib.contextmanager
def keeping(store: Any) -> Iterator[Any]:
    """While this block runs on this thread, the gray decoding of ``store.path`` (:func:`iter_gray_frames`)
    also hands ``store`` the colour frames it wants (``store.wants(t)``, then ``store.add(t, bgr)``,
    ``store.width`` wide and upright) and closes it when the pass ends: one decoding pass feeds the motion
    analysis and the picture models. The caller that made the store closes it too (a pass may not run)."""
    token = _KEEP.set(store)
    try:
        yield store
    finally:
        _KEEP.reset(token)


def kept_store(info: VideoInfo) -> Any:
    """The colour frame store that the decoding of ``info`` on this thread fills (see :func:`keeping`), or
    None: the decoding pass (:func:`iter_gray_frames`) looks it up to keep the frames the store wants."""
    store = _KEEP.get()
    return store if store is not None and store.path == info.path else None


def _decode_frames(info: VideoInfo, start_s: float, end_s: float) -> Iterator[tuple[float, Any]]:
    """``(time_s, av.VideoFrame)`` of the decoded pictures whose media time lies in [start_s, end_s), not
    yet converted (see :class:`_Converter`). Corrupt data raises InputError; a file whose pictures stop well
    before its claimed end too (:func:`check_complete`)."""
    import av

    container = _open(info.path)
    last = start_s
    try:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        # The deblocking filter only smooths block edges, which the area-averaged downscale to
        # analysis size removes anyway; skipping it saves 10-25 % of H.264 decode time.
        vs.codec_context.options = {"skip_loop_filter": "all"}
        tb = float(vs.time_base)
        if start_s > 0.5:
            container.seek(int((start_s + info.start_s) / tb), stream=vs, backward=True, any_frame=False)
        half = 0.5 / info.fps
        for frame in container.decode(vs):
            if frame.pts is None:
                continue
            t = frame.pts * tb - info.start_s
            last = max(last, t)
            if t < start_s - half:
                continue
            if t >= end_s - half:
                break
            yield t, frame
        else:
            check_complete(info, last, end_s)
    except av.error.FFmpegError as exc:
        raise InputError(f"{info.path!r}: corrupt video data near {last:.2f}s: {exc}") from None
    finally:
        container.close()


class _Converter:
    """A decoded picture to the analysis' gray frame, upright; and to the colour frame store's size where
    the store (:func:`keeping`) wants that time."""

    def __init__(self, info: VideoInfo, width: int, keep: Any):
        self.info, self.keep = info, keep
        self.size = decode_size(info, width)
        self.keep_size = decode_size(info, keep.width) if keep is not None else (0, 0)

    def __call__(self, t: float, frame: Any, gray: bool = True) -> np.ndarray | None:
        import av

        try:
            # A contiguous copy (upright): FFmpeg pads rows of widths that are not a multiple of its
            # alignment, and OpenCV's optical flow rejects such strided arrays.
            if self.keep is not None and self.keep.wants(t):
                kw, kh = self.keep_size
                self.keep.add(t, upright(frame.to_ndarray(width=kw, height=kh, format="bgr24",
                                                          interpolation="AREA"), self.info))
            if not gray:
                return None
            w, h = self.size
            return upright(frame.to_ndarray(width=w, height=h, format="gray", interpolation="AREA"), self.info)
        except av.error.FFmpegError as exc:
            raise InputError(f"{self.info.path!r}: corrupt video data near {t:.2f}s: {exc}") from None


#: Pictures may end this much before the container's claimed end (audio often runs a little longer).
MISSING_TOLERANCE_S = 0.5


def check_complete(info: VideoInfo, last_s: float, end_s: float) -> None:
    """Refuse a video whose pictures stop well before the end its container claims: a file cut short
    (an interrupted copy or download) or one still being written would give a silently partial result."""
    frame = 1.0 / info.fps
    got = last_s + frame
    if end_s - got > max(MISSING_TOLERANCE_S, 2 * frame) and _data_end(info) < end_s - MISSING_TOLERANCE_S:
        raise InputError(
            f"{info.path!r}: pictures stop at {got:.2f}s although the file claims {info.duration_s:.2f}s "
            f"(the asked range ends at {end_s:.2f}s); it is cut short, damaged from there on, or still "
            f"being written; use the complete file, or --range 0 {got:.2f} for what is there")
    if end_s - got > 1.5 * frame:
        log.warning("%s: pictures stop at %.2fs, %.2fs before the claimed end %.2fs", info.path, got,
                    end_s - got, end_s)


def _data_end(info: VideoInfo) -> float:
    """Media time where the file's data really ends, over all streams (a soundtrack may run on after
    the pictures; a file cut short has nothing after them)."""
    import av

    container = _open(info.path)
    end = 0.0
    try:
        target = max(0.0, info.duration_s - 3.0) + info.start_s
        try:
            container.seek(int(target * 1_000_000), backward=True)
        except av.error.FFmpegError:
            pass
        for packet in container.demux():
            if packet.pts is None or packet.time_base is None:
                continue
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base) - info.start_s)
    except av.error.FFmpegError:
        pass
    finally:
        container.close()
    return end


_END = object()


def iter_gray_frames(info: VideoInfo, start_s: float = 0.0, end_s: float | None = None,
                     width: int = ANALYSIS_WIDTH, prefetch: int = 16,
                     wanted: Callable[[int], bool] | None = None) -> Iterator[tuple[float, np.ndarray | None]]:
    """Yield ``(time_s, gray uint8 HxW)`` for frames whose media time lies in [start_s, end_s).

    ``wanted(i)``, asked as the i-th frame of the range is yielded: where it is false, that frame is not
    scaled to gray (``None`` in its place; high-speed video analysed at every n-th frame). The colour
    frame store still sees every frame.

    Seeks to the keyframe before ``start_s``, so only the asked range (plus at most one GOP) is decoded.
    Times are media times (stream start subtracted). Corrupt data raises InputError.

    A reader thread only decodes, up to ``prefetch`` pictures ahead (fewer for large pictures: at most
    RAW_QUEUE_BYTES of them wait); the scaling to analysis size (libswscale, 0.5-0.7 s per 600 frames of
    1080p) runs on the calling thread, beside the decoding instead of after each picture, as does the
    caller's analysis. ``prefetch=0`` decodes inline.

    Inside :func:`keeping` (on the calling thread), the same pass also fills that colour frame store.
    """
    end_s = info.duration_s if end_s is None else end_s
    keep = kept_store(info)
    convert = _Converter(info, width, keep)
    try:
        if prefetch <= 0:
            for i, (t, frame) in enumerate(_decode_frames(info, start_s, end_s)):
                yield t, convert(t, frame, wanted is None or wanted(i))
            return
        picture = max(1, info.width * info.height * 3 // 2)   # 8-bit 4:2:0
        frames: queue.Queue = queue.Queue(maxsize=max(2, min(prefetch, RAW_QUEUE_BYTES // picture)))
        stop = threading.Event()

        def put(item: object) -> bool:
            while not stop.is_set():
                try:
                    frames.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def reader() -> None:
            try:
                for item in _decode_frames(info, start_s, end_s):
                    if not put(item):
                        return
                put(_END)
            except BaseException as exc:  # handed to the consumer, which raises it
                put(exc)

        thread = threading.Thread(target=reader, name="foley-decode", daemon=True)
        thread.start()
        try:
            i = 0
            while True:
                item = frames.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                t, frame = item  # type: ignore[misc]
                yield t, convert(t, frame, wanted is None or wanted(i))
                i += 1
        finally:
            stop.set()
            thread.join(timeout=5)
    finally:
        if keep is not None:
            keep.close()


#: Decoded pictures waiting for their conversion take at most this many bytes (1080p: 10 pictures).
RAW_QUEUE_BYTES = 32 << 20
