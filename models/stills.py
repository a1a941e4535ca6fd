"""Colour frames at chosen media times, for the models that look at pictures (recognition, pose).

Motion analysis reads small gray frames in one pass (:mod:`models.video`). In a job that same pass also
fills a :class:`FrameStore`: small colour frames at a low fixed rate, kept as JPEG in memory, from which
the picture models take the frame nearest each time they want without decoding the file again
(:func:`colour_frames`). :func:`rgb_frames` decodes the exact frames shown at chosen times (one seek per
cluster of times, decoding forward from the keyframe): the fallback for callers without a store, times
outside it, and models that need consecutive frames.
"""
from __future__ import annotations

import bisect
import math
import threading
from typing import Any, Callable, Sequence

import numpy as np

from bridge.errors import InputError
from models.video import VideoInfo, _open, decode_size, upright

#: Times closer than this are decoded in one forward pass instead of a new seek (seconds).
SEEK_GAP_S = 2.0


def rgb_frames(info: VideoInfo, times: Sequence[float], width: int = 256) -> list[tuple[float, np.ndarray]]:
    """``(frame_time_s, RGB uint8 HxWx3)`` of the frame shown at each of ``times`` (media seconds), in the
    order given (times past the end of the stream are left out). The height follows the display aspect
    ratio, rounded to even."""
    got = rgb_frames_by_index(info, times, width)
    return [got[i] for i in range(len(times)) if i in got]


def rgb_frames_by_index(info: VideoInfo, times: Sequence[float], width: int) -> dict[int, tuple[float, np.ndarray]]:
    """:func:`rgb_frames` as a dict by index into ``times`` (times past the end have no entry)."""
    import av

    if not len(times):
        return {}
    order = sorted(range(len(times)), key=lambda i: times[i])
    w, h = decode_size(info, width)
    out: dict[int, tuple[float, np.ndarray]] = {}
    container = _open(info.path)
    try:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        tb = float(vs.time_base)
        half = 0.5 / info.fps
        k = 0
        while k < len(order):
            first = times[order[k]]
            container.seek(int((max(first, 0.0) + info.start_s) / tb), stream=vs, backward=True, any_frame=False)
            prev: tuple[float, np.ndarray] | None = None
            for frame in container.decode(vs):
                if frame.pts is None:
                    continue
                t = frame.pts * tb - info.start_s
                while k < len(order) and t > times[order[k]] + half:
                    if prev is not None:
                        out[order[k]] = prev
                    k += 1
                if k >= len(order):
                    break
                if t >= times[order[k]] - half:
                    img = upright(frame.to_ndarray(width=w, height=h, format="rgb24", interpolation="AREA"), info)
                    while k < len(order) and times[order[k]] - half <= t <= times[order[k]] + half:
                        out[order[k]] = (t, img)
                        k += 1
                    prev = (t, img)
                    if k < len(order) and times[order[k]] - t > SEEK_GAP_S:
                        break
                elif times[order[k]] - t <= half * 4:
                    prev = (t, upright(frame.to_ndarray(width=w, height=h, format="rgb24", interpolation="AREA"), info))
            else:
                # stream ended: the remaining times show the last frame decoded
                while k < len(order):
                    if prev is not None:
                        out[order[k]] = prev
                    k += 1
    except av.error.FFmpegError as exc:
        raise InputError(f"{info.path!r}: corrupt video data: {exc}") from None
    finally:
        container.close()
    return out


class FrameStore:
    """Small colour frames of one analysed span, kept while the detector's own decoding pass reads it.

    The decoder (:func:`models.video.iter_gray_frames`, given the store through :func:`models.video.keeping`)
    offers every frame; the store keeps one every ``every_s`` seconds of ``[start_s, end_s)``, ``width``
    pixels wide and upright, as JPEG (``quality``), so the picture models take their frames from memory
    instead of decoding the file a second time. :meth:`nearest` and :meth:`frames` return the kept frame
    nearest a time: at most ``every_s / 2`` (plus half a video frame) away inside the span.

    Memory is bounded by ``max_bytes``: when the kept JPEGs pass it, every second frame is dropped and the
    interval doubles (so a long span keeps an even, sparser cover rather than only its start). At 448 px
    and 4 frames a second a minute of footage takes 2-10 MB, so the default 48 MiB holds 5-20 minutes at
    the full rate.

    Readers on other threads may ask while frames still arrive: :meth:`wait` blocks until the decoding has
    passed a time or the store is closed. Closing (the decoding ended, failed or was cancelled) is final.
    """

    def __init__(self, path: str, start_s: float, end_s: float, fps: float, every_s: float = 0.25,
                 width: int = 448, quality: int = 85, max_bytes: int = 48 << 20) -> None:
        self.path = path
        self.start_s, self.end_s = float(start_s), float(end_s)
        self.fps = float(fps)
        self.every_s = float(every_s)
        self.width = int(width)
        self.quality = int(quality)
        self.max_bytes = int(max_bytes)
        self._times: list[float] = []
        self._data: list[bytes] = []
        self._bytes = 0
        self._next = self.start_s
        self._reached = -float("inf")
        self._closed = False
        self._cond = threading.Condition()

    # -- filling (the decoding thread) -------------------------------------------------------------
    def wants(self, t: float) -> bool:
        """Whether the frame at media time ``t`` is one to keep (cheap: asked for every decoded frame)."""
        if self._closed or not self.start_s - self._half <= t < self.end_s:
            return False
        # due on the grid start_s + k * every_s; the span's last frame too, so its end is covered as well
        return t >= self._next - self._half - 1e-9 or t >= self.end_s - 3 * self._half

    @property
    def _half(self) -> float:
        return 0.5 / self.fps

    def add(self, t: float, bgr: np.ndarray) -> None:
        """Keep an upright BGR uint8 frame (``width`` wide) shown at ``t``."""
        import cv2

        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise InputError(f"{self.path!r}: could not keep the colour frame at {t:.2f}s")
        self.add_encoded(t, data.tobytes())

    def add_encoded(self, t: float, data: bytes) -> None:
        """Keep an already encoded frame (as :meth:`add` made it, e.g. in another process)."""
        with self._cond:
            if not self.wants(t):
                return
            self._keep(t, data)
            self._next = self._grid_after(t)
            self._reached = max(self._reached, t)
            self._cond.notify_all()

    def _keep(self, t: float, data: bytes) -> None:
        self._times.append(float(t))
        self._data.append(data)
        self._bytes += len(data)
        while self._bytes > self.max_bytes and len(self._data) > 1:
            self._times, self._data = self._times[::2], self._data[::2]
            self._bytes = sum(len(d) for d in self._data)
            self.every_s *= 2

    def _grid_after(self, t: float) -> float:
        return self.start_s + self.every_s * (math.floor((t + self._half - self.start_s) / self.every_s + 1e-9) + 1)

    def close(self) -> None:
        """No more frames come (the decoding pass ended, failed or was cancelled)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- reading -------------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._times)

    def times(self) -> list[float]:
        with self._cond:
            return list(self._times)

    def covers(self, t: float) -> bool:
        """Whether ``t`` lies in the span this store keeps frames of."""
        return self.start_s - self._half <= t < self.end_s + self._half

    def wait(self, t: float, timeout: float | None = None) -> bool:
        """Block until a kept frame lies at or past ``t`` (so the nearest one to ``t`` is known) or the
        store is closed; False if ``timeout`` ran out first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._closed or self._reached >= t, timeout)

    def nearest(self, t: float, lo: float = -float("inf"),
                hi: float = float("inf")) -> tuple[float, np.ndarray] | None:
        """``(frame_time_s, RGB uint8 HxWx3)`` of the kept frame nearest ``t``, preferring frames in
        ``[lo, hi)`` (a shot); None while nothing is kept."""
        import cv2

        with self._cond:
            if not self._times:
                return None
            a, b = bisect.bisect_left(self._times, lo), bisect.bisect_left(self._times, hi)
            if a >= b:  # nothing kept in [lo, hi): the nearest anywhere
                a, b = 0, len(self._times)
            k = min(max(bisect.bisect_left(self._times, t, a, b), a + 1), b - 1) if b - a > 1 else a
            i = min({k - 1, k} & set(range(a, b)), key=lambda j: abs(self._times[j] - t))
            when, data = self._times[i], self._data[i]
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"{self.path!r}: a kept colour frame at {when:.2f}s does not decode")
        return when, np.ascontiguousarray(bgr[:, :, ::-1])

    def frames(self, times: Sequence[float], wait: bool = True) -> list[tuple[float, np.ndarray]]:
        """The kept frame nearest each of ``times``, in the order given (like :func:`rgb_frames`); with
        ``wait``, first waits until the decoding has passed each time."""
        out = []
        for t in times:
            if wait:
                self.wait(t)
            got = self.nearest(t)
            if got is not None:
                out.append(got)
        return out


class FrameRelay(FrameStore):
    """A :class:`FrameStore` that also hands each kept frame to ``send(t, jpeg_bytes)`` (e.g. a pipe to the
    process that owns the job's store, which then holds the same frames) and whose :meth:`close` calls
    ``send(None, b"")``."""

    def __init__(self, send: Callable[[float | None, bytes], None], **store: Any) -> None:
        super().__init__(**store)
        self._send = send

    def _keep(self, t: float, data: bytes) -> None:
        super()._keep(t, data)
        self._send(t, data)

    def close(self) -> None:
        if not self._closed:
            super().close()
            self._send(None, b"")


def store_settings(store: FrameStore) -> dict[str, Any]:
    """The keyword arguments that make an empty store (or relay) like ``store``."""
    return {"path": store.path, "start_s": store.start_s, "end_s": store.end_s, "fps": store.fps,
            "every_s": store.every_s, "width": store.width, "quality": store.quality,
            "max_bytes": store.max_bytes}


def colour_frames(info: VideoInfo, times: Sequence[float], width: int = 256,
                  store: FrameStore | None = None) -> list[tuple[float, np.ndarray]]:
    """Colour frames near ``times`` for any picture model: from ``store`` (the span's kept frames, no
    decoding; waits for the decoding to pass each time) for the times it covers when it is at least
    ``width`` wide (larger ones are scaled down), decoded with :func:`rgb_frames` for the rest. Stored
    frames are the nearest kept ones (up to half the store's interval away), not the exact frame shown
    at the time: a model that needs consecutive frames should call :func:`rgb_frames`. Never call it with the store
    on the thread that drives the store's decoding pass: it waits for the pass to reach each time."""
    import cv2

    if store is None or store.path != info.path or store.width < min(width, info.width):
        return rgb_frames(info, times, width)
    got: dict[int, tuple[float, np.ndarray]] = {}
    rest = [i for i, t in enumerate(times) if not store.covers(t)]
    for i, t in enumerate(times):
        if i in rest:
            continue
        store.wait(t)
        near = store.nearest(t)
        if near is None:
            rest.append(i)
            continue
        when, img = near
        if img.shape[1] > width:
            h = max(2, int(round(img.shape[0] * width / img.shape[1] / 2)) * 2)
            img = cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA)
        got[i] = (when, img)
    if rest:
        rest.sort()
        for k, frame in rgb_frames_by_index(info, [times[i] for i in rest], width).items():
            got[rest[k]] = frame
    return [got[i] for i in range(len(times)) if i in got]
