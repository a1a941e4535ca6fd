"""Odd but real media for robustness tests, written with PyAV: streams that start at a non-zero
time (MPEG-TS, MKV), files cut short, phone video with a display rotation, narrow frames.

Every clip shows a white flash on a dark frame at ``flash_s`` (media time), with a click in its
soundtrack at the same instant, so sync can be measured in what the tool writes back.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

RATE = 25
SAMPLE_RATE = 48000


def clip(path: Path, seconds: float = 2.0, start_s: float = 0.0, width: int = 160, height: int = 96,
         flash_s: float = 1.0, audio: bool = True, rotation: int | None = None, codec: str = "libx264",
         audio_s: float | None = None) -> Path:
    """Write ``path`` (container from its suffix); the first frame's timestamp is ``start_s``; the
    soundtrack lasts ``audio_s`` (default: as long as the pictures)."""
    import av

    n = int(round(seconds * RATE))
    flash = int(round(flash_s * RATE))
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=RATE)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.time_base = Fraction(1, RATE)
        if codec == "libx264":
            vs.options = {"preset": "ultrafast", "g": "12"}
        if rotation is not None:
            vs.set_display_rotation(rotation)
        aus = None
        if audio:
            aus = out.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
            aus.time_base = Fraction(1, SAMPLE_RATE)
        offset = int(round(start_s * RATE))
        for i in range(n):
            img = np.full((height, width, 3), 20, dtype=np.uint8)
            # A block moving left to right (so motion exists), a full white frame at the flash.
            x = int((width - 8) * i / max(1, n - 1))
            img[height // 3: height // 3 + 8, x:x + 8] = 200
            if i == flash:
                img[:] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = offset + i
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if aus is not None:
            total = int(round((seconds if audio_s is None else audio_s) * SAMPLE_RATE))
            pcm = np.zeros((2, total), dtype=np.float32)
            at = int(round(flash_s * SAMPLE_RATE))
            t = np.arange(2400) / SAMPLE_RATE
            pcm[:, at:at + 2400] = 0.8 * np.exp(-t * 60) * np.sin(2 * np.pi * 1000 * t)
            a_off = int(round(start_s * SAMPLE_RATE))
            for pos in range(0, total, 1024):
                chunk = np.ascontiguousarray(pcm[:, pos:pos + 1024])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                frame.sample_rate = SAMPLE_RATE
                frame.pts = a_off + pos
                for packet in aus.encode(frame):
                    out.mux(packet)
            for packet in aus.encode(None):
                out.mux(packet)
    return path


def faststart(src: Path, dest: Path) -> Path:
    """``src`` remuxed with its index first (as cameras, phones and ``-movflags faststart`` write)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dest), "w", options={"movflags": "faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dest


def damage(src: Path, dest: Path, at: float, length: int = 400, seed: int = 1) -> Path:
    """``src`` with ``length`` random bytes written over it at the fraction ``at`` of its size."""
    data = bytearray(src.read_bytes())
    pos = int(len(data) * at)
    data[pos:pos + length] = np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()
    dest.write_bytes(bytes(data))
    return dest


def truncate(src: Path, dest: Path, fraction: float = 0.5) -> Path:
    """The first ``fraction`` of ``src``'s bytes, as an interrupted copy or download leaves it."""
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest


def flash_time(path: Path) -> float:
    """Media time (first frame = 0) of the brightest frame."""
    import av

    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        start = None
        best, when = -1.0, 0.0
        for frame in c.decode(vs):
            t = float(frame.pts * vs.time_base)
            start = t if start is None else min(start, t)
            level = float(frame.to_ndarray(format="gray").mean())
            if level > best:
                best, when = level, t
    return when - (start or 0.0)


def click_time(path: Path, video_relative: bool = True) -> float:
    """Time of the loudest audio sample, relative to the first video frame's timestamp."""
    import av

    with av.open(str(path)) as c:
        vs, aus = c.streams.video[0], c.streams.audio[0]
        v0 = float(vs.start_time * vs.time_base) if vs.start_time is not None else 0.0
        chunks, t0 = [], None
        for frame in c.decode(aus):
            if t0 is None:
                t0 = float(frame.pts * aus.time_base)
            chunks.append(frame.to_ndarray()[0])
    pcm = np.concatenate(chunks)
    return (t0 or 0.0) + int(np.argmax(np.abs(pcm))) / aus.rate - (v0 if video_relative else 0.0)
