"""Room and distance on the clip: the scene's room adds a seeded tail, a small object sounds farther
(quieter, duller), the transient keeps its sample, and --no-room leaves the clip dry."""
from __future__ import annotations

import numpy as np
import pytest

from bridge.event import Event
from bridge.sounding import SoundChain
from models import levels, space
from models.library import find_transient, spectral_features
from models.recorded import PREROLL_S

SR = 48000


@pytest.fixture(scope="module")
def sources():
    from models.kit_backend import KitBackend
    from models.synth import SynthBackend

    return [KitBackend(), SynthBackend()]


def hit(i: int, room: str | None = None, size: float | None = None) -> Event:
    ev = Event(kind="impact", time_s=1.0, duration_s=0.2, confidence=1.0, id=1, intensity=0.6,
               ucs={"cat_id": "WOODImpt", "category": "WOOD", "subcategory": "IMPACT"})
    if room:
        ev.scene = {"indoor": room != "outdoor", "label": room, "room": room}
    if size is not None:
        ev.extra["size"] = size
    return ev


def tail_energy(x: np.ndarray, after_s: float = 0.3) -> float:
    n = int((PREROLL_S + after_s) * SR)
    return float(np.sum(np.square(x[n:], dtype=np.float64)))


def test_rooms_add_their_tail_and_keep_the_transient(sources) -> None:
    got = {}
    for room in ("outdoor", "small", "hall"):
        sound = SoundChain(sources, seed=4).render(hit(1, room=room), SR)
        assert sound.backend == "kit"
        assert find_transient(sound.audio, SR) == round(PREROLL_S * SR)
        assert levels.true_peak_db(sound.audio) <= levels.CLIP_TRUE_PEAK_DBTP
        got[room] = sound
    assert len(got["hall"].audio) > len(got["small"].audio) > len(got["outdoor"].audio)
    assert tail_energy(got["hall"].audio) > tail_energy(got["small"].audio) > tail_energy(got["outdoor"].audio)
    assert "hall room" in got["hall"].description
    again = SoundChain(sources, seed=4).render(hit(1, room="hall"), SR)
    assert np.array_equal(again.audio, got["hall"].audio)


def test_a_smaller_object_sounds_farther(sources) -> None:
    near = SoundChain(sources, seed=4).render(hit(1, size=0.5), SR)
    far = SoundChain(sources, seed=4).render(hit(1, size=0.03), SR)
    assert near.source == far.source
    assert levels.loudness_lufs(far.audio, SR) < levels.loudness_lufs(near.audio, SR) - 6.0
    assert spectral_features(far.audio, SR)[1] < spectral_features(near.audio, SR)[1]
    # zero-phase low-pass: the onset stays; the duller attack reaches a quarter of its peak at most a sample later
    assert 0 <= find_transient(far.audio, SR) - round(PREROLL_S * SR) <= 1


def test_no_room_leaves_the_clip_dry(sources) -> None:
    dry = SoundChain(sources, seed=4, room=False).render(hit(1, room="hall", size=0.03), SR)
    plain = SoundChain(sources, seed=4).render(hit(1), SR)
    assert np.array_equal(dry.audio, plain.audio)
    assert space.distance_ratio(None) == 1.0 and space.room_of(hit(1, room="outdoor")) is None
