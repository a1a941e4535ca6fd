"""The project's audio decoding: a video's own soundtrack (PyAV), resampled to the mix rate, for the
mix and the export (:func:`decode_audio`); and sound files at their own rate and channels for the
sound library and the bundled kit (:func:`read_audio`: libsndfile, then PyAV for what it cannot read)."""
from __future__ import annotations

import logging
import os
import stat
from fractions import Fraction

import numpy as np

from bridge.errors import InputError

log = logging.getLogger("foley.audio")


def decode_audio(path: str, start_s: float, end_s: float, sample_rate: int = 48000) -> np.ndarray | None:
    """Stereo float32 (2, n) of the first audio stream over [start_s, end_s) in media time.

    Returns None when the file has no audio stream. n is exactly round((end_s - start_s) * sample_rate).
    """
    import av

    n_out = max(0, round((end_s - start_s) * sample_rate))
    try:
        container = av.open(path)
    except av.error.FFmpegError as exc:
        raise InputError(f"{path!r}: cannot open for audio: {exc}") from None
    try:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        stream.codec_context.thread_type = "AUTO"
        time_base = _time_base(stream.time_base, path)
        origin = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
        vs = container.streams.video[0] if container.streams.video else None
        video_origin = (float(vs.start_time * _time_base(vs.time_base, path))
                        if vs is not None and vs.start_time is not None else origin)
        if start_s > 1.0:
            container.seek(int((start_s - 1.0 + video_origin) / float(time_base)), stream=stream)
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=sample_rate)
        out = np.zeros((2, n_out), dtype=np.float32)
        cursor_time: float | None = None
        pos = 0
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * _time_base(frame.time_base, path)) - video_origin
            if cursor_time is None:
                cursor_time = t
                pos = round((t - start_s) * sample_rate)
            for rf in resampler.resample(frame):
                data = rf.to_ndarray().astype(np.float32)
                pos = _place(out, data, pos)
            if pos >= n_out:
                break
        for rf in resampler.resample(None):
            pos = _place(out, rf.to_ndarray().astype(np.float32), pos)
        return out
    except av.error.FFmpegError as exc:
        raise InputError(f"{path!r}: corrupt audio data: {exc}") from None
    finally:
        container.close()


def _time_base(time_base: Fraction | None, path: str) -> Fraction:
    if time_base is None:
        raise InputError(f"{path!r}: its timestamps have no time base; remux it (ffmpeg -i IN -c copy OUT) and retry")
    return time_base


def _place(out: np.ndarray, data: np.ndarray, pos: int) -> int:
    n = data.shape[1]
    lo, hi = max(pos, 0), min(pos + n, out.shape[1])
    if hi > lo:
        out[:, lo:hi] = data[:2, lo - pos:hi - pos]
    return pos + n


def check_readable(path: str) -> None:
    """InputError with the operating system's own reason when ``path`` cannot be opened for reading
    (the decoders would only say "System error." or guess at a pipe)."""
    if os.path.isdir(path):
        raise InputError(f"{path!r} is a folder, not an audio file")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"{path!r} cannot be opened: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{path!r} is not a regular file (a pipe, socket or device)")
    finally:
        os.close(fd)


def read_audio(path: str, start_s: float = 0.0, max_s: float | None = None) -> tuple[np.ndarray, int]:
    """Float32 (n, channels) audio from ``start_s`` for at most ``max_s`` seconds, and its rate.

    soundfile (libsndfile) first; PyAV for what it cannot read. Raises InputError.
    """
    import soundfile as sf

    check_readable(path)
    try:
        with sf.SoundFile(path) as f:
            sr = f.samplerate
            start = int(round(start_s * sr))
            if start:
                f.seek(min(start, f.frames))
            frames = -1 if max_s is None else int(round(max_s * sr))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
            return data, sr
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        sf_error = exc
    try:
        return _read_audio_av(path, start_s, max_s)
    except InputError:
        raise InputError(f"{path!r} is not readable audio: {sf_error}") from None


def _read_audio_av(path: str, start_s: float, max_s: float | None) -> tuple[np.ndarray, int]:
    import av

    try:
        container = av.open(path)
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path!r}: {exc}") from None
    try:
        if not container.streams.audio:
            raise InputError(f"{path!r} has no audio stream")
        stream = container.streams.audio[0]
        sr = int(stream.rate or stream.codec_context.sample_rate)
        resampler = av.AudioResampler(format="fltp")
        chunks: list[np.ndarray] = []
        need = None if max_s is None else int(round(max_s * sr))
        skip = int(round(start_s * sr))
        got = 0
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                a = out.to_ndarray().astype(np.float32, copy=False)
                if skip:
                    cut = min(skip, a.shape[1])
                    a, skip = a[:, cut:], skip - cut
                chunks.append(a)
                got += a.shape[1]
            if need is not None and got >= need:
                break
        if not chunks:
            raise InputError(f"{path!r} decodes to no audio")
        data = np.concatenate(chunks, axis=1).T
        return (data[:need] if need is not None else data), sr
    except av.error.FFmpegError as exc:
        raise InputError(f"{path!r}: {exc}") from None
    finally:
        container.close()
