"""Colour frames at chosen media times, for the models that look at pictures (recognition, pose).

Motion analysis reads small gray frames in one pass (:mod:`models.video`); models that need colour
look at only a few moments, so they ask for those frames here: one seek per cluster of times, decoding
forward from the keyframe, RGB at a width of the caller's choosing.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from bridge.errors import InputError
from models.video import VideoInfo, _open, decode_size, upright

#: Times closer than this are decoded in one forward pass instead of a new seek (seconds).
SEEK_GAP_S = 2.0


def rgb_frames(info: VideoInfo, times: Sequence[float], width: int = 256) -> list[tuple[float, np.ndarray]]:
    """``(frame_time_s, RGB uint8 HxWx3)`` of the frame shown at each of ``times`` (media seconds), in the
    order given (times past the end of the stream are left out). The height follows the display aspect
    ratio, rounded to even."""
    import av

    if not len(times):
        return []
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
    return [out[i] for i in range(len(times)) if i in out]
