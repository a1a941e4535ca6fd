"""Export the source video with a new soundtrack: video packets copied, the mix encoded as AAC."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from bridge.errors import InputError, OutputError

log = logging.getLogger("foley.export")


def full_soundtrack(video: str, mix_path: Path, source: dict[str, Any], sample_rate: int = 48000) -> np.ndarray:
    """The export's audio over the whole video: the mix over the analysed range, the original elsewhere."""
    import soundfile as sf

    from models.audio import decode_audio

    duration = float(source["duration_s"])
    mix, sr = sf.read(str(mix_path), dtype="float32", always_2d=True)
    if sr != sample_rate:
        raise InputError(f"{str(mix_path)!r} is {sr} Hz; expected {sample_rate}")
    start = float(source.get("range_s", [0.0, duration])[0])
    total = round(duration * sample_rate)
    out = np.zeros((2, total), dtype=np.float32)
    lo = round(start * sample_rate)
    hi = min(total, lo + mix.shape[0])
    out[:, lo:hi] = mix[: hi - lo].T
    # The mix already holds the original audio over its range: decode only what lies outside it.
    for a, b in ((0, lo), (hi, total)):
        if b > a:
            part = decode_audio(video, a / sample_rate, b / sample_rate, sample_rate)
            if part is None:  # no audio stream
                break
            out[:, a:a + part.shape[1]] = part[:, : b - a]
    return out


def export_video(video: str, mix_path: Path, out_path: Path, source: dict[str, Any]) -> Path:
    """Write ``out_path`` atomically (temp file in the same folder, then rename)."""
    import av

    out_path = check_export_path(video, out_path)
    audio = full_soundtrack(video, mix_path, source)
    tmp = out_path.with_name(f".{out_path.stem}.tmp{out_path.suffix}")
    try:
        with av.open(video) as src, av.open(str(tmp), "w") as dst:
            vin = src.streams.video[0]
            vout = dst.add_stream_from_template(vin)
            aout = dst.add_stream("aac", rate=48000, layout="stereo")
            # Media time 0 is the first picture, which may sit at any timestamp (camera MTS, broadcast
            # TS, MKV): the audio starts at that same timestamp, or it plays early by that much.
            start = float(vin.start_time * vin.time_base) if vin.start_time is not None and vin.time_base else 0.0
            for packet in src.demux(vin):
                if packet.dts is None:
                    continue
                packet.stream = vout
                dst.mux(packet)
            _encode_audio(dst, aout, audio, offset=round(start * 48000))
        os.replace(tmp, out_path)
    except (OSError, av.error.FFmpegError) as exc:  # a full disk, a folder gone read-only
        tmp.unlink(missing_ok=True)
        why = getattr(exc, "strerror", None) or str(exc)
        raise OutputError(f"cannot write the exported video {str(out_path)!r}: {why}; nothing was written "
                          "there; free some space or choose another path") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out_path


#: Containers the export writes (the picture is copied, not re-encoded).
EXPORT_SUFFIXES = (".mp4", ".mov", ".mkv")


def check_export_path(video: str, out_path: str | Path) -> Path:
    """The export's absolute path, or OutputError naming it: checked before a job, so a job's work is
    not thrown away at its end for a path that could never be written."""
    out_path = Path(out_path).expanduser().absolute()
    if out_path.suffix.lower() not in EXPORT_SUFFIXES:
        raise OutputError(f"export path {str(out_path)!r} must end in {', '.join(EXPORT_SUFFIXES)}")
    source = Path(video).expanduser()
    if out_path.resolve() == source.resolve() or (out_path.exists() and source.exists()
                                                  and os.path.samefile(out_path, source)):
        raise OutputError(f"export path {str(out_path)!r} is the source video; choose another name")
    if out_path.is_dir():
        raise OutputError(f"export path {str(out_path)!r} is a folder; give a file name ending in .mp4")
    if not out_path.parent.is_dir():
        raise OutputError(f"cannot write {str(out_path)!r}: the folder {str(out_path.parent)!r} does not exist")
    if not os.access(out_path.parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {str(out_path)!r}: the folder {str(out_path.parent)!r} is not "
                          "writable; choose another path")
    return out_path


def _encode_audio(dst: Any, stream: Any, audio: np.ndarray, block: int = 1024, offset: int = 0) -> None:
    """Encode ``audio`` with timestamps from ``offset`` samples (the picture's first timestamp)."""
    import av

    pcm = np.clip(audio, -1.0, 1.0).astype(np.float32)
    for pos in range(0, pcm.shape[1], block):
        chunk = np.ascontiguousarray(pcm[:, pos:pos + block])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate = 48000
        frame.pts = offset + pos
        for packet in stream.encode(frame):
            dst.mux(packet)
    for packet in stream.encode(None):
        dst.mux(packet)
