"""Space on the clip itself: the scene's room and the object's distance, so every host hears it.

* Room: ``event.scene["room"]`` (from understanding) picks a short room response: ``outdoor`` stays
  dry, ``small`` gets a 0.35 s tail at -18 dB, ``hall`` a 1.4 s tail at -12 dB after 18 ms. The tail is
  seeded noise shaped by an exponential decay and a low-pass (a dark room); its first sample is the
  dry sound itself, so the transient keeps its place and ``snap_offset_s`` stays true.
* Distance: from the object's size in frame, ``event.extra["size"]`` or ``event.evidence["size"]``
  (its height as a share of the frame height, 0..1). At :data:`REFERENCE_SIZE` nothing changes; a
  smaller object is taken as farther: -4.5 dB per doubling of distance and a low-pass from 16 kHz down
  to at most 3 kHz (air absorbs the highs). Without a size there is no distance change (the detector
  does not measure sizes yet).
* Ambience beds are left as recorded (they carry their own space).

Off with ``Options.room = False`` (``--no-room``) for editors who add their own reverb.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Room:
    name: str
    t60_s: float
    wet_db: float
    predelay_s: float
    tone_hz: float


ROOMS = {"small": Room("small", 0.35, -18.0, 0.004, 5000.0),
         "hall": Room("hall", 1.4, -12.0, 0.018, 3500.0)}
REFERENCE_SIZE = 0.25
DB_PER_DOUBLING = 4.5
MAX_DISTANCE_RATIO = 16.0


def room_of(event: Any) -> Room | None:
    """The room response for an event's scene; None outdoors or when the scene is unknown."""
    scene = getattr(event, "scene", None) or {}
    return ROOMS.get(str(scene.get("room") or ""))


def size_of(event: Any) -> float | None:
    """The object's size in frame (0..1 of the frame height), when known."""
    for where in (getattr(event, "extra", {}) or {}, getattr(event, "evidence", {}) or {}):
        value = where.get("size")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
            return min(1.0, float(value))
    return None


def _seed(*parts: Any) -> int:
    text = "|".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


@functools.lru_cache(maxsize=8)
def room_response(room: Room, sample_rate: int, seed: int) -> np.ndarray:
    """Impulse response: 1 at sample 0 (the dry sound), then a seeded, dark, decaying tail. The same for
    every event of a job in that room, so it is made once (read-only)."""
    from models.dsp import butter_lowpass, iir

    n = int(room.t60_s * sample_rate)
    rng = np.random.default_rng(_seed(seed, room.name))
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / room.t60_s)
    tail = iir([butter_lowpass(room.tone_hz, sample_rate)], tail)
    tail[: int(room.predelay_s * sample_rate)] = 0.0
    tail *= 10.0 ** (room.wet_db / 20.0) / max(float(np.sqrt(np.sum(tail ** 2))), 1e-12)
    ir = np.concatenate([[1.0], tail[1:]]).astype(np.float32)
    ir.flags.writeable = False
    return ir


def distance_ratio(size: float | None) -> float:
    """How many times farther than the reference the object is (1 when its size is unknown)."""
    if size is None:
        return 1.0
    return float(min(MAX_DISTANCE_RATIO, max(1.0 / MAX_DISTANCE_RATIO, REFERENCE_SIZE / size)))


def apply(audio: np.ndarray, sample_rate: int, event: Any, seed: int) -> tuple[np.ndarray, str]:
    """``audio`` (mono) placed in the event's room at its distance; (audio, what was done)."""
    if getattr(event, "kind", "") == "ambience" or len(audio) == 0:
        return audio, ""
    from models.dsp import butter_lowpass, fftconvolve, zero_phase

    out = np.asarray(audio, dtype=np.float64)
    done = []
    ratio = distance_ratio(size_of(event))
    if ratio > 1.0:
        corner = max(3000.0, 16000.0 / ratio ** 0.8)
        # zero phase, so the transient does not move
        out = zero_phase([butter_lowpass(min(corner, 0.45 * sample_rate), sample_rate)], out)
    if ratio != 1.0:
        out = out * 10.0 ** (-DB_PER_DOUBLING * math.log2(ratio) / 20.0)
        done.append(f"distance x{ratio:.2g}")
    room = room_of(event)
    if room is not None:
        out = fftconvolve(out, room_response(room, sample_rate, seed))
        fade = min(len(out) // 4, int(0.05 * sample_rate))
        if fade > 0:
            out[-fade:] *= np.linspace(1.0, 0.0, fade)
        done.append(f"{room.name} room")
    return out.astype(np.float32), ", ".join(done)
