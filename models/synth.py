"""Procedural Foley synthesis: impacts, footsteps, whooshes and ambience beds from an event.

Every sound is built from noise and decaying sinusoids, so it needs no model weights. Impacts and
footsteps (modal synthesis, filters, convolution) run with torch/torchaudio on the CPU or a CUDA device
when asked and present; whooshes and ambience beds (spectrally shaped noise) run in numpy on the CPU.
torch is imported when the first impact or footstep is made (:func:`load_torch`), so a one-shot run
whose transients are all recordings, and whose bed or whoosh this module makes, never pays its import
(about 2 s of CPU).

* Impacts: modal synthesis. A material preset gives the partial ratios (inharmonic for metal
  and glass), the decay time of the fundamental and how much faster upper partials die, plus a
  short band-passed noise burst for the contact and a brighter tick of a few milliseconds that
  reaches the material's bandwidth (about 5 kHz for cardboard, 9-12 kHz for wood and stone, 16-18 kHz
  for metal and glass), stronger for harder hits. The preset plays the material named by
  ``event.extra["material"]`` when given, else by ``event.material`` (what understanding recognised):
  any word of the one material table (:data:`models.ucs.MATERIALS`: steel, bottle, porcelain ...),
  through :data:`MATERIAL_PRESETS` (a material without a preset of its own gets the nearest one:
  ceramic and ice ring like glass, paper, cloth, skin and earth thud like cardboard). Otherwise it is
  picked from the screen region: the frame is cut into a 3x3 grid, hits in the same cell are taken to
  be the same object and get the same preset, chosen by a hash of (seed, cell) among all presets, or
  among the floor presets (wood, stone, cardboard) for the bottom row. The clip's length comes from
  the material's ring, not from ``event.duration_s``.
* Footsteps: a heel contact at the snap point and a weaker toe contact 40-90 ms later; each is
  a low body thump, a surface-coloured noise burst and, for gravel and grass, a spray of tiny
  grains (impulses convolved with a grain kernel). The surface is ``event.extra["surface"]``
  when given, else the one :data:`MATERIAL_SURFACES` gives the event's material (the prompt's
  "footsteps on gravel"), else one surface per seed (all steps of a job walk on the same ground).
* Whooshes: noise shaped frame by frame in the frequency domain. A band whose centre (about
  250 Hz at rest to about 3.5 kHz at full speed) and level follow ``event.extra["speed_profile"]``
  (values 0..1 spread over ``event.duration_s``; a rise-and-fall bell peaking at 45 % when
  absent). The clip starts with the motion: ``snap_offset_s`` is 0 so the profile lines up with
  the event's onset and duration.
* Ambience: room tone (``intensity`` < 0.5) or outdoor air (>= 0.5), or
  ``event.extra["preset"]`` ("room"/"air"), as spectrally shaped noise with slow random
  modulation, built in blocks of frames (minutes long beds in bounded memory), 50 ms fades.

Levels: the peak is set from ``intensity`` (0..1): -30 dBFS at 0 up to -3 dBFS at 1 for
impacts, footsteps and whooshes, -42 up to -18 dBFS for ambience. Never above -3 dBFS.

Determinism: each event gets its own generators, seeded by a hash of (seed, kind, id, time in
microseconds), so the same event and seed always give the same samples, and repeated events
differ (pitch, decay, brightness and material jitter). Noise is drawn on the CPU, so CPU and
CUDA renders use the same random numbers.

Impacts and footsteps start with 5 ms of silence; ``snap_offset_s`` is exactly that pre-roll,
where the first non-zero sample of the attack sits.
"""
from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bridge.errors import InputError
from bridge.event import Event
from bridge.kinds import KINDS as KIND_NAMES
from models import ucs
from models.sound import Sound

if TYPE_CHECKING:
    import torch
    import torchaudio.functional as taf
else:
    torch = taf = None  # set by load_torch()

log = logging.getLogger("foley.synth")


def load_torch() -> None:
    """Import torch and torchaudio into this module, once (impacts and footsteps need them)."""
    global torch, taf
    if torch is None:
        import torch as torch_module
        import torchaudio.functional as taf_module

        taf = taf_module
        torch = torch_module

PRE_ROLL_S = 0.005
MAX_AMBIENCE_S = 30 * 60.0
MIN_WHOOSH_S = 0.12
AMBIENCE_FADE_S = 0.05
ROOM_T60_S = 0.25      # impact room tail length
ROOM_LEVEL = 0.1       # its peak relative to the direct sound
ROOM_TONE_HZ = 2500.0  # its brightness (low-pass corner)


@dataclass(frozen=True)
class Material:
    """Modal preset for impacts. Partial k decays in ``t60 / ratio_k ** damping`` seconds."""

    name: str
    f0: tuple[float, float]          # fundamental range (Hz), log-uniform
    ratios: tuple[float, ...]        # partial frequencies relative to the fundamental
    t60: float                       # decay to -60 dB of the fundamental (s)
    damping: float                   # upper partials decay faster with this exponent
    tilt: float                      # partial amplitude ~ ratio ** -tilt
    twin: float                      # level of a slightly detuned twin per partial (beating)
    contact_ms: float                # contact noise burst decay (ms)
    contact_hz: float                # contact burst band centre (Hz)
    contact_level: float             # contact burst level relative to the modes
    bandwidth_hz: float = 8000.0     # upper edge of the hit's energy (the contact tick's band top)
    tick_level: float = 0.0          # level of the short, bright contact tick relative to the modes
    tick_ms: float = 1.5             # its decay


MATERIALS: dict[str, Material] = {m.name: m for m in (
    Material("wood", (180.0, 520.0), (1.0, 2.76, 5.40, 8.93, 13.34), 0.25, 1.0, 0.9, 0.0, 2.5, 2500.0, 0.6,
             bandwidth_hz=9000.0, tick_level=0.25, tick_ms=1.0),
    Material("metal", (350.0, 1100.0), (1.0, 1.59, 2.14, 2.30, 2.65, 2.92, 3.16, 3.50, 4.06, 4.54, 5.93),
             1.6, 0.45, 0.45, 0.5, 1.2, 5000.0, 0.3, bandwidth_hz=16000.0, tick_level=1.5, tick_ms=8.0),
    Material("glass", (900.0, 2200.0), (1.0, 2.32, 4.25, 6.63, 9.38), 0.9, 0.6, 0.6, 0.35, 0.8, 7000.0, 0.25,
             bandwidth_hz=18000.0, tick_level=0.4, tick_ms=2.0),
    Material("plastic", (250.0, 800.0), (1.0, 1.72, 2.83, 4.05, 5.46), 0.14, 0.8, 0.8, 0.0, 2.5, 3000.0, 0.7,
             bandwidth_hz=10000.0, tick_level=0.3, tick_ms=1.0),
    Material("cardboard", (90.0, 240.0), (1.0, 1.48, 2.21, 3.17), 0.09, 0.7, 1.2, 0.0, 7.0, 900.0, 1.2,
             bandwidth_hz=5000.0, tick_level=0.2, tick_ms=2.0),
    Material("stone", (160.0, 480.0), (1.0, 1.87, 2.61, 3.93, 5.22, 6.87), 0.11, 1.0, 0.7, 0.0, 4.0, 1800.0, 1.0,
             bandwidth_hz=12000.0, tick_level=0.5, tick_ms=1.5),
)}
FLOOR_MATERIALS = ("wood", "stone", "cardboard")
#: Material (:data:`models.ucs.MATERIALS`) -> the preset that plays it.
MATERIAL_PRESETS: dict[str, str] = {
    "metal": "metal", "wood": "wood", "glass": "glass", "stone": "stone", "plastic": "plastic",
    "paper": "cardboard", "ceramic": "glass", "ice": "glass", "gravel": "stone",
    **dict.fromkeys(("cloth", "leather", "rubber", "water", "snow", "earth", "skin"), "cardboard"),
}


#: Material -> the footstep surface that walks on it, where one fits.
MATERIAL_SURFACES: dict[str, str] = {"wood": "wood", "stone": "concrete", "ceramic": "concrete", "gravel": "gravel",
                                     "earth": "grass"}


def preset_for(word: str | None) -> str | None:
    """The preset for a material word ("steel" -> metal, "porcelain" -> glass); None when it names none."""
    found = ucs.material(word)
    return MATERIAL_PRESETS.get(found.name) if found is not None else None


@dataclass(frozen=True)
class Surface:
    """Footstep preset: body thump modes, noise band, grain spray."""

    name: str
    body: tuple[tuple[float, float], ...]   # (frequency Hz, t60 s) of the low thump
    band: tuple[float, float]               # noise burst band (Hz)
    decay_ms: float                         # noise burst decay
    attack_ms: float                        # noise burst attack (soft ground is slower)
    noise_level: float
    grains: int                             # grains per contact (gravel crunch, grass blades)
    grain_spread_ms: float


SURFACES: dict[str, Surface] = {s.name: s for s in (
    Surface("concrete", ((85.0, 0.05), (240.0, 0.03)), (1200.0, 6500.0), 16.0, 0.0, 0.9, 0, 0.0),
    Surface("wood", ((120.0, 0.10), (310.0, 0.08), (690.0, 0.05)), (400.0, 3500.0), 28.0, 0.0, 0.6, 0, 0.0),
    Surface("gravel", ((70.0, 0.03),), (1500.0, 9000.0), 22.0, 1.0, 0.5, 70, 140.0),
    Surface("grass", ((60.0, 0.03),), (700.0, 5000.0), 55.0, 8.0, 0.7, 30, 170.0),
)}

AMBIENCE_PRESETS = ("room", "air")
KINDS = KIND_NAMES


# ----------------------------------------------------------------------------- small pure helpers

def event_key(seed: int, event: Event) -> int:
    """63-bit key for one event's generators: a hash of seed, kind, id and onset time (us)."""
    text = f"{int(seed)}|{event.kind}|{int(event.id)}|{round(float(event.time_s) * 1e6)}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


def _hash_pick(options: Sequence[str], *parts: Any) -> str:
    text = "|".join(str(p) for p in parts)
    return options[int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little") % len(options)]


def pick_material(event: Event, seed: int) -> str:
    """The impact preset: ``extra["material"]``, else ``event.material``, else by screen cell (see module docs)."""
    given = event.extra.get("material")
    if given is not None:
        name = preset_for(given)
        if name is None:
            raise InputError(f"impact material {given!r} is not a material word; use one of: "
                             f"{', '.join(ucs.MATERIAL_NAMES)}")
        return name
    recognised = preset_for(event.material)
    if recognised is not None:
        return recognised
    cx = min(2, max(0, int(float(event.x) * 3)))
    cy = min(2, max(0, int(float(event.y) * 3)))
    choices = FLOOR_MATERIALS if cy == 2 else tuple(MATERIALS)
    return _hash_pick(choices, "material", seed, cx, cy)


def pick_surface(event: Event, seed: int) -> str:
    """The footstep surface: ``extra["surface"]``, else the event's material's, else one per seed."""
    given = event.extra.get("surface")
    if given is not None:
        if not isinstance(given, str) or given not in SURFACES:
            raise InputError(f"footstep surface {given!r} is not one of: {', '.join(SURFACES)}")
        return str(given)
    walked = ucs.material(event.material)
    if walked is not None and walked.name in MATERIAL_SURFACES:
        return MATERIAL_SURFACES[walked.name]
    return _hash_pick(tuple(SURFACES), "surface", seed)


def pick_ambience(event: Event) -> str:
    """The ambience preset: ``extra["preset"]``, else room tone below intensity 0.5, air above."""
    given = event.extra.get("preset")
    if given is not None:
        if not isinstance(given, str) or given not in AMBIENCE_PRESETS:
            raise InputError(f"ambience preset {given!r} is not one of: {', '.join(AMBIENCE_PRESETS)}")
        return str(given)
    return "air" if float(event.intensity) >= 0.5 else "room"


def target_peak_db(kind: str, intensity: float) -> float:
    """Peak level (dBFS) for an event kind at ``intensity`` 0..1."""
    i = min(1.0, max(0.0, float(intensity)))
    if kind == "ambience":
        return -42.0 + 24.0 * i
    return -30.0 + 27.0 * i


def bell(u: np.ndarray, peak: float = 0.45) -> np.ndarray:
    """Rise-and-fall shape on 0..1: raised cosine up to ``peak``, down to 0 at 1."""
    u = np.clip(u, 0.0, 1.0)
    up = 0.5 - 0.5 * np.cos(np.pi * np.minimum(u / peak, 1.0))
    down = 0.5 + 0.5 * np.cos(np.pi * np.clip((u - peak) / (1.0 - peak), 0.0, 1.0))
    return np.where(u <= peak, up, down)


def speed_curve(profile: Any, u: np.ndarray) -> np.ndarray:
    """Speed 0..1 at relative times ``u`` from a profile list (or the default bell when None)."""
    if profile is None:
        return bell(u)
    try:
        values = np.asarray(profile, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InputError(f"speed profile {profile!r} must be a list of numbers from 0 to 1") from None
    if values.size == 0:
        return bell(u)
    if not np.all(np.isfinite(values)):
        raise InputError(f"speed profile {list(values)!r} contains NaN or infinite values")
    values = np.clip(values, 0.0, 1.0)
    if values.size == 1:
        return np.full_like(u, values[0])
    return np.interp(u, np.linspace(0.0, 1.0, values.size), values)


def fft_size(sample_rate: int, seconds: float) -> int:
    """Power-of-two FFT size nearest to ``seconds`` at ``sample_rate`` (at least 64)."""
    return max(64, 1 << round(math.log2(max(1.0, sample_rate * seconds))))


def _biquad(kind: str, freq: float, q: float, sample_rate: int) -> tuple[list[float], list[float]]:
    """RBJ cookbook (b, a) for 'lowpass', 'highpass' or 'bandpass' (0 dB peak), a0 normalised."""
    freq = min(freq, 0.45 * sample_rate)
    w0 = 2.0 * math.pi * freq / sample_rate
    alpha = math.sin(w0) / (2.0 * q)
    cw = math.cos(w0)
    if kind == "lowpass":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
    elif kind == "highpass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
    else:
        b = [alpha, 0.0, -alpha]
    a = [1 + alpha, -2 * cw, 1 - alpha]
    return [x / a[0] for x in b], [x / a[0] for x in a]


def _filter(x: torch.Tensor, kind: str, freq: float, q: float, sample_rate: int) -> torch.Tensor:
    b, a = _biquad(kind, freq, q, sample_rate)
    bt = torch.tensor(b, dtype=x.dtype, device=x.device)
    at = torch.tensor(a, dtype=x.dtype, device=x.device)
    return taf.lfilter(x, at, bt, clamp=False)


def _set_peak(x: np.ndarray, peak_db: float) -> np.ndarray:
    """``x`` as float32 scaled so its sample peak is ``peak_db`` dBFS (in place when already
    float32, so long beds are not copied; silence stays silence)."""
    out = x if x.dtype == np.float32 else x.astype(np.float32)
    peak = max(float(out.max()), -float(out.min())) if out.size else 0.0
    if peak > 0.0:
        out *= np.float32(10.0 ** (peak_db / 20.0) / peak)
    return out


def _fade(x: np.ndarray, fade_in: int, fade_out: int) -> np.ndarray:
    """Raised-cosine fades in place over the first/last samples."""
    if fade_in > 0:
        x[:fade_in] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(fade_in) / fade_in)
    if fade_out > 0:
        x[-fade_out:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade_out + 1) / fade_out)
    return x


# ----------------------------------------------------------------------------- the backend

class SynthBackend:
    """Procedural sounds for every event kind; see the module docs for the rules."""

    name = "synth"
    #: render() keeps no per-job state (each event seeds its own generator): events may render in parallel.
    thread_safe = True

    def __init__(self, device: str = "cpu") -> None:
        """``device`` is the one the engine resolved ("cpu", "cuda" or "cuda:N"): impacts and footsteps
        run there (torch is imported with the first of them); whooshes and beds run in numpy."""
        if device != "cpu" and not str(device).startswith("cuda"):
            raise InputError(f"device {device!r} is not one of: cpu, cuda")
        self.device_name = str(device)
        self._device: Any = None
        log.info("synth backend ready (%s for impacts and footsteps)", self.device_name)

    def prepare(self) -> None:
        """Import torch and set up the device now (a daemon does this while it starts, so its first
        impact does not wait for the import)."""
        _ = self.device

    @property
    def device(self) -> torch.device:
        """The torch device of impacts and footsteps (imports torch)."""
        if self._device is None:
            load_torch()
            self._device = torch.device(self.device_name)
        return self._device

    # -- entry point

    def render(self, event: Event, sample_rate: int, seed: int) -> Sound:
        """The sound for ``event`` at ``sample_rate``; same event and seed give the same samples."""
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
                or not 8000 <= int(sample_rate) <= 192000:
            raise InputError(f"sample rate {sample_rate!r} must be an integer from 8000 to 192000 Hz")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise InputError(f"seed {seed!r} must be an integer")
        for field_name in ("time_s", "duration_s", "intensity", "x", "y"):
            value = getattr(event, field_name)
            if not isinstance(value, (int, float, np.number)) or not math.isfinite(float(value)):
                raise InputError(f"event {event.id} {field_name} {value!r} must be a finite number")
        if event.kind not in KINDS:
            raise InputError(f"event kind {event.kind!r} is not one of: {', '.join(KINDS)}")
        sr = int(sample_rate)
        key = event_key(int(seed), event)
        rng = np.random.default_rng(key)
        if event.kind in ("whoosh", "ambience"):
            audio, snap, what = (self._whoosh if event.kind == "whoosh" else self._ambience)(event, sr, rng)
        else:
            load_torch()
            gen = torch.Generator(device="cpu").manual_seed(key)
            transient = self._impact if event.kind == "impact" else self._footstep
            audio, snap, what = transient(event, sr, int(seed), rng, gen)
        audio = _set_peak(audio, target_peak_db(event.kind, event.intensity))
        label = f"{event.kind} ({what})" if what else event.kind
        extra = f", {event.duration_s:.2f} s" if event.kind in ("whoosh", "ambience") else ""
        description = f"{label} at {event.time_s:.3f} s{extra}, intensity {event.intensity:.2f}"
        return Sound(audio=audio, sample_rate=sr, snap_offset_s=snap, backend=self.name,
                     description=description)

    # -- shared building blocks

    def _noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(n, generator=gen, dtype=torch.float32).to(self.device)

    def _modes(self, t: torch.Tensor, freqs: np.ndarray, amps: np.ndarray, t60s: np.ndarray,
               phases: np.ndarray, sample_rate: int) -> torch.Tensor:
        """Sum of exponentially decaying sinusoids over time ``t`` (s); modes near Nyquist dropped."""
        keep = freqs < 0.45 * sample_rate
        if not np.any(keep):
            return torch.zeros_like(t)
        f = torch.tensor(freqs[keep], dtype=torch.float64, device=self.device)[:, None]
        a = torch.tensor(amps[keep], dtype=torch.float64, device=self.device)[:, None]
        tau = torch.tensor(t60s[keep] / math.log(1000.0), dtype=torch.float64, device=self.device)[:, None]
        ph = torch.tensor(phases[keep], dtype=torch.float64, device=self.device)[:, None]
        td = t.to(torch.float64)[None, :]
        return (a * torch.exp(-td / tau) * torch.sin(2.0 * math.pi * f * td + ph)).sum(0).to(torch.float32)

    def _burst(self, n: int, decay_ms: float, attack_ms: float, band: tuple[float, float],
               sample_rate: int, gen: torch.Generator) -> torch.Tensor:
        """Band-limited noise with an attack/decay envelope starting at sample 0."""
        t = torch.arange(n, dtype=torch.float32, device=self.device) / sample_rate
        env = torch.exp(-t / (decay_ms / 1000.0))
        if attack_ms > 0:
            env = env * torch.clamp(t / (attack_ms / 1000.0), max=1.0)
        x = self._noise(n, gen) * 0.1
        lo, hi = band
        x = _filter(x, "highpass", lo, 0.707, sample_rate)
        x = _filter(x, "lowpass", hi, 0.707, sample_rate)
        x = _filter(x, "lowpass", hi * 1.2, 0.707, sample_rate)     # 24 dB/oct above the band
        return x * env

    # -- impacts

    def _impact(self, event: Event, sr: int, seed: int, rng: np.random.Generator,
                gen: torch.Generator) -> tuple[np.ndarray, float, str]:
        name = pick_material(event, seed)
        mat = MATERIALS[name]
        intensity = min(1.0, max(0.0, float(event.intensity)))
        f0 = math.exp(rng.uniform(math.log(mat.f0[0]), math.log(mat.f0[1])))
        t60 = mat.t60 * math.exp(rng.normal(0.0, 0.15))
        ratios = np.asarray(mat.ratios) * (1.0 + rng.normal(0.0, 0.012, len(mat.ratios)))
        ratios[0] = 1.0
        tilt = mat.tilt - 0.6 * (intensity - 0.5)       # harder hits are brighter
        amps = ratios ** -tilt * rng.uniform(0.6, 1.0, len(ratios))
        t60s = t60 / ratios ** mat.damping
        freqs = f0 * ratios
        if mat.twin > 0:
            detune = 1.0 + rng.uniform(0.002, 0.006, len(ratios))
            freqs = np.concatenate([freqs, freqs * detune])
            amps = np.concatenate([amps, amps * mat.twin])
            t60s = np.concatenate([t60s, t60s * 0.9])
        phases = rng.uniform(0.0, 2.0 * np.pi, len(freqs))
        pre = int(round(PRE_ROLL_S * sr))
        body_n = int(sr * min(4.0, max(0.12, float(np.max(t60s)) * 0.8)))
        t = torch.arange(body_n, dtype=torch.float32, device=self.device) / sr
        ring = self._modes(t, freqs, amps, t60s, phases, sr)
        ring = ring / torch.clamp(ring.abs().max(), min=1e-9)
        contact_hz = mat.contact_hz * math.exp(rng.normal(0.0, 0.2))
        burst = self._burst(body_n, mat.contact_ms * (0.7 + 0.6 * intensity), 0.0,
                            (contact_hz / 2.5, contact_hz * 2.0), sr, gen)
        burst = burst / torch.clamp(burst.abs().max(), min=1e-9)
        dry = ring + mat.contact_level * burst
        if mat.tick_level > 0:  # the bright contact tick: real hits reach up to the material's bandwidth
            tick = self._burst(body_n, mat.tick_ms * (0.6 + 0.8 * intensity), 0.0,
                               (2000.0, min(mat.bandwidth_hz, 0.45 * sr)), sr, gen)
            dry = dry + mat.tick_level * (0.5 + intensity) * tick / torch.clamp(tick.abs().max(), min=1e-9)
        body = self._room(dry, sr, gen).cpu().numpy().astype(np.float64)
        body = _fade(body, 0, min(body_n // 4, int(0.005 * sr)))
        return np.concatenate([np.zeros(pre), body]), pre / sr, name

    def _room(self, dry: torch.Tensor, sr: int, gen: torch.Generator) -> torch.Tensor:
        """A small room's early reflections and tail (dark, about -20 dB, t60 0.25 s): without them a
        short, well-damped impact (stone, cardboard) is a bare click. The direct sound keeps its time
        and peak, so the transient stays where the snap offset says."""
        n = int(ROOM_T60_S * sr)
        t = torch.arange(n, dtype=torch.float32, device=self.device) / sr
        noise = torch.randn(n, generator=gen, dtype=torch.float32).to(self.device)
        tail = _filter(noise * torch.exp(-6.91 * t / ROOM_T60_S), "lowpass", ROOM_TONE_HZ, 0.707, sr)
        tail[: int(0.004 * sr)] = 0.0  # first reflection after ~4 ms
        ir = ROOM_LEVEL * tail / torch.clamp(tail.abs().max(), min=1e-9)
        ir[0] = 1.0
        return taf.fftconvolve(dry, ir)

    # -- footsteps

    def _contact(self, surf: Surface, n: int, level: float, brightness: float, sr: int,
                 rng: np.random.Generator, gen: torch.Generator) -> torch.Tensor:
        """One heel or toe contact of ``n`` samples starting at sample 0."""
        t = torch.arange(n, dtype=torch.float32, device=self.device) / sr
        freqs = np.array([f for f, _ in surf.body]) * rng.uniform(0.9, 1.1, len(surf.body))
        t60s = np.array([d for _, d in surf.body]) * rng.uniform(0.8, 1.2, len(surf.body))
        amps = 1.0 / np.arange(1, len(surf.body) + 1) ** 0.7
        body = self._modes(t, freqs, amps, t60s, np.zeros(len(freqs)), sr)
        body = body / torch.clamp(body.abs().max(), min=1e-9)
        lo, hi = surf.band
        noise = self._burst(n, surf.decay_ms * rng.uniform(0.8, 1.25), surf.attack_ms,
                            (lo * brightness, hi * brightness), sr, gen)
        out = body + surf.noise_level * noise / torch.clamp(noise.abs().max(), min=1e-9)
        if surf.grains:
            out = out + self._grains(surf, n, sr, rng, gen)
        return out * level

    def _grains(self, surf: Surface, n: int, sr: int, rng: np.random.Generator,
                gen: torch.Generator) -> torch.Tensor:
        """A spray of tiny clicks (gravel, grass blades): impulses convolved with a grain kernel."""
        count = int(surf.grains * rng.uniform(0.7, 1.3))
        spread = surf.grain_spread_ms / 1000.0 * sr
        pos = np.minimum(rng.exponential(spread / 3.0, count), n - 1).astype(np.int64)
        amp = rng.uniform(0.1, 0.5, count) * np.exp(-pos / max(spread, 1.0))
        impulses = np.zeros(n)
        np.add.at(impulses, pos, amp * rng.choice([-1.0, 1.0], count))
        k_n = max(8, int(0.003 * sr))
        kernel = self._burst(k_n, 0.8, 0.0, (surf.band[0] * 1.5, surf.band[1]), sr, gen)
        kernel = kernel / torch.clamp(kernel.abs().max(), min=1e-9)
        spray = taf.fftconvolve(torch.tensor(impulses, dtype=torch.float32, device=self.device), kernel)
        return spray[:n]

    def _footstep(self, event: Event, sr: int, seed: int, rng: np.random.Generator,
                  gen: torch.Generator) -> tuple[np.ndarray, float, str]:
        name = pick_surface(event, seed)
        surf = SURFACES[name]
        pre = int(round(PRE_ROLL_S * sr))
        toe_at = int(rng.uniform(0.04, 0.09) * sr)
        tail = int((0.12 + surf.grain_spread_ms / 1000.0) * sr)
        n = toe_at + tail
        brightness = rng.uniform(0.85, 1.15)
        heel = self._contact(surf, n, 1.0, brightness, sr, rng, gen)
        toe = self._contact(surf, tail, rng.uniform(0.4, 0.7), brightness * 1.2, sr, rng, gen)
        heel[toe_at:] += toe
        body = heel.cpu().numpy().astype(np.float64)
        body = _fade(body, 0, int(0.01 * sr))
        return np.concatenate([np.zeros(pre), body]), pre / sr, name

    # -- spectral noise (whooshes and ambience), numpy

    def _whoosh(self, event: Event, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, float, str]:
        duration = max(MIN_WHOOSH_S, float(event.duration_s))
        n = int(round(duration * sr))
        n_fft = fft_size(sr, 0.02)
        freqs = np.fft.rfftfreq(n_fft, d=1.0 / sr).astype(np.float32)
        profile = event.extra.get("speed_profile")
        lo = 250.0 * math.exp(rng.normal(0.0, 0.15))
        hi = 3500.0 * math.exp(rng.normal(0.0, 0.15))
        width = rng.uniform(0.8, 1.2)                     # band width in octaves at rest
        logf = np.log2(np.maximum(freqs, 20.0))[None, :]
        floor = 0.03 * np.maximum(freqs / 200.0, 1.0) ** -0.5
        floor = (floor * (freqs > 40.0))[None, :]

        def shape(times: np.ndarray) -> np.ndarray:
            s = speed_curve(profile, np.clip(times / duration, 0.0, 1.0)).astype(np.float32)[:, None]
            centre = math.log2(lo) + s * (math.log2(hi) - math.log2(lo))
            bw = width * (1.0 - 0.35 * s)
            band = np.exp(-0.5 * ((logf - centre) / bw) ** 2)
            return (band + floor) * (0.04 + 0.96 * s) ** 1.5

        audio = shaped_noise(n, n_fft, sr, rng, shape)
        audio = _fade(audio, int(0.004 * sr), int(0.01 * sr))
        return audio, 0.0, ""

    # -- ambience

    def _ambience(self, event: Event, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, float, str]:
        duration = float(event.duration_s)
        if not 0.0 < duration <= MAX_AMBIENCE_S:
            raise InputError(f"ambience duration {duration!r} s must be above 0 and at most "
                             f"{MAX_AMBIENCE_S:.0f} s; split longer beds by shot")
        preset = pick_ambience(event)
        n = max(1, int(round(duration * sr)))
        n_fft = fft_size(sr, 0.04)
        freqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
        f = np.maximum(freqs, 1.0)
        if preset == "room":
            corner = 1500.0 * math.exp(rng.normal(0.0, 0.2))
            hum = 160.0 * math.exp(rng.normal(0.0, 0.25))      # ventilation rumble
            base = (f / 100.0) ** -0.5 / (1.0 + (f / corner) ** 4) \
                + 0.6 * np.exp(-0.5 * (np.log2(f / hum) / 0.5) ** 2) + 0.004
            depth, gust_depth, rates = 0.12, 0.0, (0.02, 0.12)
        else:
            corner = 4500.0 * math.exp(rng.normal(0.0, 0.2))
            base = (f / 100.0) ** -0.5 / (1.0 + (f / corner) ** 2) + 0.01
            depth, gust_depth, rates = 0.25, 0.8, (0.04, 0.3)
        base = (base * (freqs > 30.0)).astype(np.float32)
        # slow modulation: a few sinusoids of random rate/phase, functions of absolute time
        mod_rates = rng.uniform(*rates, 3)
        mod_phases = rng.uniform(0.0, 2.0 * np.pi, 3)
        gust_rate, gust_phase = rng.uniform(0.03, 0.12), rng.uniform(0.0, 2.0 * np.pi)
        gust_lo, gust_hi = math.log2(400.0), math.log2(1400.0)
        logf = np.log2(f).astype(np.float32)[None, :]
        peak = float(base.max())

        def shape(times: np.ndarray) -> np.ndarray:
            t = times[:, None]
            wobble = np.sin(2 * math.pi * mod_rates[None, :] * t + mod_phases[None, :]).mean(1)
            mags = base[None, :] * (1.0 + depth * wobble).astype(np.float32)[:, None]
            if gust_depth > 0:
                g = (0.5 + 0.5 * np.sin(2 * math.pi * gust_rate * times + gust_phase)).astype(np.float32)[:, None]
                centre = gust_lo + g * (gust_hi - gust_lo)
                mags = mags + gust_depth * g * np.exp(-0.5 * ((logf - centre) / 0.7) ** 2) * peak
            return mags

        audio = shaped_noise(n, n_fft, sr, rng, shape)
        fade = min(int(AMBIENCE_FADE_S * sr), n // 4)
        audio = _fade(audio, fade, fade)
        return audio, 0.0, "room tone" if preset == "room" else "air"


def shaped_noise(n: int, n_fft: int, sr: int, rng: np.random.Generator,
                 shape: Callable[[np.ndarray], np.ndarray], chunk_frames: int = 1024) -> np.ndarray:
    """``n`` samples of noise whose short-time magnitude is ``shape(frame centre times in s)``.

    Complex Gaussian spectra times the (frames, bins) magnitude, inverse FFT, Hann window,
    overlap-add at 75 % overlap (constant power). Frames are made ``chunk_frames`` at a time
    into one output buffer, so memory stays bounded for long beds and there are no seams.
    """
    hop = n_fft // 4
    window = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    frames = (n + hop - 1) // hop + 3
    buf = np.zeros((frames + 3, hop), dtype=np.float32)
    for c0 in range(0, frames, chunk_frames):
        c1 = min(frames, c0 + chunk_frames)
        centres = ((np.arange(c0, c1, dtype=np.float64) - 3) * hop + n_fft / 2) / sr
        mags = shape(centres)
        draw = rng.standard_normal((c1 - c0, mags.shape[1], 2), dtype=np.float32)
        spec = (draw[..., 0] + 1j * draw[..., 1]) * mags
        seg = (np.fft.irfft(spec, n=n_fft, axis=1).astype(np.float32) * window).reshape(c1 - c0, 4, hop)
        for r in range(4):
            buf[c0 + r:c1 + r] += seg[:, r]
    return buf.reshape(-1)[3 * hop:3 * hop + n]
