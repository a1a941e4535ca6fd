"""Levels an editor can trust: loudness per category and intensity, true peak under 0 dBFS in clips,
stems and mix (read back from the files), click-free ambience loops, and a mix whose memory and disk
follow the content of the timeline rather than its span."""
from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import bridge.errors
from bridge import mixing
from bridge.event import Event
from bridge.pipeline import MAX_TIMELINE_S, SAMPLE_RATE, Engine
from bridge.request import parse_request
from bridge.sounding import SoundChain
from models import levels
from models.recorded import loop_to_length
from videos import Mover, drop, scene

SR = SAMPLE_RATE


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("v") / "drops.mp4"
    scene(path, [Mover(drop(0.2, 0.1, 0.9), seed=1), Mover(drop(0.8, 0.9, 1.7), color=(40, 90, 230), seed=2)],
          seconds=3.0)
    return path


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(device="cpu")


def test_true_peak_sees_peaks_between_samples_and_the_limiter_holds_them() -> None:
    n = np.arange(SR)
    x = np.sin(2 * np.pi * (SR / 4) * n / SR + np.pi / 4).astype(np.float32)[None, :]  # samples at +-0.707
    assert float(np.abs(x).max()) == pytest.approx(math.sqrt(0.5), abs=1e-3)
    assert levels.true_peak_db(x) == pytest.approx(0.0, abs=0.2)
    buf = np.concatenate([x, x]) * np.float32(1.3)
    before = buf.copy()
    after = mixing.limited_true_peak(buf, -1.0)
    assert not np.array_equal(buf, before) and levels.true_peak_db(buf) <= -1.0 + 0.05
    assert after == pytest.approx(levels.true_peak_db(buf), abs=0.01)
    # the peak reported after limiting is the one measured again, for a limited and an untouched buffer
    for louder in (1.3, 0.5):
        other = np.concatenate([x, x]) * np.float32(louder)
        assert mixing.limited_true_peak(other, -1.0) == pytest.approx(levels.true_peak_db(other), abs=0.01)


def test_audio_is_measured_in_chunks_as_pyloudnorm_measures_it_whole() -> None:
    import pyloudnorm

    rng = np.random.default_rng(0)
    n = 70 * SR
    t = np.arange(n) / SR
    x = np.stack([0.1 * rng.standard_normal(n) * (1 + 0.8 * np.sin(2 * np.pi * 0.1 * t)),
                  0.05 * np.sin(2 * np.pi * 440 * t) * (t % 7 < 3)])
    x[:, 20 * SR:25 * SR] = 0.0
    whole = pyloudnorm.Meter(SR).integrated_loudness(x.T)
    assert levels.loudness_lufs(x.astype(np.float32), SR) == pytest.approx(whole, abs=0.01)
    assert levels.loudness_lufs(np.zeros((2, n), dtype=np.float32), SR) == levels.SILENCE_DB
    # a clip's length, mono and stereo; shorter than a block, measured padded to one as pyloudnorm needs
    for length in (int(0.1 * SR), int(1.3 * SR), 20 * SR):
        part = x[:, 30 * SR:30 * SR + length]
        padded = np.pad(part, ((0, 0), (0, max(0, int(0.4 * SR) + 1 - length))))
        assert levels.loudness_lufs(part[0], SR) == pytest.approx(
            pyloudnorm.Meter(SR).integrated_loudness(padded[0]), abs=0.01)
        assert levels.loudness_lufs(part, SR) == pytest.approx(
            pyloudnorm.Meter(SR).integrated_loudness(padded.T), abs=0.01)


def test_loudness_follows_the_category_reference_and_the_intensity() -> None:
    from models.synth import SynthBackend

    chain = SoundChain([SynthBackend()], seed=0)
    got = {}
    for i, intensity in enumerate((0.2, 0.5, 0.8)):
        ev = Event(kind="whoosh", time_s=1.0 + i, duration_s=0.6, confidence=1.0, id=i + 1, intensity=intensity)
        sound = chain.render(ev, SR)
        got[intensity] = levels.loudness_lufs(sound.audio, SR)
        target = levels.target_lufs("whoosh", ev.ucs["category"], intensity, 0, ev.id, ev.time_s)
        assert got[intensity] == pytest.approx(target, abs=0.3)
        assert levels.true_peak_db(sound.audio) <= levels.CLIP_TRUE_PEAK_DBTP
    assert got[0.2] < got[0.5] < got[0.8]


def test_ambience_loop_has_no_click_at_the_join() -> None:
    t = np.arange(int(0.73 * SR)) / SR
    bed = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * 37 * t)).astype(np.float32)
    out = loop_to_length(bed, 5 * SR, int(0.2 * SR))
    assert len(out) == 5 * SR
    step = np.abs(np.diff(out)).max()
    assert step <= 1.2 * np.abs(np.diff(bed)).max()   # no jump larger than the bed's own steepest slope


def test_stems_and_mix_have_a_finite_loudness_and_true_peak_under_0_dbfs(video: Path, engine: Engine,
                                                                           tmp_path: Path) -> None:
    req = parse_request({"version": 1, "items": [{"path": str(video)}], "output_dir": str(tmp_path / "job"),
                         "options": {"seed": 2, "music_suppression": 0.0}})
    res = engine.run(req)
    written = [res.output_dir / "mix.wav", *sorted((res.output_dir / "stems").glob("*.wav"))]
    assert len(written) >= 2
    reported = {r["file"]: r for r in res.result["loudness"]["mix"]}
    reported.update({r["file"]: r for rows in res.result["loudness"]["stems"].values() for r in rows})
    for path in written:
        audio, sr = sf.read(str(path), always_2d=True, dtype="float32")
        lufs = levels.loudness_lufs(audio.T, sr)
        peak = levels.true_peak_db(audio.T)
        assert math.isfinite(lufs) and lufs > levels.SILENCE_DB, path
        assert peak < 0.0, path
        rel = str(path.relative_to(res.output_dir))
        assert reported[rel]["lufs"] == pytest.approx(lufs, abs=0.1)
        assert reported[rel]["true_peak_dbtp"] == pytest.approx(peak, abs=0.1)


def test_items_hours_apart_cost_memory_and_disk_for_their_content(video: Path, engine: Engine,
                                                                   tmp_path: Path) -> None:
    """Two 2 s items 10 h apart: the old single buffer was 2 x 36,000 s x 48 kHz x 4 bytes (13.8 GB)."""
    req = parse_request({"version": 1, "fps": 30,
                         "items": [{"path": str(video), "source_in_s": 0.5, "source_out_s": 2.5, "record_in_s": 0.0},
                                   {"path": str(video), "source_in_s": 0.5, "source_out_s": 2.5,
                                    "record_in_s": 36000.0}],
                         "options": {"kinds": ["impact"]}, "output_dir": str(tmp_path / "far")})
    tracemalloc.start()
    try:
        res = engine.run(req)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 300e6, f"{peak / 1e6:.0f} MB"
    out = res.output_dir
    size = sum(p.stat().st_size for p in out.rglob("*.wav"))
    assert size < 20e6
    mixes = [sf.info(str(out / name)) for name in ("mix.wav", "mix_2.wav")]
    assert [m.frames for m in mixes] == [2 * SR, 2 * SR]
    from wavinfo import WavInfoReader

    assert WavInfoReader(str(out / "mix_2.wav")).bext.time_reference == 36000 * SR
    assert res.result["mixes"] == [str(out / "mix.wav"), str(out / "mix_2.wav")]
    doc = json.loads((out / "result.json").read_text())
    assert [m["file"] for m in doc["loudness"]["mix"]] == ["mix.wav", "mix_2.wav"]


def test_an_absurd_timeline_span_is_refused_with_the_limit(video: Path, engine: Engine, tmp_path: Path) -> None:
    far = MAX_TIMELINE_S + 3600.0
    req = parse_request({"version": 1, "fps": 30,
                         "items": [{"path": str(video), "source_in_s": 0.5, "source_out_s": 1.5, "record_in_s": 0.0},
                                   {"path": str(video), "source_in_s": 0.5, "source_out_s": 1.5, "record_in_s": far}],
                         "options": {"kinds": ["impact"]}, "output_dir": str(tmp_path / "absurd")})
    with pytest.raises(bridge.errors.InputError, match="at most 48 h"):
        engine.run(req)
    assert not (tmp_path / "absurd").exists()


def test_true_peak_oversamples_only_near_loud_parts_with_the_same_value() -> None:
    from scipy.signal import resample_poly

    rng = np.random.default_rng(3)
    for n in (300, 5000, 60000, 200000):  # the largest has loud runs far apart
        sparse = np.zeros((2, n), np.float32)
        sparse[:, rng.integers(0, n, size=12)] = rng.choice([-1.0, 1.0], size=12) * rng.uniform(0.2, 1.0, size=12)
        dense = rng.normal(scale=0.2, size=(2, n)).astype(np.float32)
        for x in (sparse, dense, sparse + 0.01 * dense):
            up = resample_poly(x, levels.OVERSAMPLE, 1, axis=1)
            whole = 20 * math.log10(max(float(np.abs(x).max()), float(np.abs(up).max())))
            assert levels.true_peak_db(x) == pytest.approx(whole, abs=1e-4)
            # block by block (a long stem): the same value across block edges
            assert levels.true_peak_db(x, block=997) == pytest.approx(whole, abs=1e-4)
