"""Placement math for clips and mixes: equal-power pan, stereo clips, summing, ducking, headroom.

Pure numpy, no I/O. Conventions:

* Pan position ``x`` is the event's horizontal position in the frame, 0 = hard left,
  0.5 = centre, 1 = hard right. Gains follow the equal-power (sin/cos) law, so the centre
  sits at -3 dB on each side (0.7071) and the summed power is the same everywhere.
* A non-spatial clip uses the centre gains on both channels: identical channels, the same
  loudness as a centred spatial clip, mono-compatible.
* Mixes and stems never clip: :func:`limited_true_peak` scales a buffer down only when its 4x
  oversampled true peak is above the ceiling, by one gain for the whole buffer (no dynamics, so the
  balance between events and stems is kept). Below the ceiling it is untouched.
"""
from __future__ import annotations

import math

import numpy as np

from bridge.errors import InputError
from models.sound import Sound

#: Level reported for silence (dBFS), so JSON never carries -inf.
SILENCE_DB = -120.0


def _finite(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} {value!r} must be a number") from None
    if not math.isfinite(v):
        raise InputError(f"{name} {value!r} must be a finite number")
    return v


def pan_gains(x: float) -> tuple[float, float]:
    """Equal-power (left, right) gains for a frame position ``x`` (0 left .. 1 right, clamped)."""
    pos = min(1.0, max(0.0, _finite("pan position", x)))
    theta = pos * math.pi / 2.0
    return math.cos(theta), math.sin(theta)


def pan_of(x: float) -> float:
    """The pan value applied for position ``x``, in -1 (left) .. 1 (right); 0 is centre."""
    pos = min(1.0, max(0.0, _finite("pan position", x)))
    return 2.0 * pos - 1.0


def peak_db(audio: np.ndarray) -> float:
    """Sample peak of ``audio`` in dBFS (:data:`SILENCE_DB` for silence)."""
    peak = float(np.max(np.abs(audio))) if np.size(audio) else 0.0
    return 20.0 * math.log10(peak) if peak > 10.0 ** (SILENCE_DB / 20.0) else SILENCE_DB


def gain_db_of(sound: Sound) -> float:
    """The level a sound is placed at: its peak in dBFS, set by the backend from the intensity."""
    return peak_db(sound.audio)


def render_clip(sound: Sound, x: float, spatial: bool) -> np.ndarray:
    """A (2, n) float32 stereo clip of the mono ``sound``, panned to ``x`` when ``spatial``.

    Without ``spatial`` both channels carry the same centred signal (gain 0.7071 each).
    """
    mono = np.asarray(sound.audio, dtype=np.float32)
    if mono.ndim != 1:
        raise InputError(f"sound audio shape {mono.shape} must be mono (samples,)")
    gl, gr = pan_gains(x if spatial else 0.5)
    return np.stack([mono * np.float32(gl), mono * np.float32(gr)]).astype(np.float32, copy=False)


def mix_into(buffer: np.ndarray, clip: np.ndarray, start_sample: int) -> None:
    """Add ``clip`` (ch, n) into ``buffer`` (ch, N) at ``start_sample``, in place.

    Parts of the clip before 0 or past the buffer's end are dropped; a clip entirely outside
    adds nothing.
    """
    if buffer.ndim != 2 or clip.ndim != 2 or buffer.shape[0] != clip.shape[0]:
        raise InputError(f"clip shape {clip.shape} does not match mix buffer shape {buffer.shape}; "
                         "both must be (channels, samples) with the same channel count")
    start = int(start_sample)
    total = buffer.shape[1]
    lo = max(0, -start)
    hi = min(clip.shape[1], total - start)
    if hi <= lo:
        return
    buffer[:, start + lo:start + hi] += clip[:, lo:hi]


def duck(original: np.ndarray, suppression: float) -> np.ndarray:
    """``original`` scaled by ``1 - suppression`` (0 keeps it, 1 mutes it), as float32."""
    s = _finite("music suppression", suppression)
    if not 0.0 <= s <= 1.0:
        raise InputError(f"music suppression {suppression!r} must be from 0 (keep) to 1 (mute)")
    return (np.asarray(original, dtype=np.float32) * np.float32(1.0 - s)).astype(np.float32, copy=False)


def islands(ranges: list[tuple[float, float]], gap_s: float) -> list[tuple[float, float]]:
    """The (start, end) stretches covered by ``ranges``, joined where less than ``gap_s`` apart, in order.

    The mix is made stretch by stretch, so a timeline with items hours apart costs memory and disk
    for its items, not for the silence between them."""
    out: list[list[float]] = []
    for lo, hi in sorted((float(a), float(b)) for a, b in ranges):
        if out and lo - out[-1][1] < gap_s:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(a, b) for a, b in out]


def limited_true_peak(buffer: np.ndarray, ceiling_dbtp: float) -> float:
    """Scale ``buffer`` (channels, n) in place so its 4x-oversampled true peak is at most the ceiling (one
    gain for the whole buffer); returns the true peak (dBTP) afterwards: one gain scales the oversampled
    signal alike, so the report needs no second 4x oversampling of a long mix."""
    return _limit_true_peak(buffer, ceiling_dbtp)[1]


def _limit_true_peak(buffer: np.ndarray, ceiling_dbtp: float) -> tuple[float, float]:
    from models.levels import true_peak_db

    peak = true_peak_db(buffer)
    if peak <= ceiling_dbtp:
        return 1.0, peak
    gain = 10.0 ** ((ceiling_dbtp - peak) / 20.0)
    buffer *= np.asarray(gain, dtype=buffer.dtype)
    return gain, ceiling_dbtp
