"""The "library" backend: clip choice per event, transient alignment at the output rate,
no immediate repeats, determinism, ambience looping, the fallback to the next source."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.errors import BackendError
from bridge.event import Event
from models.backends import backend_class
from models.library import LibraryIndex
from models.library_backend import PREROLL_S, LibraryBackend, loop_to_length, percentile_ranks
from models.sound import NoMatch

SFX = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "sfx"
OUT_SR = 48000


def hit(sr: int, at_s: float, seconds: float = 1.0, tone_hz: float = 0.0, level: float = 0.7, seed: int = 0,
        floor: float = 0.002, channels: int = 1) -> np.ndarray:
    """A low noise floor, then a hit whose first sample is its loudest, starting at ``at_s``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = floor * rng.standard_normal(n)
    start = int(round(at_s * sr))
    t = np.arange(n - start) / sr
    body = np.sin(2 * np.pi * tone_hz * t + np.pi / 2) if tone_hz else rng.uniform(-0.6, 0.6, n - start)
    body[0] = 1.0
    x[start:] += level * body * np.exp(-t / 0.04)
    x = x.astype(np.float32)
    return np.tile(x[:, None], (1, channels)) if channels > 1 else x


def onset(audio: np.ndarray) -> int:
    """First sample at half the clip's peak: where the test says the transient is."""
    return int(np.flatnonzero(np.abs(audio) >= 0.5 * np.abs(audio).max())[0])


def build(tmp_path: Path, files: dict[str, tuple[np.ndarray, int]]) -> tuple[LibraryIndex, Path]:
    root = tmp_path / "lib"
    root.mkdir(exist_ok=True)
    for name, (audio, sr) in files.items():
        sf.write(str(root / name), audio, sr, subtype="PCM_24")
    index = LibraryIndex(tmp_path / "lib.sqlite")
    return index, root


def event(kind: str, t: float, i: int, intensity: float = 0.6, duration: float = 0.2) -> Event:
    return Event(kind=kind, time_s=t, duration_s=duration, confidence=0.9, intensity=intensity, id=i)


@pytest.fixture()
def steps(tmp_path: Path):
    files = {f"FEETHmn_Step {k}_ABC_Lib.wav": (hit(44100, 0.3 + 0.05 * k, seed=k), 44100) for k in range(3)}
    files["METLImpt_Pipe hit_ABC_Lib.wav"] = (hit(44100, 0.2, tone_hz=3000, seed=9), 44100)
    files["WOODImpt_Plank hit_ABC_Lib.wav"] = (hit(44100, 0.2, tone_hz=250, seed=10, level=0.3), 44100)
    index, root = build(tmp_path, files)
    yield index, root
    index.close()


def test_registry_finds_the_library_backend() -> None:
    assert backend_class("library") is LibraryBackend


@pytest.mark.parametrize("sr,channels,at_s", [(44100, 1, 0.7), (96000, 1, 0.41237), (48000, 6, 0.123),
                                               (22050, 2, 0.005)])
def test_transient_lands_on_the_snap_offset_within_1ms(tmp_path: Path, sr: int, channels: int, at_s: float) -> None:
    index, root = build(tmp_path, {"METLImpt_Click_ABC_Lib.wav": (hit(sr, at_s, channels=channels), sr)})
    backend = LibraryBackend(library=[str(root)], index=index)
    sound = backend.render(event("impact", 2.0, 1), OUT_SR, seed=0)
    assert sound.backend == "library" and sound.source == str(root / "METLImpt_Click_ABC_Lib.wav")
    assert sound.sample_rate == OUT_SR and sound.audio.dtype == np.float32 and sound.audio.ndim == 1
    assert sound.snap_offset_s == pytest.approx(PREROLL_S)
    assert abs(onset(sound.audio) / OUT_SR - sound.snap_offset_s) <= 0.001
    # the hit is cut short after ~1 s of source, faded to silence at the tail
    assert len(sound.audio) <= int((PREROLL_S + 1.6) * OUT_SR)
    assert abs(sound.audio[-1]) < 1e-3


def test_picks_the_kind_never_the_same_file_twice_in_a_row_and_is_deterministic(steps) -> None:
    index, root = steps
    events = [event("footstep", 0.5 * k, k, intensity=0.5) for k in range(20)]

    def sources(seed: int) -> list[str]:
        backend = LibraryBackend(library=[str(root)], index=index)
        return [backend.render(e, OUT_SR, seed).source for e in events]

    first = sources(3)
    assert all("FEETHmn_Step" in s for s in first)
    assert all(a != b for a, b in zip(first, first[1:]))
    assert len(set(first)) == 3
    assert sources(3) == first
    again = LibraryBackend(library=[str(root)], index=index)
    a = again.render(events[0], OUT_SR, 3)
    b = again.render(events[0], OUT_SR, 3)
    assert a.source == b.source and np.array_equal(a.audio, b.audio)


def test_stronger_events_get_louder_brighter_clips(tmp_path: Path) -> None:
    files = {f"METLImpt_Hit {k}_ABC_Lib.wav":
             (hit(44100, 0.1, tone_hz=200 * 2 ** k, level=0.1 + 0.15 * k, seed=k), 44100)
             for k in range(6)}
    index, root = build(tmp_path, files)
    backend = LibraryBackend(library=[str(root)], index=index)
    bright = {f.path: f.brightness for f in index.files("impact")}
    soft = [bright[backend.render(event("impact", k, k, intensity=0.0), OUT_SR, 0).source] for k in range(10)]
    hard = [bright[backend.render(event("impact", 100 + k, 100 + k, intensity=1.0), OUT_SR, 0).source]
            for k in range(10)]
    assert np.mean(hard) > np.mean(soft)
    index.close()


def test_query_steers_the_choice(steps) -> None:
    index, root = steps
    backend = LibraryBackend(library=[str(root)], query="pipe metal", index=index)
    sound = backend.render(event("impact", 1.0, 1), OUT_SR, 0)
    assert Path(sound.source).name == "METLImpt_Pipe hit_ABC_Lib.wav"
    assert "query 'pipe metal' matched" in sound.description


def test_ambience_loops_to_the_event_duration(tmp_path: Path) -> None:
    tone = (0.2 * np.random.default_rng(1).standard_normal(44100)).astype(np.float32)  # 1 s of room noise
    index, root = build(tmp_path, {"AMBRoom_Office_ABC_Lib.wav": (tone, 44100)})
    backend = LibraryBackend(library=[str(root)], index=index)
    sound = backend.render(event("ambience", 0.0, 1, intensity=0.4, duration=4.5), OUT_SR, 0)
    assert sound.backend == "library" and sound.snap_offset_s == 0.0
    assert len(sound.audio) == int(4.5 * OUT_SR)
    blocks = sound.audio[int(0.5 * OUT_SR): int(4.0 * OUT_SR)].reshape(-1, OUT_SR // 10)
    rms = np.sqrt((blocks ** 2).mean(axis=1))
    assert rms.min() > 0.5 * np.median(rms)  # no gaps where the loop joins


def test_loop_and_rank_helpers() -> None:
    y = np.ones(1000, dtype=np.float32)
    out = loop_to_length(y, 3500, 200)
    assert len(out) == 3500 and out.min() > 0.7  # equal-power joins of a constant stay near 1
    assert list(percentile_ranks(np.array([3.0, 1.0, 2.0]))) == [1.0, 0.0, 0.5]


def test_falls_back_to_the_next_source_when_nothing_fits(steps) -> None:
    from bridge.sounding import SoundChain
    from models.synth import SynthBackend

    index, root = steps
    backend = LibraryBackend(library=[str(root)], index=index)
    with pytest.raises(NoMatch, match="library has no recording in UCS SWOOSHES"):
        backend.render(event("whoosh", 1.0, 1, duration=0.5), OUT_SR, 0)
    chain = SoundChain([backend, SynthBackend()], seed=0)
    sound = chain.render(event("whoosh", 1.0, 1, duration=0.5), OUT_SR)
    assert sound.backend == "synth" and sound.source is None
    assert sound.fallback and sound.fallback.startswith("library has no recording in UCS SWOOSHES")
    assert sound.audio.ndim == 1 and np.abs(sound.audio).max() > 0
    step = chain.render(event("footstep", 2.0, 2), OUT_SR)
    assert step.backend == "library" and step.fallback is None


def test_empty_library_says_what_to_do(tmp_path: Path) -> None:
    index = LibraryIndex(tmp_path / "empty.sqlite")
    backend = LibraryBackend(index=index)
    with pytest.raises(NoMatch, match="foley library add"):
        backend.render(event("impact", 1.0, 1), OUT_SR, 0)
    with pytest.raises(BackendError, match="does not exist"):
        LibraryBackend(library=[str(tmp_path / "missing")], index=index)


def test_folders_of_a_request_stay_out_of_the_users_index_unless_asked(steps, tmp_path: Path) -> None:
    _, root = steps
    index = LibraryIndex(tmp_path / "user.sqlite")
    backend = LibraryBackend(library=[str(root)], add_to_library=False, index=index)
    assert backend.render(event("footstep", 1.0, 1), OUT_SR, 0).backend == "library"
    assert index.list_roots() == []
    LibraryBackend(library=[str(root)], add_to_library=True, index=index)
    assert [r["path"] for r in index.list_roots()] == [str(root.resolve())]


def test_backend_uses_the_default_index_from_env(steps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, root = steps
    monkeypatch.setenv("FOLEY_BRIDGE_DATA", str(tmp_path / "data"))
    backend = LibraryBackend(library=[str(root)])
    assert backend.index.db_path == tmp_path / "data" / "library.sqlite"
    assert backend.render(event("footstep", 1.0, 1), OUT_SR, 0).backend == "library"
    # a second backend finds the folder already indexed
    assert LibraryBackend().roots == [str(root.resolve())]


@pytest.mark.skipif(not SFX.is_dir(), reason="shared sound effects not present")
def test_real_sound_effects_per_event(tmp_path: Path) -> None:
    index = LibraryIndex(tmp_path / "lib.sqlite")
    backend = LibraryBackend(library=[str(SFX)], index=index)
    kinds = ["footstep", "footstep", "impact", "footstep", "whoosh", "impact", "footstep"]
    sounds = [backend.render(event(k, 0.4 * i, i, intensity=0.7), OUT_SR, 0) for i, k in enumerate(kinds)]
    for kind, sound in zip(kinds, sounds):
        assert sound.backend == "library" and Path(sound.source).parent == SFX.resolve()
        if kind != "whoosh":  # a whoosh's snap is the motion's onset, its peak at the fastest moment
            assert sound.snap_offset_s == pytest.approx(PREROLL_S)
    assert "whoosh" in Path(sounds[4].source).name
    foot = [s.source for k, s in zip(kinds, sounds) if k == "footstep"]
    assert all(a != b for a, b in zip(foot, foot[1:]))
    assert all(index.get(s)["fits"]["footstep"] >= 0.5 for s in foot)
    index.close()
