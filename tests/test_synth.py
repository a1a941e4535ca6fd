"""Procedural synth backend: determinism, levels, snap points, materials, whoosh and ambience shape."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bridge.errors import InputError
from bridge.event import Event
from models.backends import backend_class
from models.synth import MATERIALS, SURFACES, SynthBackend, pick_material, target_peak_db

SR = 48000


@pytest.fixture(scope="module")
def synth() -> SynthBackend:
    return SynthBackend(device="cpu")


def _event(kind: str, **kw: object) -> Event:
    base: dict[str, object] = {"time_s": 2.5, "duration_s": 0.6, "confidence": 0.9, "x": 0.4, "y": 0.3,
                               "intensity": 0.7, "id": 3}
    base.update(kw)
    return Event(kind=kind, **base)  # type: ignore[arg-type]


EVENTS = {
    "impact": lambda **kw: _event("impact", **kw),
    "footstep": lambda **kw: _event("footstep", **{"y": 0.9, **kw}),
    "whoosh": lambda **kw: _event("whoosh", **{"duration_s": 0.7, **kw}),
    "ambience": lambda **kw: _event("ambience", **{"time_s": 0.0, "duration_s": 3.0, **kw}),
}


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _decay_time(x: np.ndarray, below_db: float = 40.0) -> float:
    """Seconds from the peak until the 5 ms RMS envelope stays below peak RMS - ``below_db``."""
    win = int(0.005 * SR)
    frames = x[: x.size // win * win].reshape(-1, win)
    env = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    top = int(np.argmax(env))
    above = np.nonzero(env > env[top] * 10 ** (-below_db / 20))[0]
    return (above[-1] - top) * win / SR


def _power_centroid(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    return float((spec * freqs).sum() / spec.sum())


def test_registry_gives_this_backend() -> None:
    assert backend_class("synth") is SynthBackend


@pytest.mark.parametrize("kind", list(EVENTS))
def test_same_seed_same_samples_other_seed_differs(synth: SynthBackend, kind: str) -> None:
    a = synth.render(EVENTS[kind](), SR, seed=7)
    b = synth.render(EVENTS[kind](), SR, seed=7)
    c = synth.render(EVENTS[kind](), SR, seed=8)
    other = synth.render(EVENTS[kind](id=4, time_s=3.1), SR, seed=7)
    assert np.array_equal(a.audio, b.audio) and a.snap_offset_s == b.snap_offset_s
    assert a.audio.size != c.audio.size or not np.allclose(a.audio, c.audio)
    assert a.audio.size != other.audio.size or not np.allclose(a.audio, other.audio)


@pytest.mark.parametrize("kind", list(EVENTS))
def test_finite_never_clips_and_level_follows_intensity(synth: SynthBackend, kind: str) -> None:
    peaks = []
    for intensity in (0.0, 0.5, 1.0):
        snd = synth.render(EVENTS[kind](intensity=intensity), SR, seed=1)
        assert snd.audio.dtype == np.float32 and snd.audio.ndim == 1 and snd.sample_rate == SR
        assert np.all(np.isfinite(snd.audio))
        assert snd.backend == "synth" and snd.description.startswith(kind)
        assert f"at {'0.000' if kind == 'ambience' else '2.500'} s" in snd.description
        assert f"intensity {intensity:.2f}" in snd.description
        peak = float(np.max(np.abs(snd.audio)))
        assert peak < 1.0
        assert 20 * math.log10(peak) == pytest.approx(target_peak_db(kind, intensity), abs=0.01)
        peaks.append(peak)
    assert peaks[0] < peaks[1] < peaks[2]


def test_ambience_sits_below_spot_effects() -> None:
    assert target_peak_db("ambience", 1.0) < target_peak_db("impact", 1.0)
    assert target_peak_db("impact", 1.0) == pytest.approx(-3.0)
    assert target_peak_db("impact", 0.0) == pytest.approx(-30.0)


@pytest.mark.parametrize("kind, extra", [("impact", {"material": m}) for m in MATERIALS]
                         + [("footstep", {"surface": s}) for s in SURFACES])
def test_attack_sits_at_the_snap_offset(synth: SynthBackend, kind: str, extra: dict) -> None:
    snd = synth.render(EVENTS[kind](extra=extra), SR, seed=2)
    snap = round(snd.snap_offset_s * SR)
    assert 0 < snap < int(0.02 * SR)
    x = snd.audio.astype(np.float64)
    assert not np.any(x[:snap])                              # silence before the snap point
    first_ms = x[snap:snap + SR // 1000]
    assert np.max(np.abs(first_ms)) > 0.1 * np.max(np.abs(x))   # the attack is within 1 ms
    assert abs(x[snap]) > 0.0                                    # sample-exact: the attack starts there
    assert f"({extra.get('material') or extra.get('surface')})" in snd.description


@pytest.mark.parametrize("surface", ["concrete", "wood", "gravel"])
def test_footstep_has_heel_and_toe(synth: SynthBackend, surface: str) -> None:
    snd = synth.render(EVENTS["footstep"](extra={"surface": surface}), SR, seed=4)
    x = np.abs(snd.audio[round(snd.snap_offset_s * SR):].astype(np.float64))
    win = int(0.002 * SR)
    env = x[: x.size // win * win].reshape(-1, win).max(axis=1)
    assert int(np.argmax(env)) * win < 0.012 * SR                # the heel is the loudest, at the start
    dip = env[int(0.012 * SR) // win:int(0.035 * SR) // win].min()
    later = env[int(0.035 * SR) // win:int(0.1 * SR) // win]
    assert later.max() > 2 * dip                                 # a second (toe) contact after the heel


def test_whoosh_follows_the_speed_profile(synth: SynthBackend) -> None:
    middle = synth.render(_event("whoosh", duration_s=1.0, extra={"speed_profile": [0, 0, 0, 1, 1, 0, 0, 0]}),
                          SR, seed=5)
    assert middle.snap_offset_s == 0.0 and middle.audio.size == SR
    seg = middle.audio.reshape(10, -1)
    assert _rms(seg[4]) > 10 * _rms(seg[0]) and _rms(seg[4]) > 10 * _rms(seg[9])
    rising = synth.render(_event("whoosh", duration_s=1.0, extra={"speed_profile": [0.3, 1.0]}), SR, seed=5)
    early, late = rising.audio[: SR // 4], rising.audio[-SR // 2:-SR // 4]
    assert _rms(late) > 2 * _rms(early)
    assert _power_centroid(late) > 1.5 * _power_centroid(early)   # faster -> brighter
    default = synth.render(_event("whoosh", duration_s=1.0), SR, seed=5).audio.reshape(10, -1)
    levels = [_rms(s) for s in default]
    assert int(np.argmax(levels)) in (3, 4, 5) and levels[4] > 5 * levels[0] and levels[4] > 5 * levels[9]
    with pytest.raises(InputError, match="speed profile"):
        synth.render(_event("whoosh", extra={"speed_profile": [0.1, float("nan")]}), SR, seed=5)


def test_long_ambience_is_finite_steady_and_faded(synth: SynthBackend) -> None:
    snd = synth.render(_event("ambience", time_s=0.0, duration_s=120.0, intensity=0.2), SR, seed=6)
    x = snd.audio
    assert x.dtype == np.float32 and x.size == 120 * SR and snd.snap_offset_s == 0.0
    assert np.all(np.isfinite(x))
    assert "room tone" in snd.description
    blocks = np.sqrt(np.mean(x[SR:-SR].astype(np.float64).reshape(-1, 2 * SR) ** 2, axis=1))
    assert blocks.max() / blocks.min() < 10 ** (3 / 20)            # no level jumps between blocks
    assert abs(x[0]) < 1e-6 and abs(x[-1]) < 1e-6
    assert _rms(x[:100]) < 0.2 * _rms(x[SR:2 * SR])               # fade in


def test_ambience_presets(synth: SynthBackend) -> None:
    room = synth.render(_event("ambience", duration_s=4.0, intensity=0.3), SR, seed=1)
    air = synth.render(_event("ambience", duration_s=4.0, intensity=0.8), SR, seed=1)
    assert "room tone" in room.description and "(air)" in air.description
    assert _power_centroid(air.audio) > _power_centroid(room.audio)
    with pytest.raises(InputError, match="ambience duration 0"):
        synth.render(_event("ambience", duration_s=0.0), SR, seed=1)


def test_materials_differ(synth: SynthBackend) -> None:
    def render(material: str, i: int) -> np.ndarray:
        return synth.render(_event("impact", id=i, time_s=1.0 + i, extra={"material": material}), SR, seed=0).audio

    metal = [_decay_time(render("metal", i)) for i in range(3)]
    cardboard = [_decay_time(render("cardboard", i)) for i in range(3)]
    wood = [_decay_time(render("wood", i)) for i in range(3)]
    assert min(metal) > 4 * max(cardboard)
    assert min(metal) > 2 * max(wood)
    assert _power_centroid(render("glass", 0)) > 2 * _power_centroid(render("cardboard", 0))
    # repeats of one material are varied, not machine-gunned
    a, b = render("wood", 0), render("wood", 1)
    assert a.size != b.size or not np.allclose(a, b)


def test_material_rule_is_by_screen_cell(synth: SynthBackend) -> None:
    same_cell = {pick_material(_event("impact", x=0.1 + 0.05 * i, y=0.1, id=i), 3) for i in range(5)}
    assert len(same_cell) == 1
    floor = {pick_material(_event("impact", x=x, y=0.9), s) for x in (0.1, 0.5, 0.9) for s in range(10)}
    assert floor <= {"wood", "stone", "cardboard"}
    picked = {pick_material(_event("impact", x=x, y=y), s)
              for x in (0.1, 0.5, 0.9) for y in (0.1, 0.5) for s in range(10)}
    assert len(picked) >= 4
    with pytest.raises(InputError, match="'jelly'"):
        synth.render(_event("impact", extra={"material": "jelly"}), SR, seed=0)
    with pytest.raises(InputError, match="'sand'"):
        synth.render(_event("footstep", extra={"surface": "sand"}), SR, seed=0)


def test_bad_events_are_refused(synth: SynthBackend) -> None:
    with pytest.raises(InputError, match="'explosion'"):
        synth.render(_event("explosion"), SR, seed=0)
    with pytest.raises(InputError, match="intensity nan"):
        synth.render(_event("impact", intensity=float("nan")), SR, seed=0)
    with pytest.raises(InputError, match="sample rate 100"):
        synth.render(_event("impact"), 100, seed=0)
    with pytest.raises(InputError, match="device 'tpu'"):
        SynthBackend(device="tpu")


def test_other_sample_rates(synth: SynthBackend) -> None:
    for rate in (22050, 44100, 96000):
        for kind in EVENTS:
            snd = synth.render(EVENTS[kind](), rate, seed=0)
            assert snd.sample_rate == rate and np.all(np.isfinite(snd.audio))
            assert np.max(np.abs(snd.audio)) < 1.0


def _above_db(x: np.ndarray, sr: int, hz: float) -> float:
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / sr)
    return float(10 * np.log10(power[freqs >= hz].sum() / power.sum() + 1e-20))


def test_impacts_reach_their_materials_bandwidth(synth: SynthBackend) -> None:
    """A hit's contact reaches up to its material's bandwidth (metal and glass far above 7 kHz, as
    recorded hits do), cardboard stays dull."""
    above = {}
    for m in ("metal", "glass", "stone", "wood", "cardboard"):
        levels = [_above_db(synth.render(Event(kind="impact", time_s=1.0 + i, duration_s=0.1, confidence=1.0,
                                               id=i + 1, intensity=0.7, extra={"material": m}), 48000, 0).audio,
                            48000, 7000.0) for i in range(4)]
        above[m] = float(np.mean(levels))
    assert above["metal"] > -62 and above["glass"] > -45 and above["stone"] > -50
    assert above["cardboard"] < min(above["metal"], above["glass"], above["stone"])
